"""Every channel end to end: the simulator's files for every file connector, its mail in a
real Dovecot read by the IMAP connector, and its telephony/form events POSTed to a running
`kanalpuls serve`, all through the real broker and worker into ClickHouse.

ClickHouse must then hold exactly the ground truth per channel and direction and per source
system; every malformed record is a dead letter of its source; and no CPR number, name,
e-mail address, phone number or IP address the simulator planted is in any ClickHouse
table or any topic of the run.
"""

from __future__ import annotations

import asyncio
import imaplib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path

from pydantic import SecretStr

from connectors.imap_mailbox import ImapMailboxConfig
from connectors.imap_session import encode_folder
from pipeline.ground.network import port_open
from pipeline.ground.settings import HttpSettings, Settings
from pipeline.ingest import load_run_file, run_ingest, run_many
from pipeline.simulated.imap import connector_config
from pipeline.simulated.municipality import simulate
from pipeline.simulated.truth import GroundTruth, expected_by_channel, expected_event_count
from pipeline.store.client import run_query
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment, stop_process, worker_process
from tests.conftest import ImapService
from tests.personal_data import planted_in
from tests.test_end_to_end import list_topics, wait_for
from tests.topics import read_topic

START = date(2026, 3, 23)  # Monday; the week of the spring DST change
TOKEN = "all-channels-token"
HTTP_BATCH = 50


def deliver_simulated_mail(imap: ImapService, out: Path, truth: GroundTruth) -> ImapMailboxConfig:
    """APPEND each simulated mailbox's .eml files, in order, to a Dovecot account of its own,
    and return the connector config that reads them (one login per shared mailbox)."""
    simulated = connector_config()
    mailboxes = []
    for mailbox in simulated["mailboxes"]:  # type: ignore[union-attr]
        username, password = imap.new_account()
        with imaplib.IMAP4(imap.host, imap.port) as conn:
            conn.login(username, password)
            for folder in [*mailbox["folders"], mailbox["sent_folder"]]:
                if folder != "INBOX":
                    conn.create(encode_folder(folder))
                for eml in sorted((out / "imap" / mailbox["address"] / folder).glob("*.eml")):
                    typ, data = conn.append(encode_folder(folder), None, None, eml.read_bytes())
                    assert typ == "OK", (eml, data)
        mailboxes.append({**mailbox, "username": username, "password": password})
    assert {m["address"] for m in mailboxes} == {m.address for m in truth.imap_mailboxes}
    return ImapMailboxConfig.model_validate({
        "system": simulated["system"], "host": imap.host, "port": imap.port, "tls": "none",
        "username": imap.user, "password": imap.password, "mailboxes": mailboxes, "timeout_seconds": 10,
    })


def post(url: str, body: bytes, token: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def post_simulated_events(settings: Settings, out: Path, log: Path) -> tuple[int, list[int]]:
    """Run `kanalpuls serve` and POST the valid events in NDJSON batches, then each invalid
    one alone, as a telephony or form system would. Returns (accepted, statuses of the invalid)."""
    valid = (out / "http_events.ndjson").read_bytes().splitlines()
    invalid = (out / "http_events_invalid.ndjson").read_bytes().splitlines()
    url = f"http://{settings.http.host}:{settings.http.port}/v1/events"
    with open(log, "wb") as output:
        server = subprocess.Popen(kanalpuls_command("serve"), env=settings_environment(settings),
                                  stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: port_open(settings.http.host, settings.http.port), 60, "kanalpuls serve")
        assert post(url, b"\n".join(valid[:HTTP_BATCH]), token=None)[0] == 401
        # All or nothing: a batch with one invalid event is refused whole and names the line.
        status, problem = post(url, b"\n".join([*valid[:3], invalid[0]]), TOKEN)
        assert status == 422 and [entry["line"] for entry in problem["invalid"]] == [4]  # type: ignore[index]
        accepted = 0
        for start in range(0, len(valid), HTTP_BATCH):
            status, answer = post(url, b"\n".join(valid[start:start + HTTP_BATCH]), TOKEN)
            assert status == 202, answer
            accepted += int(answer["accepted"])  # type: ignore[arg-type]
        return accepted, [post(url, line, TOKEN)[0] for line in invalid]
    finally:
        stop_process(server)


def table_text(settings: Settings) -> str:
    """Every row of every table in the run's database, as text."""
    db = settings.store.database
    # Views hold no data of their own (materialized views write into tables listed here).
    names = [row[0] for row in run_query(settings, f"SELECT name FROM system.tables WHERE database = '{db}' "
                                                   "AND engine NOT IN ('View', 'MaterializedView')").rows]
    assert {"inquiry_events", "inquiry_minute"} <= set(names)
    return "\n".join("\t".join(map(str, row)) for name in names
                     for row in run_query(settings, f"SELECT * FROM {db}.`{name}`").rows)


def test_every_channel_reaches_clickhouse_equal_to_ground_truth_and_no_personal_data_does(
    topics: Settings, imap_server: ImapService, tmp_path: Path
) -> None:
    settings = topics.model_copy(update={"http": HttpSettings(port=free_port(), token=SecretStr(TOKEN))})
    out = tmp_path / "simulated"
    truth = simulate(out, days=2, seed=3, start=START)
    for path in out.rglob("*"):  # settled: a file's unterminated last line counts as complete
        os.utime(path, (time.time() - 60, time.time() - 60))

    with worker_process(settings, tmp_path / "worker.log"):
        file_stats = asyncio.run(run_many(settings, load_run_file(out / "connectors.yaml"), asyncio.Event()))
        mail = deliver_simulated_mail(imap_server, out, truth)
        imap_stats = asyncio.run(run_ingest(settings, "imap_mailbox", [], config=mail))
        accepted, refused = post_simulated_events(settings, out, tmp_path / "serve.log")
        expected_total = expected_event_count(truth)
        db = settings.store.database
        wait_for(lambda: int(run_query(settings, f"SELECT count() FROM {db}.inquiry_events FINAL").scalar())
                 >= expected_total, 90, f"{expected_total} events in ClickHouse")
        time.sleep(1.0)  # anything beyond the truth would arrive now
        by_channel = {(channel, direction): count for channel, direction, count in run_query(
            settings, f"SELECT channel, direction, count() FROM {db}.inquiry_events FINAL "
                      "GROUP BY channel, direction").rows}
        by_system = dict(run_query(settings, f"SELECT source_system, count() FROM {db}.inquiry_events FINAL "
                                             "GROUP BY source_system").rows)
        stored = table_text(settings)

    assert by_channel == expected_by_channel(truth)
    assert set(by_channel) >= {("phone", "inbound"), ("walk_in", "inbound"), ("email", "inbound"),
                               ("email", "outbound"), ("web", "inbound"), ("self_service", "inbound"),
                               ("letter", "inbound"), ("digital_post", "outbound"), ("chat", "inbound")}
    source_of = {system: name for name, source in truth.sources.items() for system in source.systems}
    by_source: Counter[str] = Counter()
    for system, count in by_system.items():
        by_source[source_of[system]] += count
    assert by_source == Counter({name: source.events for name, source in truth.sources.items()})

    # What each connector read and emitted (duplicates included: the worker drops them).
    imap = truth.sources["imap"]
    assert (imap_stats.events, imap_stats.rejected) == (imap.events + imap.duplicates, imap.rejected)
    assert sum(s.events for s in file_stats) + imap_stats.events + accepted == sum(
        s.events + s.duplicates for s in truth.sources.values())
    assert accepted == truth.sources["http"].events
    assert refused == [422] * truth.sources["http"].rejected

    # Every malformed record is a dead letter of its own source, with a reason; HTTP's are
    # answered 422 instead and never reach Kafka.
    letters = [json.loads(value) for _, value in asyncio.run(
        read_topic(settings.kafka.bootstrap_servers, settings.kafka.dead_letter_topic))]
    assert all(letter["reason"] for letter in letters)
    assert Counter(source_of[letter["source"]["system"]] for letter in letters) == Counter(
        {name: source.rejected for name, source in truth.sources.items() if name != "http" and source.rejected})

    # Personal data stops at the connector: not in any table, not in any topic of this run.
    run = settings.kafka.inquiries_topic.removeprefix("inquiries-")
    run_topics = sorted(t for t in asyncio.run(list_topics(settings.kafka.bootstrap_servers)) if run in t)
    assert {settings.kafka.inquiries_topic, settings.kafka.dead_letter_topic} <= set(run_topics)
    on_topics = "\n".join(key.decode("utf-8", "replace") + "\t" + value.decode("utf-8", "replace")
                          for topic in run_topics
                          for key, value in asyncio.run(read_topic(settings.kafka.bootstrap_servers, topic)))
    assert planted_in(stored, truth.personal_data) == []
    assert planted_in(on_topics, truth.personal_data) == []
    # The scan can find what it looks for: the raw files hold every kind of planted value.
    raw = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file()
                    and p.suffix != ".gz" and p.name != "ground_truth.json")
    found = set(planted_in(raw, truth.personal_data))
    data = truth.personal_data
    for kind in (data.cpr_numbers, data.email_addresses, data.phone_numbers, data.ip_addresses, data.names):
        assert found & set(kind), kind[:3]

"""Shared mailboxes over IMAP -> e-mail events (connectors/imap_mailbox.py), against a real Dovecot.

Messages are real RFC 5322 messages APPENDed to Dovecot folders, with fake Danish names,
CPR numbers and phone numbers in subjects and bodies, so that the tests can show none of
them reaches an event, a dead letter or a log line.
"""

from __future__ import annotations

import asyncio
import imaplib
import json
import logging
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from connectors.base import ConnectorContext, RecordRejected, Skip
from connectors.imap_mailbox import (
    ImapConfigError,
    ImapFolderMissing,
    ImapHeaderParser,
    ImapLoginFailed,
    ImapMailboxConfig,
    ImapUnavailable,
    MessageRef,
)
from connectors.imap_session import FETCH_ITEMS, ImapSession, encode_folder, parse_fetch_response
from connectors.imap_source import ImapCheckpoints, ImapSource, run_imap
from connectors.mapping import load_mapping
from pipeline.ground.privacy import ContactKeyer
from pipeline.ground.settings import ConnectorSettings, PrivacySettings, Settings
from pipeline.ingest import IngestError, RunFile, run_ingest, run_many
from pipeline.sinks.kafka import KafkaEventSink, ProduceFailed
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment
from schemas import Channel, DeadLetter, Direction, InquiryEvent, Stage, make_event_id
from tests.conftest import ImapService
from tests.topics import read_topic

ROOT = Path(__file__).resolve().parents[2]
SECRET = "imap-test-secret"
KEYER = ContactKeyer(SECRET.encode())
CONTEXT = ConnectorContext("751", load_mapping(ROOT / "deploy" / "mapping.yaml"), KEYER)
BORGERSERVICE = "borgerservice@kommune.dk"
BYGGESAG = "byggesag@kommune.dk"
DATE = "Mon, 04 Mar 2024 09:12:00 +0100"
AT = datetime(2024, 3, 4, 8, 12, tzinfo=UTC)
# Personal data planted in subjects, display names and bodies: none of it may leave the connector.
PERSONAL = ("Mette", "Sørensen", "Soerensen", "Jens", "Hansen", "010190-1234", "0101901234", "22 33 44 55",
            "22334455", "Sommerhus", "Klage", "Hemmeligt")


def rfc5322(body: str = "Hej. Mit CPR-nummer er 010190-1234, ring på 22 33 44 55. Hemmeligt.", **headers: str) -> bytes:
    """A message as a mail client writes it; keyword `message_id` becomes Message-ID and so on.
    Non-ASCII stays raw UTF-8 (RFC 6532), so a leaked name would show as written."""
    names = {"message_id": "Message-ID", "in_reply_to": "In-Reply-To"}
    lines = [f"{names.get(key, key.rstrip('_').replace('_', '-').title())}: {value}" for key, value in headers.items()]
    return ("\r\n".join([*lines, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]) +
            "\r\n\r\n" + body + "\r\n").encode()


def citizen_mail(n: int, **headers: str) -> bytes:
    fields = {"from": "Mette Sørensen <Mette.Soerensen@Example.DK>", "to": BORGERSERVICE,
              "subject": f"Sommerhus {n}: CPR 010190-1234, tlf. 22 33 44 55", "date": DATE,
              "message_id": f"<citizen-{n}@mail.example.dk>"}
    fields.update(headers)
    return rfc5322(**fields)


def deliver(imap: ImapService, login: tuple[str, str], folder: str, *messages: bytes) -> None:
    """APPEND messages to a folder of the login's mailbox, creating the folder if needed."""
    with imaplib.IMAP4(imap.host, imap.port) as conn:
        conn.login(*login)
        if folder != "INBOX":
            conn.create(encode_folder(folder))  # NO when it exists: fine
        for message in messages:
            typ, data = conn.append(encode_folder(folder), None, None, message)
            assert typ == "OK", data


def flags(imap: ImapService, login: tuple[str, str], folder: str) -> list[bytes]:
    with imaplib.IMAP4(imap.host, imap.port) as conn:
        conn.login(*login)
        conn.select(encode_folder(folder), readonly=True)
        _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    return [item for item in data if isinstance(item, bytes)]


def config(imap: ImapService, login: tuple[str, str], mailboxes: list[dict[str, object]], **extra: object
           ) -> ImapMailboxConfig:
    return ImapMailboxConfig.model_validate({
        "system": "imap-test", "host": imap.host, "port": imap.port, "tls": "none", "username": login[0],
        "password": login[1], "mailboxes": mailboxes, "poll_seconds": 0.05, "reconnect_initial_seconds": 0.05,
        "timeout_seconds": 5, **extra,
    })


def local_settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", connectors=ConnectorSettings(checkpoint_dir=tmp_path / "checkpoints"),
                    privacy=PrivacySettings(contact_key_secret=SecretStr(SECRET)))


class CollectingSink:
    """What a sink was given, in order; `acknowledged` counts flushes."""

    shows_rejections = False

    def __init__(self) -> None:
        self.events: list[InquiryEvent] = []
        self.letters: list[DeadLetter] = []
        self.acknowledged = 0

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None:
        assert all(event.partition_key == key for event in events)
        self.events.extend(events)

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    async def flush(self) -> None:
        self.acknowledged += 1


class BrokerDown(CollectingSink):
    async def flush(self) -> None:
        raise ProduceFailed("the broker did not acknowledge a batch: test")


def leaks(text: str) -> list[str]:
    return [word for word in PERSONAL if word.lower() in text.lower()]


@pytest.fixture
def login(imap_server: ImapService) -> tuple[str, str]:
    """A fresh account on the session's Dovecot: an empty mailbox for this test alone."""
    return imap_server.new_account()


# --- against Dovecot and the broker --------------------------------------------------------


def test_inbound_and_outbound_mail_reaches_kafka_without_subjects_names_or_numbers(
    imap_server: ImapService, topics: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    borgerservice, byggesag = imap_server.new_account(), imap_server.new_account()
    deliver(imap_server, borgerservice, "INBOX",
            citizen_mail(1),
            rfc5322(from_=BORGERSERVICE, to="mette.soerensen@example.dk", subject="Re: Sommerhus 1", date=DATE,
                    message_id="<kept-reply@kommune.dk>"),
            rfc5322(**{"from": "Jens Hansen <jens.hansen@example.dk>", "to": BORGERSERVICE, "date": "i går",
                       "subject": "Klage, CPR 010190-1234", "message_id": "<broken@example.dk>"}),
            citizen_mail(2, in_reply_to="<kept-reply@kommune.dk>", references="<citizen-1@mail.example.dk>"))
    deliver(imap_server, borgerservice, "Sent",
            rfc5322(**{"from": f"Borgerservice <{BORGERSERVICE}>", "to": "Mette Sørensen <mette@example.dk>",
                       "subject": "Re: Sommerhus 2", "date": DATE, "message_id": "<answer@kommune.dk>"}))
    deliver(imap_server, byggesag, "INBOX",
            rfc5322(**{"from": "Hansen Byg ApS <Tilbud@HansenByg.dk>", "to": BYGGESAG, "date": DATE,
                       "subject": "Byggetilladelse Sommerhus", "message_id": "<byg@hansenbyg.dk>"}))
    imap = config(imap_server, borgerservice, [
        {"address": BORGERSERVICE, "folders": ["INBOX"], "sent_folder": "Sent"},
        {"address": BYGGESAG, "username": byggesag[0], "password": byggesag[1]},
    ])

    async def ingest() -> object:
        sink = KafkaEventSink(topics.kafka.bootstrap_servers, topics.kafka.inquiries_topic,
                              topics.kafka.dead_letter_topic)
        await sink.start()
        try:
            return await run_imap(topics, imap, sink, ImapCheckpoints.for_config(topics, imap))
        finally:
            await sink.stop()

    stats = asyncio.run(ingest())
    assert (stats.records, stats.events, stats.rejected, stats.files) == (6, 5, 1, 3)  # type: ignore[attr-defined]
    values = asyncio.run(read_topic(topics.kafka.bootstrap_servers, topics.kafka.inquiries_topic))
    events = [InquiryEvent.model_validate_json(line) for _, value in values for line in value.split(b"\n")]
    got = sorted((e.queue, e.source.file, e.source.line, e.direction.value, e.task, e.department) for e in events)
    assert got == [
        (BORGERSERVICE, f"{BORGERSERVICE}/INBOX", 1, "inbound", "85.02.00", "Borgerservice"),
        (BORGERSERVICE, f"{BORGERSERVICE}/INBOX", 2, "outbound", "85.02.00", "Borgerservice"),  # From = mailbox
        (BORGERSERVICE, f"{BORGERSERVICE}/INBOX", 4, "inbound", "85.02.00", "Borgerservice"),
        (BORGERSERVICE, f"{BORGERSERVICE}/Sent", 1, "outbound", "85.02.00", "Borgerservice"),
        (BYGGESAG, f"{BYGGESAG}/INBOX", 1, "inbound", "02.34.00", "Teknik og Miljø"),
    ]
    assert {(e.channel, e.stage, e.occurred_at, e.source.system) for e in events} == {
        (Channel.email, Stage.arrived, AT, "imap-test")}
    keys = {(e.source.file, e.source.line): e.contact_key for e in events}
    mette = ContactKeyer(topics.privacy.contact_key_secret.get_secret_value().encode()).key("mette.soerensen@example.dk")
    assert keys[(f"{BORGERSERVICE}/INBOX", 1)] == keys[(f"{BORGERSERVICE}/INBOX", 4)] == mette
    assert keys[(f"{BORGERSERVICE}/INBOX", 2)] is keys[(f"{BORGERSERVICE}/Sent", 1)] is None
    # A reply (line 4) is a repeat contact by its key, not an inquiry known to be unresolved.
    assert {e.resolved_first_contact for e in events} == {None}
    assert next(e for e in events if e.source.line == 1 and e.queue == BORGERSERVICE and "INBOX" in e.source.file
                ).event_id == make_event_id("imap-test", f"<citizen-1@mail.example.dk>|{BORGERSERVICE}|inbound",
                                            "arrived")

    letters = asyncio.run(read_topic(topics.kafka.bootstrap_servers, topics.kafka.dead_letter_topic))
    assert len(letters) == 1
    letter = DeadLetter.model_validate_json(letters[0][1])
    assert letter.connector == "imap_mailbox"
    assert letter.reason.startswith(f"{BORGERSERVICE}/INBOX UID 3 (UIDVALIDITY ")
    assert "bad Date" in letter.reason
    assert "Subject: <redacted>" in letter.raw and "From: <email>" in letter.raw
    produced = [line.decode() for _, value in values + letters for line in value.split(b"\n")]
    unescaped = [json.dumps(json.loads(text), ensure_ascii=False) for text in produced]
    assert [leaks(text) for text in produced + unescaped if leaks(text)] == []
    assert not leaks(caplog.text)


def test_a_restart_reads_only_new_messages(imap_server: ImapService, login: tuple[str, str], tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    imap = config(imap_server, login, [{"address": BORGERSERVICE}])
    deliver(imap_server, login, "INBOX", citizen_mail(1), citizen_mail(2))

    def one_pass() -> CollectingSink:
        sink = CollectingSink()
        asyncio.run(run_imap(settings, imap, sink, ImapCheckpoints.for_config(settings, imap)))
        return sink

    first = one_pass()
    deliver(imap_server, login, "INBOX", citizen_mail(3), citizen_mail(4))
    second, third = one_pass(), one_pass()
    assert [e.source.line for e in first.events] == [1, 2]
    assert [e.source.line for e in second.events] == [3, 4]
    assert third.events == []
    assert not {e.event_id for e in first.events} & {e.event_id for e in second.events}
    saved = json.loads((tmp_path / "checkpoints" / "imap_mailbox-imap-test.json").read_text())
    assert saved["folders"][f"{BORGERSERVICE}/INBOX"]["last_uid"] == 4


def test_the_checkpoint_moves_only_after_the_broker_acknowledged(
    imap_server: ImapService, login: tuple[str, str], tmp_path: Path
) -> None:
    settings = local_settings(tmp_path)
    imap = config(imap_server, login, [{"address": BORGERSERVICE}])
    deliver(imap_server, login, "INBOX", citizen_mail(1), citizen_mail(2))
    with pytest.raises(ProduceFailed):
        asyncio.run(run_imap(settings, imap, BrokerDown(), ImapCheckpoints.for_config(settings, imap)))
    assert not (tmp_path / "checkpoints" / "imap_mailbox-imap-test.json").exists()
    sink = CollectingSink()
    asyncio.run(run_imap(settings, imap, sink, ImapCheckpoints.for_config(settings, imap)))
    assert [e.source.line for e in sink.events] == [1, 2]


def test_a_changed_uidvalidity_rereads_the_folder_and_event_ids_stay_the_same(
    imap_server: ImapService, login: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = local_settings(tmp_path)
    imap = config(imap_server, login, [{"address": BYGGESAG, "folders": ["Byggesager"]}])
    old = [citizen_mail(1, to=BYGGESAG), citizen_mail(2, to=BYGGESAG)]
    deliver(imap_server, login, "Byggesager", *old)
    before = CollectingSink()
    asyncio.run(run_imap(settings, imap, before, ImapCheckpoints.for_config(settings, imap)))
    with imaplib.IMAP4(imap_server.host, imap_server.port) as conn:  # restored from backup: new UIDVALIDITY
        conn.login(*login)
        assert conn.delete(encode_folder("Byggesager"))[0] == "OK"
    deliver(imap_server, login, "Byggesager", citizen_mail(0, to=BYGGESAG), *old)
    after = CollectingSink()
    with caplog.at_level(logging.WARNING, logger="connectors.imap_mailbox"):
        asyncio.run(run_imap(settings, imap, after, ImapCheckpoints.for_config(settings, imap)))
    assert "UIDVALIDITY of byggesag@kommune.dk/Byggesager changed" in caplog.text
    assert [e.source.line for e in after.events] == [1, 2, 3]
    assert [e.event_id for e in after.events][1:] == [e.event_id for e in before.events]
    again = CollectingSink()
    asyncio.run(run_imap(settings, imap, again, ImapCheckpoints.for_config(settings, imap)))
    assert again.events == []


def test_bodies_are_never_fetched_and_seen_flags_stay_unset(
    imap_server: ImapService, login: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_server, login, "INBOX", citizen_mail(1), citizen_mail(2))
    deliver(imap_server, login, "Sent", rfc5322(**{"from": BORGERSERVICE, "date": DATE, "subject": "Svar"}))
    sent: list[bytes] = []
    send = imaplib.IMAP4.send

    def tap(self: imaplib.IMAP4, data: bytes) -> None:
        sent.append(bytes(data))
        send(self, data)

    monkeypatch.setattr(imaplib.IMAP4, "send", tap)
    imap = config(imap_server, login, [{"address": BORGERSERVICE, "sent_folder": "Sent"}], fetch_batch=1)
    sink = CollectingSink()
    asyncio.run(run_imap(local_settings(tmp_path), imap, sink))
    monkeypatch.undo()

    assert len(sink.events) == 3
    commands = [line.split(b" ", 2)[1:] for line in b"".join(sent).split(b"\r\n") if line]
    verbs = [command[0].upper() + b" " + command[1].split(b" ")[0].upper() if command[0].upper() == b"UID"
             else command[0].upper() for command in commands]
    assert set(verbs) <= {b"CAPABILITY", b"LOGIN", b"EXAMINE", b"UID SEARCH", b"UID FETCH", b"LOGOUT"}
    fetches = [b" ".join(command) for command in commands if command[0].upper() == b"UID" and b"FETCH" in command[1]]
    assert len(fetches) == 3 and all(fetch.endswith(FETCH_ITEMS.encode()) for fetch in fetches)
    wire = b"".join(sent).upper()
    for forbidden in (b"BODY[]", b"BODY.PEEK[]", b"BODY[TEXT]", b"BODY.PEEK[TEXT]", b"RFC822", b"BODYSTRUCTURE",
                      b"STORE", b"SELECT", b" BODY["):
        assert forbidden not in wire
    for folder in ("INBOX", "Sent"):
        assert all(b"\\Seen" not in line for line in flags(imap_server, login, folder))
    # Dovecot's own account of what it sent this login's sessions: header bytes, no body bytes.
    deadline = time.monotonic() + 5
    while True:
        logouts = [line for line in imap_server.log_path.read_text().splitlines()
                   if f"imap({login[0]})" in line and "Disconnected" in line]
        if len(logouts) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    counted = [line for line in logouts if "body_count=" in line]
    assert all("body_count=0 body_bytes=0" in line for line in counted)
    assert any("hdr_count=3" in line for line in counted) or not counted


def test_login_failure_is_terminal_and_says_what_to_fix(imap_server: ImapService, login: tuple[str, str],
                                                         tmp_path: Path) -> None:
    imap = config(imap_server, (login[0], "wrong-password"), [{"address": BORGERSERVICE}])

    async def follow() -> None:
        await asyncio.wait_for(run_imap(local_settings(tmp_path), imap, CollectingSink(), follow=True), timeout=20)

    with pytest.raises(ImapLoginFailed) as caught:
        asyncio.run(follow())  # even with --follow: retrying a refused password cannot help
    message = str(caught.value)
    assert login[0] in message and "username and password" in message and f"127.0.0.1:{imap_server.port}" in message
    assert "wrong-password" not in message


def test_a_missing_folder_is_terminal(imap_server: ImapService, login: tuple[str, str], tmp_path: Path) -> None:
    imap = config(imap_server, login, [{"address": BORGERSERVICE, "folders": ["INBOX"], "sent_folder": "Sendt post"}])
    with pytest.raises(ImapFolderMissing, match="'Sendt post'"):
        asyncio.run(run_imap(local_settings(tmp_path), imap, CollectingSink()))


def test_an_unreachable_server_fails_a_single_pass_as_transient(tmp_path: Path) -> None:
    port = free_port()
    imap = ImapMailboxConfig(host="127.0.0.1", port=port, tls="none", username="u", password=SecretStr("p"),
                             mailboxes=[{"address": BORGERSERVICE}])  # type: ignore[list-item]
    with pytest.raises(ImapUnavailable, match=f"127.0.0.1:{port}"):
        asyncio.run(run_imap(local_settings(tmp_path), imap, CollectingSink()))


class DroppedOnce(ImapSession):
    """A session whose connection breaks under the first UID FETCH, as when a server restarts."""

    dropped = 0

    def fetch_headers(self, first: int, last: int) -> dict[int, bytes]:
        if DroppedOnce.dropped == 0:
            DroppedOnce.dropped += 1
            self._conn.shutdown()  # type: ignore[union-attr]
        return super().fetch_headers(first, last)


def test_follow_reconnects_after_a_lost_connection_and_picks_up_new_mail(
    imap_server: ImapService, login: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(imap_server, login, "INBOX", citizen_mail(1), citizen_mail(2))
    imap = config(imap_server, login, [{"address": BORGERSERVICE}])
    checkpoints = ImapCheckpoints(tmp_path / "imap.json")
    sink = CollectingSink()

    async def scenario() -> None:
        stop = asyncio.Event()
        source = ImapSource(imap, CONTEXT, checkpoints, follow=True, session_class=DroppedOnce)
        task = asyncio.create_task(source.run(sink, stop))

        async def until(count: int) -> None:
            while len(sink.events) < count:
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)

        await asyncio.wait_for(until(2), timeout=15)
        await asyncio.to_thread(deliver, imap_server, login, "INBOX", citizen_mail(3))
        await asyncio.wait_for(until(3), timeout=15)
        stop.set()
        stats = await asyncio.wait_for(task, timeout=10)
        assert stats.events == 3

    with caplog.at_level(logging.WARNING, logger="connectors.imap_mailbox"):
        asyncio.run(scenario())
    assert DroppedOnce.dropped == 1 and "reconnecting in" in caplog.text
    assert [e.source.line for e in sink.events] == [1, 2, 3]  # nothing lost, nothing repeated
    assert checkpoints.folders[f"{BORGERSERVICE}/INBOX"].last_uid == 3


# --- wiring: kanalpuls ingest and kanalpuls run --------------------------------------------


def test_kanalpuls_ingest_imap_dry_run_needs_no_paths(imap_server: ImapService, login: tuple[str, str],
                                                      tmp_path: Path) -> None:
    deliver(imap_server, login, "INBOX", citizen_mail(1), citizen_mail(2))
    config_file = tmp_path / "imap.yaml"
    config_file.write_text(yaml.safe_dump(
        config(imap_server, login, [{"address": BORGERSERVICE}]).model_dump(mode="json") | {"password": login[1]}))
    settings = local_settings(tmp_path)
    done = subprocess.run(kanalpuls_command("ingest", "imap", "--config", str(config_file), "--dry-run"),
                          env=settings_environment(settings), capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    events = [InquiryEvent.model_validate_json(line) for line in done.stdout.splitlines()]
    assert [(e.queue, e.direction, e.task) for e in events] == [(BORGERSERVICE, Direction.inbound, "85.02.00")] * 2
    assert "1 folder(s), 2 records: 2 events" in done.stderr
    assert not leaks(done.stdout + done.stderr)
    assert not (tmp_path / "checkpoints").exists()  # a dry run keeps no checkpoint


def test_paths_are_refused_for_imap_and_required_for_file_kinds(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    with pytest.raises(IngestError, match="takes no paths"):
        asyncio.run(run_ingest(settings, "imap_mailbox", [tmp_path / "x.log"], dry_run=True))
    with pytest.raises(IngestError, match="name at least one"):
        asyncio.run(run_ingest(settings, "asterisk_queue_log", [], dry_run=True))
    with pytest.raises(ValidationError, match="takes no paths"):
        RunFile.model_validate({"connectors": [{"kind": "imap", "paths": ["x"]}]})
    with pytest.raises(ValidationError, match="name at least one"):
        RunFile.model_validate({"connectors": [{"kind": "ticket_export"}]})


def test_a_run_file_runs_an_imap_entry_without_paths(imap_server: ImapService, login: tuple[str, str],
                                                     no_worker: Settings) -> None:
    deliver(imap_server, login, "INBOX", citizen_mail(1))
    imap = config(imap_server, login, [{"address": BORGERSERVICE}]).model_dump(mode="json") | {"password": login[1]}
    run_file = RunFile.model_validate({"connectors": [{"kind": "imap_mailbox", "follow": False, "config": imap}]})
    (stats,) = asyncio.run(run_many(no_worker, run_file, asyncio.Event()))
    assert stats.events == 1
    values = asyncio.run(read_topic(no_worker.kafka.bootstrap_servers, no_worker.kafka.inquiries_topic))
    assert [json.loads(value)["queue"] for _, value in values] == [BORGERSERVICE]
    assert (no_worker.connectors.checkpoint_dir / "imap_mailbox-imap-test.json").exists()


# --- configuration -----------------------------------------------------------------------


def test_every_config_field_has_a_description_and_the_example_config_loads() -> None:
    from connectors.imap_mailbox import SharedMailbox, SubjectRule

    for model in (ImapMailboxConfig, SharedMailbox, SubjectRule):
        assert all(info.description for info in model.model_fields.values()), model
    example = yaml.safe_load((ROOT / "deploy" / "connectors" / "imap_mailbox.example.yaml").read_text())
    loaded = ImapMailboxConfig.model_validate(example)
    assert loaded.tls == "starttls" and loaded.mailboxes
    ImapHeaderParser(loaded, CONTEXT)  # its subject rules name tasks the mapping rules know


def test_config_refuses_plain_text_to_a_remote_host_and_picks_993_for_ssl() -> None:
    with pytest.raises(ValidationError, match="clear text"):
        ImapMailboxConfig(host="imap.kommune.dk", tls="none")
    assert ImapMailboxConfig(host="imap.kommune.dk", tls="ssl").port == 993
    assert ImapMailboxConfig(host="imap.kommune.dk", tls="ssl", port=1993).port == 1993
    with pytest.raises(ValidationError, match="no username"):
        ImapMailboxConfig(mailboxes=[{"address": BORGERSERVICE}])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="not an e-mail address"):
        ImapMailboxConfig(username="u", mailboxes=[{"address": "borgerservice"}])  # type: ignore[list-item]


def test_folder_names_are_quoted_and_non_ascii_in_modified_utf7() -> None:
    assert encode_folder("INBOX") == '"INBOX"'
    assert encode_folder("Sendt post") == '"Sendt post"'
    assert encode_folder("Børn & unge") == '"B&APg-rn &- unge"'
    assert encode_folder('a"b\\c') == '"a\\"b\\\\c"'


# --- the header parser (no server) ----------------------------------------------------------

REF = MessageRef(BORGERSERVICE, "INBOX", 7, 3)
PARSER = ImapHeaderParser(ImapMailboxConfig(system="imap-test", username="svc", mailboxes=[
    {"address": BORGERSERVICE}, {"address": BYGGESAG}]), CONTEXT)  # type: ignore[list-item]


def header(**fields: str) -> bytes:
    return rfc5322(body="", **fields).split(b"\r\n\r\n")[0] + b"\r\n\r\n"


def test_a_message_without_message_id_falls_back_to_folder_uidvalidity_and_uid() -> None:
    (event,) = PARSER.parse_message(header(from_="a@example.dk", date=DATE), REF)  # type: ignore[misc]
    assert event.event_id == make_event_id("imap-test", f"{BORGERSERVICE}/INBOX/7/3|{BORGERSERVICE}|inbound",
                                           "arrived")


def test_the_same_message_in_inbox_and_sent_is_one_outbound_event() -> None:
    mail = header(from_=BORGERSERVICE.upper(), date=DATE, message_id="<x@kommune.dk>")
    (inbox,) = PARSER.parse_message(mail, REF)  # type: ignore[misc]
    (sent,) = PARSER.parse_message(mail, MessageRef(BORGERSERVICE, "Sent", 9, 1, sent=True))  # type: ignore[misc]
    assert inbox.direction is sent.direction is Direction.outbound
    assert inbox.event_id == sent.event_id


def test_subject_rules_refine_the_task_but_the_subject_goes_nowhere() -> None:
    imap = ImapMailboxConfig(system="imap-test", username="svc", mailboxes=[{"address": BORGERSERVICE}],  # type: ignore[list-item]
                             subject_rules=[{"match": "*pas*", "task": "85.06.00"},  # type: ignore[list-item]
                                            {"match": "*kørekort*", "task": "85.08.00", "department": "Kørekort"}])
    parser = ImapHeaderParser(imap, CONTEXT)
    (passport,) = parser.parse_message(header(from_="a@example.dk", date=DATE, subject="Nyt PAS til Mette Hansen"),
                                       REF)  # type: ignore[misc]
    (licence,) = parser.parse_message(header(from_="a@example.dk", date=DATE,  # RFC 2047 encoded word
                                             subject="=?utf-8?q?Forny_k=C3=B8rekort_Jens?="), REF)  # type: ignore[misc]
    (other,) = parser.parse_message(header(from_="a@example.dk", date=DATE, subject="Sommerhus"), REF)  # type: ignore[misc]
    assert (passport.task, passport.task_label, passport.department) == ("85.06.00", "Pas", "Borgerservice")
    assert (licence.task, licence.department) == ("85.08.00", "Kørekort")
    assert other.task == "85.02.00"
    assert not leaks(passport.model_dump_json() + licence.model_dump_json() + other.model_dump_json())
    unknown = imap.model_dump() | {"subject_rules": [{"match": "*", "task": "99.99.99"}]}
    with pytest.raises(ImapConfigError, match="not under 'tasks'"):
        ImapHeaderParser(ImapMailboxConfig.model_validate(unknown), CONTEXT)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"date": DATE}, "no From header"),
    ({"from_": "Jens Hansen", "date": DATE}, "From holds no e-mail address"),
    ({"from_": "Jens Hansen <jens@example.dk>"}, "no Date header"),
    ({"from_": "Jens Hansen <jens@example.dk>", "date": "i går 010190-1234"}, "bad Date 'i går <cpr>'"),
    ({"from_": "Jens Hansen <jens@example.dk>", "date": "Mon, 04 Mar 1999 09:12:00 +0100"}, "outside 2000-2099"),
])
def test_a_bad_message_is_dead_lettered_with_where_and_why(fields: dict[str, str], reason: str) -> None:
    letter = PARSER.outcome(header(subject="Klage: CPR 010190-1234, tlf 22334455", **fields), REF)
    assert isinstance(letter, DeadLetter)
    assert letter.reason.startswith(f"{BORGERSERVICE}/INBOX UID 3 (UIDVALIDITY 7): ") and reason in letter.reason
    assert (letter.source.file, letter.source.line, letter.connector) == (f"{BORGERSERVICE}/INBOX", 3, "imap_mailbox")
    assert not leaks(letter.model_dump_json())
    with pytest.raises(RecordRejected):
        PARSER.parse_message(header(subject="x", **fields), REF)


def test_delivery_reports_are_skipped() -> None:
    report = header(from_="Mail Delivery System <MAILER-DAEMON@mx.kommune.dk>", date=DATE, subject="Undelivered")
    assert PARSER.parse_message(report, REF) == Skip(reason="delivery report")


def test_fetch_responses_are_read_whatever_order_the_server_uses() -> None:
    data = [
        (b"1 (UID 5 BODY[HEADER.FIELDS (DATE FROM)] {6}", b"a: b\r\n"),
        b")",
        b"2 (FLAGS (\\Seen))",  # unsolicited: another client changed a flag
        (b"3 (BODY[HEADER.FIELDS (DATE FROM)] {6}", b"c: d\r\n"),
        b" UID 9)",
        b'4 (UID 11 BODY[HEADER.FIELDS (DATE FROM)] "")',
    ]
    assert parse_fetch_response(data) == {5: b"a: b\r\n", 9: b"c: d\r\n", 11: b""}  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_header_bytes_give_events_a_skip_or_a_dead_letter(raw: bytes) -> None:
    result = PARSER.outcome(raw, REF)
    if isinstance(result, DeadLetter):
        assert result.reason.startswith(REF.where)
    else:
        assert isinstance(result, Skip) or [type(e) for e in result] == [InquiryEvent]


_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60)
_FIELD = st.tuples(st.sampled_from(["Date", "Message-ID", "To", "In-Reply-To", "References", "X-Other", "date",
                                    " folded", "no colon here", "From"]), _LINE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FIELD, max_size=8), _LINE, _LINE, st.booleans(),
       st.sampled_from([DATE, "Tue, 5 Mar 2024 10:00:00 -0000", "garbage", ""]))
def test_the_subject_and_sender_name_never_leave_the_parser(
    fields: list[tuple[str, str]], subject: str, name: str, good_from: bool, date: str
) -> None:
    lines = [f"Subject: Zyxwsentinel {subject}",
             f'From: "Qvistsentinel {name}" <borger@example.dk>' if good_from else f"From: Qvistsentinel {name}",
             f"Date: {date}"]
    lines += [f"{key}: {value}" if ":" not in key and " " not in key else f"{key}{value}" for key, value in fields]
    result = PARSER.outcome("\r\n".join(lines).encode(), REF)
    produced = result.model_dump_json() if isinstance(result, DeadLetter) else (
        "" if isinstance(result, Skip) else "".join(e.model_dump_json() for e in result))
    assert "sentinel" not in produced.lower()

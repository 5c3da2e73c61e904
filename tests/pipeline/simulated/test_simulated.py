"""The simulator's other sources (pipeline/simulated/) look like what real systems write.

Checks read the files with plain string, csv, json and email-package operations: the
formats, demand over weekday and hour, opening hours, holidays and daylight saving, and
the personal data planted on purpose. That each connector agrees with ground truth is
checked in test_simulator.py.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import ipaddress
import json
import os
import re
import time as time_module
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.ground.privacy import mask_personal_data, normalise_phone_number
from pipeline.ground.settings import Settings
from pipeline.ingest import load_run_file, run_many
from pipeline.simulated.calendar import PHONE_HOURS, WALK_IN_HOURS
from pipeline.simulated.exchange import EXCHANGE_FIELDS, EXCHANGE_MAILBOXES
from pipeline.simulated.http import CONTACT_CENTRE, CONTACT_CENTRE_QUEUES, RECEPTION_SITE
from pipeline.simulated.imap import IMAP_MAILBOXES, connector_config
from pipeline.simulated.municipality import simulate
from pipeline.simulated.truth import GroundTruth, expected_event_count
from pipeline.simulated.world import CHAT_HOURS, OFFICE_HOURS
from tests.personal_data import tokens
from tests.pipeline.simulated.simulated_files import FILE_SOURCES, read_file_source
from tests.topics import read_topic

TZ = ZoneInfo("Europe/Copenhagen")
WEEK = date(2025, 11, 24)  # Monday
ASCENSION_WEEK = date(2026, 5, 11)  # Kristi Himmelfartsdag is Thursday 2026-05-14
HOLIDAY = date(2026, 5, 14)
DST_END = date(2026, 10, 19)  # summer time ends Sunday 2026-10-25
CPR = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("week")
    return out, simulate(out, days=7, seed=1, start=WEEK)


@pytest.fixture(scope="module")
def ascension_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("ascension")
    return out, simulate(out, days=7, seed=3, start=ASCENSION_WEEK)


@pytest.fixture(scope="module")
def dst_fortnight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("dst")
    return out, simulate(out, days=14, seed=5, start=DST_END)


# --------------------------------------------------------------------------- helpers


def tracking_rows(out: Path) -> list[dict[str, str]]:
    """Rows of every Exchange tracking log that have all their fields, by field name."""
    rows = []
    for path in sorted(out.glob("exchange/*/MSGTRK*.LOG")):
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        fields = lines[4].removeprefix("#Fields: ").split(",")
        for row in csv.reader(lines[5:]):
            if len(row) == len(fields):
                rows.append(dict(zip(fields, row)))
    return rows


def when(row: dict[str, str]) -> datetime | None:
    try:
        return datetime.fromisoformat(row["date-time"]).astimezone(TZ)
    except ValueError:
        return None


def combined(out: Path) -> list[tuple[str, datetime, str, str, int, str]]:
    """(client, local time, method, target, status, user agent) of each well-formed www line."""
    pattern = re.compile(r'(\S+) - - \[([^\]]+)\] "(\S+) (\S+) HTTP/[\d.]+" (\d{3}) \d+ "[^"]*" "([^"]*)" "[^"]*"')
    found = []
    for line in (out / "web/www.access.log").read_text(encoding="utf-8").splitlines():
        match = pattern.fullmatch(line)
        if match:
            try:
                at = datetime.strptime(match[2], "%d/%b/%Y:%H:%M:%S %z")
            except ValueError:
                continue
            found.append((match[1], at, match[3], match[4], int(match[5]), match[6]))
    return found


def json_log(out: Path) -> list[dict[str, str]]:
    found = []
    for line in (out / "web/selvbetjening.access.json").read_text(encoding="utf-8").splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return found


def messages(out: Path, mailbox: str, folder: str) -> list[tuple[str, object]]:
    return [(str(p.relative_to(out)), BytesParser(policy=policy.default).parsebytes(p.read_bytes()))
            for p in sorted((out / "imap" / mailbox / folder).glob("*.eml"))]


def raw_text(out: Path) -> str:
    """Every written file as text, e-mail headers decoded: where planted values must be found."""
    parts = []
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name == "ground_truth.json":
            continue
        if path.suffix == ".eml":
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            parts += [f"{k}: {v}" for k, v in message.items()] + [message.get_content()]
        else:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts)


# --------------------------------------------------------------------------- Exchange


def test_tracking_logs_start_with_the_header_block_exchange_writes(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    files = sorted(out.glob("exchange/*/MSGTRK*.LOG"))
    assert {p.parent.name for p in files} == {"EXCH01", "EXCH02"}
    assert [str(p.relative_to(out)) for p in files] == truth.sources["exchange"].files
    for path in files:
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf#Software: Microsoft Exchange Server\r\n")
        assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF throughout
        head = data.decode("utf-8-sig").split("\r\n")[:5]
        assert [line.split(":")[0] for line in head] == ["#Software", "#Version", "#Log-type", "#Date", "#Fields"]
        assert head[4] == "#Fields: " + ",".join(EXCHANGE_FIELDS)
        assert re.fullmatch(r"MSGTRK\d{8}00-1\.LOG", path.name)


def test_shared_mailbox_mail_arrives_at_any_hour_and_is_answered_in_office_hours(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    rows = tracking_rows(out)
    shared = set(EXCHANGE_MAILBOXES)
    delivered = [r for r in rows if r["event-id"] == "DELIVER" and r["sender-address"] not in ("", "<>")
                 and shared & set(r["recipient-address"].lower().split(";"))]
    per_day = Counter(when(r).date() for r in delivered if when(r))
    assert per_day[date(2025, 11, 24)] > 2 * per_day[date(2025, 11, 29)] > 0  # Monday against Saturday
    hours = Counter(when(r).hour for r in delivered if when(r))
    assert hours[9] + hours[10] > 4 * (hours[2] + hours[3] + hours[4])
    sent = [when(r) for r in rows if r["event-id"] == "SEND" and r["sender-address"] in shared]
    assert sent and all(at.weekday() < 5 and OFFICE_HOURS[0] <= at.time() <= time(15, 31) for at in sent)
    # One message to two shared mailboxes; null-sender bounces; events Exchange writes besides.
    assert any(len(shared & set(r["recipient-address"].lower().split(";"))) == 2 for r in delivered)
    assert any(r["event-id"] == "DELIVER" and r["sender-address"] in ("", "<>") for r in rows)
    assert {"RECEIVE", "AGENTINFO", "HAREDIRECT", "SUBMIT", "NOTIFYMAPI", "FAIL", "DSN"} <= {r["event-id"] for r in rows}


def test_tracking_logs_carry_citizens_addresses_names_and_cpr_numbers(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    rows = tracking_rows(out)
    listed = set(truth.personal_data.email_addresses)
    senders = {r["sender-address"] for r in rows if r["directionality"] == "Incoming"} - {"", "<>"}
    assert senders and senders <= listed
    subjects = " ".join(r["message-subject"] for r in rows)
    assert any(cpr in subjects for cpr in truth.personal_data.cpr_numbers)
    assert any(name in subjects for name in truth.personal_data.names)
    assert not set(EXCHANGE_MAILBOXES) & listed  # a shared mailbox is no person


# --------------------------------------------------------------------------- web


def test_access_logs_have_ipv4_and_ipv6_clients_forms_pages_bots_and_errors(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    lines = combined(out)
    clients = {ipaddress.ip_address(c) for c, *_ in lines}
    assert {a.version for a in clients} == {4, 6}
    statuses = Counter(status // 100 for *_, status, _ in lines)
    assert statuses[2] and statuses[3] and statuses[4]
    agents = " ".join({agent for *_, agent in lines})
    assert "Googlebot" in agents and "kube-probe" in agents
    targets = [target for _, _, _, target, _, _ in lines]
    assert any("/borger/pas-og-koerekort/pas" == t for t in targets) and any(t.endswith(".css") for t in targets)
    assert any(re.search(r"\?.*@", t) for t in targets) and any(CPR.search(t) for t in targets)
    form = json_log(out)
    assert {ipaddress.ip_address(line["remote_addr"]).version for line in form} == {4, 6}
    posts = Counter((line["request_uri"].split("?")[0], line["status"]) for line in form if line["request_method"] == "POST")
    assert posts[("/selvbetjening/flytning/send", "302")] and posts[("/api/formular/boligst%C3%B8tte", "200")]
    assert any(status.startswith("5") for _, status in posts) and any(status.startswith("4") for _, status in posts)
    assert any(line["request_method"] == "OPTIONS" for line in form)
    addresses = {c for c, *_ in lines} | {line["remote_addr"] for line in form} | {
        line["http_x_forwarded_for"] for line in form if line["http_x_forwarded_for"]}
    people = {a for a in addresses if not a.startswith(("10.", "198.18."))}  # probes, bots and scanners are no citizens
    assert people <= set(truth.personal_data.ip_addresses)


def test_web_demand_follows_the_clock(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    people = [at for client, at, method, target, status, agent in combined(out)
              if agent.startswith("Mozilla/5.0 (") and "bot" not in agent and target.startswith("/borger")]
    hours = Counter(at.hour for at in people)
    assert hours[10] + hours[11] > 5 * (hours[3] + hours[4])
    days = Counter(at.date() for at in people)
    assert days[date(2025, 11, 24)] > 1.5 * days[date(2025, 11, 29)]


# --------------------------------------------------------------------------- case-system exports


def test_komhen_export_has_letters_and_digital_post_both_ways(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    rows = []
    for path in sorted(out.glob("exports/henvendelser-*.csv")):
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        assert lines[0] == ("id;occurred_at;channel;direction;task;department;requester_type;"
                            "resolved_first_contact;visited_web_first;requester_id")
        rows += [r for r in csv.reader(lines[1:], delimiter=";") if len(r) == 10 and not r[0].startswith("SAG-X")]
    kinds = Counter((r[2].lower(), r[3]) for r in rows)
    assert set(kinds) == {("brev", "ind"), ("brev", "ud"), ("digital post", "ind"), ("digital post", "ud")}
    for row in rows:
        at = datetime.fromisoformat(row[1]).astimezone(TZ) if "T" in row[1] else datetime.fromisoformat(row[1])
        if row[2].lower() == "brev" and row[3] == "ind":  # scanned with the morning post on open days
            assert at.weekday() < 5 and time(8, 30) <= at.time() < time(11, 30), row
        if row[3] == "ud":
            assert at.weekday() < 5 and OFFICE_HOURS[0] <= at.time() < OFFICE_HOURS[1], row
    assert any(r[2].lower() == "digital post" and r[3] == "ind" and datetime.fromisoformat(r[1]).weekday() >= 5
               for r in rows)  # citizens send Digital Post at the weekend
    assert {r[9] for r in rows if r[9]} <= set(truth.personal_data.cpr_numbers)


def test_chat_export_names_the_requester_and_keeps_opening_hours(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    chats = []
    for line in (out / "exports/chat.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            chats.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    valid = [c for c in chats if not c["id"].startswith("chat-x")]
    assert len(valid) == truth.sources["channel_jsonl"].events
    for chat in valid:
        at = datetime.fromisoformat(chat["started"])
        at = at.astimezone(TZ) if at.tzinfo else at
        assert at.weekday() < 5 and CHAT_HOURS[0] <= at.time() < CHAT_HOURS[1], chat
    names = {c["requester_name"] for c in valid if c["requester_name"]}
    assert names and names <= set(truth.personal_data.names)
    ids = {c["requester_id"] for c in valid if c["requester_id"]}
    assert any("@" in i for i in ids) and any(i[-1].isdigit() for i in ids)
    assert ids <= set(truth.personal_data.email_addresses) | set(truth.personal_data.phone_numbers)


# --------------------------------------------------------------------------- IMAP


def test_imap_messages_are_rfc_5322_with_threads_and_personal_data(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    assert {m.address for m in truth.imap_mailboxes} == set(IMAP_MAILBOXES)
    assert not set(IMAP_MAILBOXES) & set(EXCHANGE_MAILBOXES)  # counts per source stay apart
    assert connector_config()["mailboxes"] == [
        {"address": a, "folders": ["INBOX"], "sent_folder": "Sent"} for a in IMAP_MAILBOXES]
    rejected = set(truth.sources["imap"].rejected_at)
    for mailbox in truth.imap_mailboxes:
        inbox, sent = messages(out, mailbox.address, "INBOX"), messages(out, mailbox.address, "Sent")
        assert mailbox.folders == {"INBOX": len(inbox), "Sent": len(sent)}
        assert [name.rsplit("/", 1)[1] for name, _ in inbox] == [f"{n:04d}.eml" for n in range(1, len(inbox) + 1)]
        inbound_ids = {m["Message-ID"] for _, m in inbox}
        dates = []
        for name, message in inbox + sent:
            assert (out / name).read_bytes().count(b"\n") == (out / name).read_bytes().count(b"\r\n")
            if name in rejected:
                continue
            assert message["Subject"] and message["To"] and message.get_content_type() == "text/plain"
            dates.append(parsedate_to_datetime(message["Date"]))
        for _, message in sent:
            assert parseaddr(message["From"])[1] == mailbox.address
            assert message["In-Reply-To"] in inbound_ids and message["In-Reply-To"] in message["References"]
            at = parsedate_to_datetime(message["Date"]).astimezone(TZ)
            assert at.weekday() < 5 and OFFICE_HOURS[0] <= at.time() <= OFFICE_HOURS[1]
        citizens = [m for _, m in inbox if parseaddr(m["From"])[1] in truth.personal_data.email_addresses]
        assert citizens and all(CPR.search(m.get_content()) for m in citizens)
        assert any(m["In-Reply-To"] for m in citizens)  # a citizen answers the reply
        assert all(d.tzinfo is not None for d in dates)
    bad = [BytesParser(policy=policy.default).parsebytes((out / name).read_bytes()) for name in sorted(rejected)]
    assert len(bad) == 3 and not all(m["Date"] for m in bad)


# --------------------------------------------------------------------------- HTTP


def test_http_events_carry_no_personal_data_and_invalid_ones_some(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    valid = (out / "http_events.ndjson").read_text(encoding="utf-8")
    invalid = (out / "http_events_invalid.ndjson").read_text(encoding="utf-8")
    assert set(truth.personal_data.values()) & tokens(valid) == set()
    assert set(truth.personal_data.email_addresses) & tokens(invalid)
    assert set(truth.personal_data.cpr_numbers) & tokens(invalid)
    stages = Counter((e["channel"], e["stage"]) for e in map(json.loads, valid.splitlines()))
    assert stages[("chat", "arrived")] == stages[("chat", "answered")] + stages[("chat", "abandoned")]
    assert stages[("chat", "closed")] == stages[("chat", "answered")] and stages[("self_service", "arrived")]


def test_contact_centre_posts_every_stage_and_asks_about_the_website_on_arrival(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    events = [json.loads(line) for line in (out / "http_events.ndjson").read_text(encoding="utf-8").splitlines()]
    posted = [e for e in events if e["source"]["system"] == CONTACT_CENTRE]
    stages = Counter((e["channel"], e["stage"]) for e in posted)
    for channel in ("phone", "walk_in"):  # each call or visit is answered or given up; every answered one closes
        assert stages[(channel, "arrived")] == stages[(channel, "answered")] + stages[(channel, "abandoned")] > 0
        assert stages[(channel, "closed")] == stages[(channel, "answered")]
    # The IVR and the check-in screen ask at arrival; agents register resolution when they close.
    assert {e["stage"] for e in posted if e["visited_web_first"] is not None} == {"arrived"}
    assert {e["stage"] for e in posted if e["resolved_first_contact"] is not None} == {"closed"}
    arrivals = [e for e in posted if e["stage"] == "arrived"]
    assert {e["visited_web_first"] for e in arrivals} == {True, False, None}
    keyed = sum(e["contact_key"] is not None for e in arrivals)  # withheld numbers and no text message: no key
    assert 0.7 * len(arrivals) < keyed < len(arrivals)
    assert all(e["contact_key"] is None for e in posted if e["stage"] != "arrived")
    for e in arrivals:
        local = datetime.fromisoformat(e["occurred_at"]).astimezone(TZ)
        opens, closes = (PHONE_HOURS if e["channel"] == "phone" else WALK_IN_HOURS)[local.weekday()]
        assert opens <= local.time() < closes, e
    assert {e["site"] for e in posted if e["channel"] == "walk_in"} == {RECEPTION_SITE}
    assert {e["queue"] for e in posted if e["channel"] == "phone"} == {q for q, _ in CONTACT_CENTRE_QUEUES}


# --------------------------------------------------------------------------- personal data


def test_every_listed_personal_value_is_in_the_raw_files(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    data = truth.personal_data
    text = raw_text(out)
    found = tokens(text)
    for kind in ("names", "cpr_numbers", "email_addresses", "ip_addresses"):
        assert set(getattr(data, kind)) - found == set(), kind
    digits = set(re.findall(r"\d+", text)) | set(re.findall(r"\d+", text.replace(" ", "")))
    eight = {n for n in data.phone_numbers if len(n) == 8 and n.isdigit()}
    assert {n for n in eight if n not in digits and f"45{n}" not in digits} == set()
    assert {normalise_phone_number(n)[-8:] for n in data.phone_numbers} == eight
    for values in (data.cpr_numbers, data.names, data.email_addresses, data.ip_addresses, data.phone_numbers):
        assert values == sorted(set(values)) and values
    assert {ipaddress.ip_address(a).version for a in data.ip_addresses} == {4, 6}
    assert all(CPR.fullmatch(c) for c in data.cpr_numbers)


def event_strings(read: object) -> str:
    """Every free-text value of every event. The rest are enums, numbers, times and hex digests
    (event ids, contact keys), where a planted value cannot hide and digits match by chance."""
    strings = {v for e in read.events.values()
               for v in (e.task, e.task_label, e.department, e.site, e.queue, e.source.system, e.source.file)}
    return "\n".join(strings)


@pytest.fixture(scope="module")
def week_read(week: tuple[Path, GroundTruth]) -> dict[str, object]:
    out, _ = week
    return {source: read_file_source(out, source) for source in FILE_SOURCES}


@pytest.mark.parametrize("source", FILE_SOURCES)
def test_no_connector_puts_a_planted_value_into_an_event(
    source: str, week: tuple[Path, GroundTruth], week_read: dict[str, object]
) -> None:
    _, truth = week
    blob = event_strings(week_read[source])
    assert [v for v in truth.personal_data.values() if v in blob] == []


@pytest.mark.parametrize("source", FILE_SOURCES)
def test_dead_letters_of_the_malformed_records_carry_no_planted_value(
    source: str, week: tuple[Path, GroundTruth], week_read: dict[str, object]
) -> None:
    _, truth = week
    read = week_read[source]
    letters = "\n".join(mask_personal_data(raw) for raw in read.dead_letters)  # as the runtime dead-letters them
    assert read.dead_letters
    assert [v for v in truth.personal_data.values() if v in letters] == []


# --------------------------------------------------------------------------- calendar


def test_on_a_public_holiday_mail_and_web_arrive_but_nobody_answers(ascension_week: tuple[Path, GroundTruth]) -> None:
    out, truth = ascension_week
    by_day = Counter((r.day, r.channel, r.direction) for r in truth.events for _ in range(r.count))
    assert by_day[(HOLIDAY, "email", "inbound")] > 0 and by_day[(HOLIDAY, "web", "inbound")] > 0
    for channel, direction in (("email", "outbound"), ("letter", "inbound"), ("letter", "outbound"),
                               ("digital_post", "outbound"), ("chat", "inbound")):
        assert by_day[(HOLIDAY, channel, direction)] == 0, (channel, direction)
        assert by_day[(date(2026, 5, 13), channel, direction)] > 0, (channel, direction)
    sent = [when(r) for r in tracking_rows(out) if r["event-id"] == "SEND" and r["sender-address"] in EXCHANGE_MAILBOXES]
    assert HOLIDAY not in {at.date() for at in sent}


def test_local_time_and_offsets_follow_daylight_saving(dst_fortnight: tuple[Path, GroundTruth]) -> None:
    out, truth = dst_fortnight
    change = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 03:00 summer time becomes 02:00 winter time
    offsets = {(at < change, at.utcoffset().total_seconds() / 3600) for _, at, *_ in combined(out)}
    assert offsets == {(True, 2.0), (False, 1.0)}  # +0200 in summer time, +0100 after
    stamps = {line["time_iso8601"][-6:] for line in json_log(out) if "T" in line["time_iso8601"]}
    assert stamps == {"+02:00", "+01:00"}
    assert {r["date-time"][-1] for r in tracking_rows(out) if when(r)} == {"Z"}  # Exchange writes UTC
    inbound = [m for mailbox in IMAP_MAILBOXES for name, m in messages(out, mailbox, "INBOX")
               if name not in truth.sources["imap"].rejected_at]
    assert {m["Date"][-5:] for m in inbound} == {"+0200", "+0100"}
    assert {r.day for r in truth.events} == {DST_END + timedelta(days=d) for d in range(14)}


# --------------------------------------------------------------------------- kanalpuls run


def test_kanalpuls_run_on_connectors_yaml_produces_every_file_sources_events(no_worker: Settings, tmp_path: Path) -> None:
    """The run file the simulator writes, through the real runtime, into a real broker."""
    out = tmp_path / "logs"
    truth = simulate(out, days=2, seed=11, start=date(2026, 3, 23))
    for path in out.rglob("*"):  # settled files: their unterminated last lines count as complete
        os.utime(path, (time_module.time() - 60, time_module.time() - 60))
    stats = asyncio.run(run_many(no_worker, load_run_file(out / "connectors.yaml"), asyncio.Event()))
    for source, got in zip(FILE_SOURCES, stats, strict=True):
        expected = truth.sources[source]
        assert (got.events, got.rejected, dict(got.skipped)) == (
            expected.events + expected.duplicates, expected.rejected, expected.skipped), source
    values = asyncio.run(read_topic(no_worker.kafka.bootstrap_servers, no_worker.kafka.inquiries_topic))
    events = [json.loads(line) for _, value in values for line in value.split(b"\n")]
    assert len({e["event_id"] for e in events}) == expected_event_count(truth, FILE_SOURCES)
    letters = asyncio.run(read_topic(no_worker.kafka.bootstrap_servers, no_worker.kafka.dead_letter_topic))
    assert len(letters) == sum(truth.sources[s].rejected for s in FILE_SOURCES)
    text = "\n".join(value.decode() for _, value in values + letters)
    data = truth.personal_data
    assert set(data.cpr_numbers + data.email_addresses + data.ip_addresses + data.phone_numbers) & tokens(text) == set()
    assert [name for name in data.names if name in text] == []

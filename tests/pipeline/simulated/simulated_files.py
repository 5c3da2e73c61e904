"""Read the simulator's files back the way kanalpuls reads them, for tests that compare with ground truth.

File sources go through their connector's parser, configured from the run file the
simulator wrote (connectors.yaml), one line at a time as the shared runtime feeds it. IMAP
messages are read with the stdlib email package following the IMAP connector's documented
rules, so the check stands whether or not that connector is installed.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from connectors.base import ConnectorContext, Location, RecordRejected, Skip
from connectors.mapping import MappingRules, load_mapping
from connectors.registry import get_kind
from pipeline.ground.privacy import ContactKeyer
from pipeline.ground.settings import DEMO_SECRET
from pipeline.ingest import expand_paths, load_run_file
from pipeline.simulated.municipality import DEFAULT_MAPPING_FILE, RUN_FILE
from pipeline.simulated.truth import REGISTRATIONS, SOURCES, GroundTruth
from schemas import InquiryEvent

TZ = ZoneInfo("Europe/Copenhagen")
FILE_SOURCES = ("queue_log", "tickets", "exchange", "web_combined", "web_json", "channel_csv", "channel_jsonl")
EventKey = tuple[date, str, str, str, str, str, str]


@dataclass
class Read:
    """What a connector made of one source's files."""

    events: dict[str, InquiryEvent] = field(default_factory=dict)  # by event id, first copy read
    emitted: int = 0
    records: int = 0
    rejected_at: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    dead_letters: list[str] = field(default_factory=list)  # raw records as redact() leaves them, before masking

    def counts(self) -> Counter[EventKey]:
        return Counter(event_key(e) for e in self.events.values())


def event_key(event: InquiryEvent) -> EventKey:
    return (event.occurred_at.astimezone(TZ).date(), event.channel.value, event.direction.value,
            event.stage.value, event.task, event.department, event.site)


def truth_counts(truth: GroundTruth, source: str) -> Counter[EventKey]:
    return Counter({(r.day, r.channel, r.direction, r.stage, r.task, r.department, r.site): r.count
                    for r in truth.events if r.source == source})


# --------------------------------------------------------------------------- what the KPI views read


Registration = tuple[EventKey, str]


def registrations(events: Iterable[InquiryEvent]) -> Counter[Registration]:
    """Per event key: events with resolved_first_contact / visited_web_first true or false, and with a contact key."""
    out: Counter[Registration] = Counter()
    for e in events:
        key = event_key(e)
        for name, flag in (("resolved", e.resolved_first_contact), ("web_first", e.visited_web_first)):
            if flag is not None:
                out[(key, f"{name}_{'true' if flag else 'false'}")] += 1
        if e.contact_key is not None:
            out[(key, "with_contact_key")] += 1
    return out


def truth_registrations(truth: GroundTruth, source: str) -> Counter[Registration]:
    return Counter({((r.day, r.channel, r.direction, r.stage, r.task, r.department, r.site), name): getattr(r, name)
                    for r in truth.events if r.source == source for name in REGISTRATIONS if getattr(r, name)})


def hourly(events: Iterable[InquiryEvent]) -> Counter[tuple[date, int, str]]:
    """Inbound arrivals per local day, local hour and channel."""
    return Counter((local.date(), local.hour, e.channel.value) for e in events
                   if e.stage.value == "arrived" and e.direction.value == "inbound"
                   for local in (e.occurred_at.astimezone(TZ),))


def truth_hourly(truth: GroundTruth, source: str) -> Counter[tuple[date, int, str]]:
    return Counter({(h.day, h.hour, h.channel): h.count for h in truth.arrivals_by_hour if h.source == source})


QUEUE_SUMS = ("arrived", "answered", "abandoned", "closed", "not_resolved", "answered_within_service_level",
              "answered_wait_seconds", "closed_handle_seconds")


def queue_sums(events: Iterable[InquiryEvent], service_level_seconds: int) -> dict[tuple[date, str, str], dict[str, float]]:
    """Per local day, channel and queue (phone) or site (walk-in): the sums of QueueDay, from the events."""
    out: dict[tuple[date, str, str], Counter[str]] = {}
    for e in events:
        channel = e.channel.value
        if channel not in ("phone", "walk_in") or e.direction.value != "inbound":
            continue
        sums = out.setdefault((e.occurred_at.astimezone(TZ).date(), channel, e.site if channel == "walk_in" else e.queue),
                              Counter())
        stage = e.stage.value
        sums[stage] += 1
        if stage == "answered":
            sums["answered_wait_seconds"] += e.wait_seconds or 0
            sums["answered_within_service_level"] += (e.wait_seconds or 0) <= service_level_seconds
        if stage == "closed":
            sums["closed_handle_seconds"] += e.handle_seconds or 0
            sums["not_resolved"] += e.resolved_first_contact is False
    return {key: {name: sums[name] for name in QUEUE_SUMS} for key, sums in out.items()}


def truth_queue_sums(truth: GroundTruth, source: str) -> dict[tuple[date, str, str], dict[str, float]]:
    return {(q.day, q.channel, q.place): q.model_dump(include=set(QUEUE_SUMS)) for q in truth.queues if q.source == source}


def keyed_groups(events: Iterable[tuple[str, InquiryEvent]]) -> list[tuple[str, tuple[tuple[datetime, str, str], ...]]]:
    """(task, its arrivals as (time, source, channel) in order) per contact key and task with more than one
    keyed inbound inquiry: what ground truth's repeat candidates are, told apart by contact key."""
    groups: dict[tuple[str, str], list[tuple[datetime, str, str]]] = {}
    for source, e in events:
        if e.stage.value == "arrived" and e.direction.value == "inbound" and e.channel.value != "web" and e.contact_key:
            groups.setdefault((e.contact_key, e.task), []).append((e.occurred_at, source, e.channel.value))
    return sorted((task, tuple(sorted(arrivals))) for (_, task), arrivals in groups.items() if len(arrivals) > 1)


def truth_keyed_groups(truth: GroundTruth, sources: Iterable[str]) -> list[tuple[str, tuple[tuple[datetime, str, str], ...]]]:
    """The same, from ground truth's repeat candidates of `sources`, told apart by requester id."""
    chosen = set(sources)
    groups: dict[tuple[str, str], list[tuple[datetime, str, str]]] = {}
    for a in truth.repeat_candidates:
        if a.source in chosen:
            groups.setdefault((a.requester, a.task), []).append((a.at, a.source, a.channel))
    return sorted((task, tuple(sorted(arrivals))) for (_, task), arrivals in groups.items() if len(arrivals) > 1)


def context() -> ConnectorContext:
    """What every connector gets, keyed with the secret kanalpuls uses by default: the one the simulated HTTP
    clients key with, so contact keys from files and from HTTP match as in `kanalpuls demo`."""
    mapping = load_mapping(DEFAULT_MAPPING_FILE)
    return ConnectorContext(mapping.municipality, mapping, ContactKeyer(DEMO_SECRET.encode()))


def read_file_source(out: Path, source: str) -> Read:
    """Run the connector connectors.yaml names for `source` over its files."""
    entries = load_run_file(out / RUN_FILE).connectors
    entry = entries[SOURCES.index(source)]
    kind = get_kind(entry.kind)
    config = kind.config_model.model_validate(entry.config)
    parser = kind.parser(config, context())
    redact = getattr(parser, "redact", lambda record: record)
    read = Read()
    for path in expand_paths(entry.paths):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":  # the file ends with a newline
            lines.pop()
        parser.start_file(str(path), lines[0].rstrip(b"\r") if lines else None)
        for number, line in enumerate(lines, start=1):
            record = line.rstrip(b"\r")
            read.records += 1
            if not record.strip():  # as connectors/runtime.py does before any parser sees it
                read.skipped["blank line"] += 1
                continue
            try:
                result = parser.parse(record, Location(config.system, str(path), number, 0))
            except (RecordRejected, ValidationError):
                read.rejected_at.append(f"{path.relative_to(out)}:{number}")
                read.dead_letters.append(redact(record.decode("utf-8", "backslashreplace")))
                continue
            if isinstance(result, Skip):
                read.skipped[result.reason] += 1
                continue
            for event in result:
                read.emitted += 1
                read.events.setdefault(event.event_id, event)
    return read


def simulated_events(out: Path) -> list[InquiryEvent]:
    """Every event the file connectors make of the simulator's files, and the HTTP events it
    wrote: what ClickHouse holds once every source but IMAP (which needs Dovecot) is ingested.
    Each event once, by id, as the worker stores it."""
    events: dict[str, InquiryEvent] = {}
    for source in FILE_SOURCES:
        events.update(read_file_source(out, source).events)
    for line in (out / "http_events.ndjson").read_bytes().splitlines():
        event = InquiryEvent.model_validate_json(line)
        events.setdefault(event.event_id, event)
    return list(events.values())


@dataclass
class ImapRead:
    keys: dict[tuple[str, str, str], EventKey] = field(default_factory=dict)  # (message, mailbox, direction)
    emitted: int = 0
    rejected_at: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def counts(self) -> Counter[EventKey]:
        return Counter(self.keys.values())


def read_imap(out: Path, truth: GroundTruth, mapping: MappingRules | None = None) -> ImapRead:
    """The .eml files read by the IMAP connector's rules: INBOX inbound unless From is the
    mailbox, Sent outbound; no readable Date or no sender address is a rejection; mail from
    MAILER-DAEMON or postmaster a delivery report; one event per Message-ID, mailbox, direction."""
    mapping = mapping or load_mapping(DEFAULT_MAPPING_FILE)
    read = ImapRead()
    for mailbox in truth.imap_mailboxes:
        cls = mapping.classify("mailbox", mailbox.address)
        for folder in ("INBOX", "Sent"):
            for path in sorted((out / "imap" / mailbox.address / folder).glob("*.eml")):
                name = str(path.relative_to(out))
                headers = BytesHeaderParser(policy=policy.compat32).parsebytes(path.read_bytes())
                sender = parseaddr(str(headers.get("From", "")))[1].lower()
                try:
                    sent_at = parsedate_to_datetime(headers["Date"]) if headers["Date"] else None
                except (TypeError, ValueError):
                    sent_at = None
                if sent_at is None or "@" not in sender:
                    read.rejected_at.append(name)
                    continue
                if sender.split("@")[0] in ("mailer-daemon", "postmaster"):
                    read.skipped["delivery report"] += 1
                    continue
                direction = "outbound" if folder == "Sent" or sender == mailbox.address else "inbound"
                message = (headers.get("Message-ID") or name).strip()
                read.emitted += 1
                read.keys.setdefault((message, mailbox.address, direction), (
                    sent_at.astimezone(TZ).date(), "email", direction, "arrived", cls.task,
                    cls.department if cls.task != "unclassified" else "", ""))
    return read


def local_time(epoch_or_iso: str) -> datetime:
    return datetime.fromisoformat(epoch_or_iso).astimezone(TZ)

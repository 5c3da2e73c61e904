"""Read the simulator's files back the way kanalpuls reads them, for tests that compare with ground truth.

File sources go through their connector's parser, configured from the run file the
simulator wrote (connectors.yaml), one line at a time as the shared runtime feeds it. IMAP
messages are read with the stdlib email package following the IMAP connector's documented
rules, so the check stands whether or not that connector is installed.
"""

from __future__ import annotations

import gzip
from collections import Counter
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
from connectors.privacy import ContactKeyer
from connectors.registry import get_kind
from pipeline.ingest import expand_paths, load_run_file
from pipeline.simulator import DEFAULT_MAPPING_FILE, RUN_FILE, SOURCES, GroundTruth
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


def context() -> ConnectorContext:
    mapping = load_mapping(DEFAULT_MAPPING_FILE)
    return ConnectorContext(mapping.municipality, mapping, ContactKeyer(b"test-secret"))


def read_file_source(out: Path, source: str) -> Read:
    """Run the connector connectors.yaml names for `source` over its files."""
    entries = load_run_file(out / RUN_FILE).connectors
    entry = entries[SOURCES.index(source)]
    kind = get_kind(entry.kind)
    config = kind.config_model.model_validate(entry.config)
    parser = kind.build(config, context())
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

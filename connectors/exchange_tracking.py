"""Exchange message-tracking logs (MSGTRK*.log) -> e-mail InquiryEvents of the shared mailboxes.

The runtime hands this parser one line at a time: the `#` header lines (the `#Fields:` line
gives this file's column order) and then CSV rows, one per tracking event. A DELIVER to a
shared mailbox ("fællespostkasse") is an inbound e-mail inquiry, a SEND from one is an
outbound reply; every other tracking event is skipped and counted by its event-id.

Choices where the log is silent:
- One message to several shared mailboxes counts once per shared mailbox; the same message
  logged again (on another server, or in another DELIVER line) keeps its event id, because
  the reference is `network-message-id|mailbox|direction` and the ids are namespaced by the
  `organisation`, not by `system`. So each server's logs can be a run-file entry of their own
  (own `system`, own checkpoint) and copies still collapse.
- Exchange 2010 logs have no network-message-id (their `#Fields` line says so): there the
  message-id (the Message-Id header, the same on every server, unlike internal-message-id)
  identifies the message. In an organisation where 2010 and later servers both log one
  message, its copies get different references and count once per kind of server.
- A DELIVER with a null sender (empty or `<>`: bounces and delivery reports) is skipped:
  no citizen wrote it.
- The message subject is never read: not for events, not for classification (the mailbox
  alone decides task and department), not in rejection reasons, and `redact` blanks it in
  dead letters, with the addresses, the client's and server's IP addresses and host names,
  and the reference. The sender address becomes a contact key and goes no further.
- A `#Fields` line this connector cannot use (a field it reads is missing) is itself
  dead-lettered, once, with the reason; the rows under it are counted as skipped, not each
  dead-lettered with the same explanation.
- `date-time` is UTC: a value without an offset is read as UTC, as Exchange writes it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import ConnectorContext, Location, RecordParser, RecordRejected, Skip, decode_record
from connectors.config import ConnectorConfig, rule_set_field, system_field, timezone_field
from connectors.files import open_log
from connectors.mapping import Classification
from pipeline.ground.privacy import shown
from schemas import Channel, Direction, InquiryEvent, Stage
from schemas.inquiry import EARLIEST_YEAR, LATEST_YEAR

_HEADER_LINES = 20  # #Software, #Version, #Log-Type, #Date, #Fields: five in practice


def _header_block(path: str) -> list[bytes]:
    """The leading '#' lines of a tracking log (empty if the file cannot be read)."""
    lines: list[bytes] = []
    try:
        with open_log(Path(path)) as fh:
            for _ in range(_HEADER_LINES):
                line = fh.readline()
                if not line.lstrip(b"\xef\xbb\xbf").startswith(b"#"):
                    break
                lines.append(line)
    except OSError:
        return []
    return lines


class ExchangeFields(BaseModel):
    """Names of the tracking-log fields this connector uses, as the `#Fields:` line spells them."""

    model_config = ConfigDict(extra="forbid")

    date_time: str = Field(default="date-time", min_length=1, description="When the event happened, UTC ISO 8601.")
    event_id: str = Field(default="event-id", min_length=1, description="Tracking event: DELIVER, SEND, RECEIVE...")
    network_message_id: str = Field(
        default="network-message-id",
        min_length=1,
        description="Same for every copy of one message; deduplicates. Where the #Fields line lacks it"
        " (Exchange 2010), message_id is used instead.",
    )
    message_id: str = Field(
        default="message-id",
        min_length=1,
        description="The Message-Id header, the same on every server: identifies the message in logs without"
        " network_message_id (Exchange 2010).",
    )
    recipient_address: str = Field(
        default="recipient-address", min_length=1, description="Recipients of this event, separated by ';'."
    )
    sender_address: str = Field(default="sender-address", min_length=1, description="The message's sender.")
    message_subject: str | None = Field(
        default="message-subject", description="Never read; located only to blank it in dead letters. None: absent."
    )
    return_path: str | None = Field(
        default="return-path", description="Never read; located only to blank it in dead letters. None: absent."
    )
    related_recipient_address: str | None = Field(
        default="related-recipient-address",
        description="Never read; located only to blank it in dead letters. None: absent.",
    )


# Fields the parser reads; the others it only locates to blank them in dead letters. The message is
# identified by network_message_id, or message_id where the log has none (Exchange 2010).
_READ = ("date_time", "event_id", "recipient_address", "sender_address")
# Besides the fields named in ExchangeFields, what a dead letter never carries: who and where from.
DEFAULT_PERSONAL_FIELDS = (
    "client-ip", "client-hostname", "server-ip", "server-hostname", "original-client-ip", "original-server-ip",
    "reference",
)  # fmt: skip
_PERSONAL = ("recipient_address", "sender_address", "message_subject", "return_path", "related_recipient_address")


class ExchangeTrackingConfig(ConnectorConfig):
    """Which mailboxes are the municipality's shared mailboxes and how the log's fields are named."""

    system: str = system_field("exchange", "this log source (one server's logs, say)", "exch01")
    organisation: str = Field(
        default="exchange",
        min_length=1,
        description="Name of the Exchange organisation: the event ids' namespace, the same for every server's "
        "entry, so a message logged on several servers counts once.",
        examples=["exchange-kommune"],
    )
    rule_set: str = rule_set_field("mailbox", "shared-mailbox addresses")
    timezone: str = timezone_field("UTC", "Exchange writes them in UTC")
    shared_mailboxes: list[str] = Field(
        default_factory=list,
        description="Addresses of the shared mailboxes to count (compared lower-cased). Empty: nothing is counted.",
        examples=[["borgerservice@kommune.dk", "byggesag@kommune.dk"]],
    )
    fields: ExchangeFields = Field(
        default_factory=ExchangeFields, description="Field names as the log's #Fields line spells them."
    )
    personal_fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PERSONAL_FIELDS),
        description="Further fields (as the #Fields line names them, case-insensitive) blanked in dead letters:"
        " by default the client's and server's IP addresses and host names and the reference. The sender,"
        " recipient, related-recipient, return-path and subject fields are blanked whatever this says.",
        examples=[["client-ip", "client-hostname", "custom-data"]],
    )

    @field_validator("shared_mailboxes")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        addresses: list[str] = []
        for raw in value:
            address = raw.strip().lower()
            local, at, domain = address.partition("@")
            if not (local and at and domain) or ";" in address or " " in address:
                raise ValueError(f"{raw!r} is not an e-mail address such as 'borgerservice@kommune.dk'")
            if address not in addresses:
                addresses.append(address)
        return addresses


logger = logging.getLogger(__name__)

# Event ids Exchange 2010-2019 write, skipped unless DELIVER or SEND; reasons stay bounded by this list.
# Microsoft's table of event types (learn.microsoft.com, Exchange Server "Message tracking", Event
# types in the message tracking log), then names seen in real logs that the table lacks.
_KNOWN_EVENTS = frozenset({
    "AGENTINFO", "BADMAIL", "CLIENTSUBMISSION", "DEFER", "DELIVER", "DELIVERFAIL", "DROP", "DSN",
    "DUPLICATEDELIVER", "DUPLICATEEXPAND", "DUPLICATEREDIRECT", "EXPAND", "FAIL", "HADISCARD", "HARECEIVE",
    "HAREDIRECT", "HAREDIRECTFAIL", "INITMESSAGECREATED", "LOAD", "MODERATIONEXPIRE", "MODERATORAPPROVE",
    "MODERATORREJECT", "MODERATORSALLNDR", "NOTIFYMAPI", "NOTIFYSHADOW", "POISONMESSAGE", "PROCESS",
    "PROCESSMEETINGMESSAGE", "RECEIVE", "REDIRECT", "RESOLVE", "RESUBMIT", "RESUBMITDEFER", "RESUBMITFAIL",
    "SEND", "SUBMIT", "SUBMITDEFER", "SUBMITFAIL", "SUPPRESSED", "THROTTLE", "TRANSFER",
    "SENDEXTERNAL", "RECIPIENTTHROTTLE", "SUBMITDROP", "MODERATORSEXPIRE", "MODERATORSEXPIRED",
})  # fmt: skip
_EVENT_SHAPE = re.compile(r"[A-Z]{2,40}")
_NULL_SENDERS = frozenset({"", "<>"})
# As Exchange writes it (2024-03-04T08:12:33.123Z); an offset is honoured, none means UTC.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?(?:Z|[+\-]\d{2}:\d{2})?")
_FIRST_YEAR, _LAST_YEAR = EARLIEST_YEAR, LATEST_YEAR
# Dead letters of rows whose columns cannot be aligned keep only fields of these shapes
# (timestamps, IPs, GUIDs, numbers, event ids): anything else may be a subject or an address.
_HARMLESS_FIELD = re.compile(r"[0-9A-Fa-f.:\-TZ+%{}]*")


class ExchangeTrackingParser(RecordParser[ExchangeTrackingConfig]):
    """Parses one tracking-log line into e-mail events, a Skip (headers, other events), or a RecordRejected."""

    kind: ClassVar[str] = "exchange_tracking"

    def __init__(self, config: ExchangeTrackingConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        # The mailboxes are few and fixed: classify each once.
        self._classes: dict[str, Classification] = {
            mailbox: context.mapping.classify(config.rule_set, mailbox) for mailbox in config.shared_mailboxes
        }
        self._wanted = {name: field for name, field in config.fields.model_dump().items() if field is not None}
        self._personal = frozenset(name.strip().casefold() for name in config.personal_fields)
        if not self._classes:
            logger.warning("exchange_tracking has no shared_mailboxes configured: no e-mail will be counted")
        self._file = ""
        self._width = 0  # columns per row; 0 until this file's #Fields line is read
        self._fields_problem: str | None = None
        self._date_at = self._event_at = self._message_at = self._recipient_at = self._sender_at = 0
        self._message_field = config.fields.network_message_id  # the field that identifies a message here
        self._personal_at: tuple[int, ...] = ()

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """Take this file's column order from its header block, so a read resumed from a
        checkpoint (past the #Fields line) still knows it; each file brings its own."""
        self._file = path
        self._width = 0
        self._fields_problem = None
        for line in _header_block(path):
            text = line.decode("utf-8-sig", "replace").rstrip("\r\n")
            if text.startswith("#Fields:"):
                self._read_fields(text[8:])

    def _read_fields(self, names_text: str) -> None:
        names = [name.strip() for name in names_text.split(",")]
        positions: dict[str, int] = {}
        for position, name in enumerate(names):
            positions.setdefault(name, position)
        message = "network_message_id" if self._wanted["network_message_id"] in positions else "message_id"
        missing = {name: self._wanted[name] for name in (*_READ, message) if self._wanted[name] not in positions}
        if missing:
            wanted = ", ".join(f"{field!r} (fields.{name})" for name, field in missing.items())
            if "message_id" in missing:
                wanted += f" or {self._wanted['network_message_id']!r} (fields.network_message_id)"
            self._width = 0
            # Short: it is the reason of one dead letter, whose raw record is this #Fields line.
            self._fields_problem = (
                f"#Fields line of {self._file} lacks {wanted} among its {len(names)} fields: fix the fields"
                " mapping; the file's rows are skipped as 'row under an unusable #Fields line'"
            )
            logger.warning("exchange tracking #Fields line rejected: %s", self._fields_problem)
            return
        self._fields_problem = None
        self._width = len(names)
        self._message_field = self._wanted[message]
        if message == "message_id":
            logger.info("%s has no %r field (an Exchange 2010 log): messages are identified by %r",
                        self._file, self._wanted["network_message_id"], self._message_field)
        at = {name: positions[field] for name, field in self._wanted.items() if field in positions}
        self._date_at, self._event_at = at["date_time"], at["event_id"]
        self._message_at = at[message]
        self._recipient_at, self._sender_at = at["recipient_address"], at["sender_address"]
        blanked = {at[name] for name in _PERSONAL if name in at}
        blanked.update(i for i, name in enumerate(names) if name.casefold() in self._personal)
        self._personal_at = tuple(sorted(blanked))

    def parse(self, record: bytes, location: Location) -> list[InquiryEvent] | Skip:
        if not record or record.isspace():  # a blank line says nothing: counted, not dead-lettered
            return Skip(reason="blank line")
        text = decode_record(record).removesuffix("\r")
        if text.startswith(("#", "\ufeff#")):
            text = text.removeprefix("\ufeff")
            if text.startswith("#Fields:"):
                self._read_fields(text[8:])
                if self._fields_problem is not None:
                    raise RecordRejected(self._fields_problem)  # once per file, not once per row
            return Skip(reason="header")
        if not self._width:
            if self._fields_problem is not None:
                return Skip(reason="row under an unusable #Fields line")
            raise RecordRejected(
                f"row before any #Fields line in {self._file}: the column order is unknown; a message"
                " tracking log starts with its # header lines"
            )
        fields = text.split(",") if '"' not in text else _csv_fields(text)
        if len(fields) != self._width:
            raise RecordRejected(f"{len(fields)} fields, the #Fields line names {self._width} separated by ,")

        at = self._time(fields[self._date_at])
        verb = fields[self._event_at]
        if verb == "DELIVER":
            return self._delivered(fields, at, location)
        if verb == "SEND":
            return self._sent(fields, at, location)
        if verb in _KNOWN_EVENTS:
            return Skip(reason=f"event {verb}")
        if _EVENT_SHAPE.fullmatch(verb):
            return Skip(reason="unknown event")
        raise RecordRejected(
            f"bad {self._config.fields.event_id} {shown(verb)}: expected a tracking event such as DELIVER or SEND"
        )

    def _delivered(self, fields: list[str], at: datetime, location: Location) -> list[InquiryEvent] | Skip:
        mailboxes: list[str] = []
        for address in fields[self._recipient_at].lower().split(";"):
            address = address.strip()
            if address in self._classes and address not in mailboxes:
                mailboxes.append(address)
        if not mailboxes:
            return Skip(reason="not to a shared mailbox")
        sender = fields[self._sender_at].strip().lower()
        if sender in _NULL_SENDERS:
            return Skip(reason="null sender (bounce or delivery report)")
        message = self._message_id(fields)
        key = self._context.keyer.key(sender)
        return [self._event(location, message, mailbox, Direction.inbound, at, key) for mailbox in mailboxes]

    def _sent(self, fields: list[str], at: datetime, location: Location) -> list[InquiryEvent] | Skip:
        mailbox = fields[self._sender_at].strip().lower()
        if mailbox not in self._classes:
            return Skip(reason="not from a shared mailbox")
        return [self._event(location, self._message_id(fields), mailbox, Direction.outbound, at, None)]

    def _message_id(self, fields: list[str]) -> str:
        message = fields[self._message_at].strip()
        if not message:
            raise RecordRejected(f"empty {self._message_field}: without it copies of a message cannot be told apart")
        return message

    def _time(self, raw: str) -> datetime:
        if _DATE_TIME.fullmatch(raw) is None:
            raise RecordRejected(
                f"bad {self._config.fields.date_time} {shown(raw)}: expected UTC ISO 8601 such as"
                " 2024-03-04T08:12:33.123Z"
            )
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise RecordRejected(f"bad {self._config.fields.date_time} {shown(raw)}: not a calendar date") from None
        if not _FIRST_YEAR <= parsed.year <= _LAST_YEAR:
            raise RecordRejected(f"{self._config.fields.date_time} {shown(raw)} is outside {_FIRST_YEAR}-{_LAST_YEAR}")
        utc = (parsed.replace(tzinfo=self._zone) if parsed.tzinfo is None else parsed).astimezone(timezone.utc)
        if not _FIRST_YEAR <= utc.year <= _LAST_YEAR:  # 2100-01-01T00:30+01:00 is still 2099 in UTC, and so on
            raise RecordRejected(
                f"{self._config.fields.date_time} {shown(raw)} is outside {_FIRST_YEAR}-{_LAST_YEAR} in UTC"
            )
        return utc

    def _event(
        self,
        location: Location,
        message: str,
        mailbox: str,
        direction: Direction,
        occurred_at: datetime,
        contact_key: str | None,
    ) -> InquiryEvent:
        # The ids are namespaced by the organisation, not the system: a message logged on two
        # servers (two entries, two systems) keeps one id. The time is _time's (UTC, 2000-2099),
        # the mailbox a configured address (EventBuilder checks its length, as the queue).
        return self._events.event(
            location,
            f"{message}|{mailbox}|{direction.value}",
            Channel.email,
            Stage.arrived,
            occurred_at,
            self._classes[mailbox],
            mailbox,
            contact_key=contact_key,
            direction=direction,
            namespace=self._config.organisation,
        )

    def redact(self, record: str) -> str:
        """A rejected row fit for the dead-letter topic: sender, recipients, return path, subject, the
        client's and server's addresses and host names and the reference (personal_fields) blanked
        when the row lines up with this file's #Fields; otherwise every field that is not plainly a
        timestamp, IP address, id or number (generic masking then replaces the IP addresses)."""
        text = record.removeprefix("\ufeff")
        if not text or text.startswith("#"):
            return record
        try:
            fields = _csv_fields(text)
        except RecordRejected:
            return "<row redacted: not a CSV line>"
        if self._width and len(fields) == self._width:
            for position in self._personal_at:
                if fields[position]:
                    fields[position] = "<redacted>"
        else:
            fields = [
                field if field in _KNOWN_EVENTS or _HARMLESS_FIELD.fullmatch(field) else "<redacted>"
                for field in fields
            ]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(fields)
        return out.getvalue()


def _csv_fields(text: str) -> list[str]:
    """A row with quoted fields (commas inside quotes, "" for a quote)."""
    try:
        return next(csv.reader((text,)), [])
    except csv.Error as exc:
        raise RecordRejected(f"not a CSV line: {exc}") from None

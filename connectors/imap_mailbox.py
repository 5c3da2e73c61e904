"""Shared mailboxes ("fællespostkasser") over IMAP -> e-mail InquiryEvents, from headers only.

Each poll asks every configured folder of every shared mailbox for the messages above the
folder's checkpoint (UIDVALIDITY and last UID), fetches seven header fields with BODY.PEEK
(bodies are never fetched, \\Seen flags never change; folders are opened read-only with
EXAMINE), turns each message into one event, produces the events and only then moves the
checkpoint. This module is the config and the pure core, `ImapHeaderParser` (header bytes -> events or a
rejection); connectors/imap_session.py talks IMAP, connectors/imap_source.py is the source
(checkpoints per folder and the poll loop, on the Outbox every source shares).

Choices where the mailbox is silent:
- Direction: a message in an inbound folder is inbound unless its From is the mailbox's own
  address (a reply filed in the inbox); everything in the Sent folder is outbound. Stage is
  `arrived` both ways, as in the Exchange tracking connector.
- Event id: the reference is `message-id|mailbox|direction`, as for Exchange tracking, so a
  message filed in two folders, or read again after the folder's UIDVALIDITY changed, keeps
  its id and the worker drops the copy. Without a Message-ID the reference falls back to
  `mailbox/folder/uidvalidity/uid`: stable until the folder is recreated.
- Time: the Date header, when the sender wrote the message (it reaches the mailbox seconds
  later). A message without a readable Date is dead-lettered, never dated by guesswork.
- Threading: an inbound message with In-Reply-To or References continues an earlier
  conversation. That says the earlier inquiry was not settled at first contact, not whether
  this one will be, so `resolved_first_contact` stays None (unknown at arrival) on every
  message; the repeat shows up where it belongs, in repeat contacts (same `contact_key`,
  same task, within N days: `kpi_repeat_contacts`).
- The sender address becomes `contact_key` (inbound only: outbound, the sender is the
  mailbox). Messages from MAILER-DAEMON or postmaster are delivery reports, skipped like
  null senders in Exchange tracking. To is fetched only so that dead letters can blank it.
- The subject is read only by `subject_rules`, in memory, to refine the task; it is never
  put in an event, a log line, a rejection reason or a dead letter.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from connectors.base import ConnectorContext, ConnectorError, RecordRejected, Skip
from connectors.config import ConnectorConfig, rule_set_field, system_field
from connectors.mapping import Classification
from pipeline.ground.errors import TerminalError, TransientError
from pipeline.ground.privacy import RAW_KEPT, cut, masked_excerpt, shown
from schemas import Channel, DeadLetter, Direction, InquiryEvent, SourceRef, Stage, make_event_id, make_inquiry_id
from schemas.inquiry import EARLIEST_YEAR, LATEST_YEAR, REASON_MAX, TASK_PATTERN

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

KIND = "imap_mailbox"


# --- errors --------------------------------------------------------------------------


class ImapError(ConnectorError):
    """Base of the IMAP connector's errors."""


class ImapUnavailable(ImapError, TransientError):
    """Transient: the server did not answer or dropped the connection. With --follow the
    connector reconnects with backoff; a single pass stops, and the next run resumes."""


class ImapRefused(ImapError, TerminalError):
    """Terminal: retrying cannot help until an operator changes the configuration."""


class ImapLoginFailed(ImapRefused):
    """The server refused the username or password."""


class ImapTlsFailed(ImapRefused):
    """TLS could not be set up: wrong mode for the port, no STARTTLS, or an untrusted certificate."""


class ImapFolderMissing(ImapRefused):
    """A configured folder does not exist (or the login may not open it)."""


class ImapConfigError(ImapRefused):
    """The configuration does not fit the mapping rules or the checkpoint file is unreadable."""


# --- configuration -------------------------------------------------------------------


def _is_address(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(local and at and domain) and not any(c in address for c in ' ;,<>"\t')


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SubjectRule(BaseModel):
    """Refines the mailbox's task by the subject, in memory only."""

    model_config = ConfigDict(extra="forbid")

    match: str = Field(
        min_length=1, description="Glob on the decoded subject, case-insensitive; first matching rule wins.",
        examples=["*pas*"],
    )
    task: str = Field(
        pattern=TASK_PATTERN, description="KLE code to count the message under; must be listed under 'tasks' in"
        " the mapping file.", examples=["85.06.00"],
    )
    department: str = Field(default="", description="Department instead of the mailbox's; empty keeps the mailbox's.")


class SharedMailbox(BaseModel):
    """One shared mailbox: its address (the key of the mailbox rule set) and where its mail lies."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        description="The shared mailbox's address; the `mailbox` rules map it to task and department.",
        examples=["borgerservice@kommune.dk"],
    )
    folders: list[str] = Field(
        default_factory=lambda: ["INBOX"],
        description="Folders whose messages arrived at the mailbox (inbound), as a mail client names them.",
        examples=[["INBOX", "INBOX.Flytning"]],
    )
    sent_folder: str | None = Field(
        default=None,
        description="Folder of the mailbox's sent messages (outbound), e.g. 'Sent' or 'Sendt post'. None: only"
        " messages from the mailbox's own address in its inbound folders count as outbound.",
    )
    username: str | None = Field(
        default=None,
        description="IMAP login for this mailbox; None uses the connector's username (a service account that"
        " sees the shared folders).",
    )
    password: SecretStr | None = Field(default=None, description="Password for `username`; None: the connector's.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        address = value.strip().lower()
        if not _is_address(address):
            raise ValueError(f"{value!r} is not an e-mail address such as 'borgerservice@kommune.dk'")
        return address

    @model_validator(mode="after")
    def _folders(self) -> SharedMailbox:
        named = [*self.folders, *([self.sent_folder] if self.sent_folder is not None else [])]
        if not named:
            raise ValueError(f"{self.address}: no folders and no sent_folder: nothing to read")
        for folder in named:
            if not folder.strip() or _CONTROL.search(folder):
                raise ValueError(f"{self.address}: folder name {folder!r} is empty or has control characters")
        if len(set(named)) != len(named):
            raise ValueError(f"{self.address}: a folder is named twice (a sent_folder cannot also be inbound)")
        return self


class ImapMailboxConfig(ConnectorConfig):
    """Where the IMAP server is, how to log in, and which shared mailboxes and folders to count."""

    system: str = system_field("imap", "the mail system", "imap-kommune")
    host: str = Field(default="localhost", min_length=1, description="IMAP server.", examples=["imap.kommune.dk"])
    port: int = Field(
        default=143, ge=1, le=65535, description="IMAP port; 143 by default, 993 when tls is 'ssl' and no port is set.",
    )
    tls: Literal["none", "starttls", "ssl"] = Field(
        default="starttls",
        description="'starttls' (port 143), 'ssl' (implicit TLS, port 993) or 'none' (plain text: only allowed"
        " to a loopback host, e.g. a local stunnel or a test server, so a password never crosses a network"
        " in clear).",
    )
    ca_file: Path | None = Field(
        default=None, description="PEM file of the CA that signed the server's certificate; None: the system's CAs.",
    )
    username: str = Field(default="", description="IMAP login used for every mailbox without its own username.")
    password: SecretStr = Field(default=SecretStr(""), description="Password of `username`; never printed or logged.")
    rule_set: str = rule_set_field("mailbox", "shared-mailbox addresses")
    mailboxes: list[SharedMailbox] = Field(
        default_factory=list, description="The shared mailboxes to count. Empty: nothing is read.",
    )
    subject_rules: list[SubjectRule] = Field(
        default_factory=list,
        description="Optional refinement of the task by subject; the subject itself is never stored.",
    )
    poll_seconds: float = Field(default=60.0, gt=0, description="With --follow: pause between two polls.")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Longest wait for the server on one command.")
    fetch_batch: int = Field(
        default=500, ge=1, description="Messages' headers per UID FETCH; the checkpoint moves after each batch.",
    )
    reconnect_initial_seconds: float = Field(
        default=1.0, gt=0, description="With --follow: first pause after a lost connection; doubles each failure.",
    )
    reconnect_max_seconds: float = Field(default=300.0, gt=0, description="Longest pause between reconnects.")

    @model_validator(mode="after")
    def _fits(self) -> ImapMailboxConfig:
        if self.tls == "ssl" and "port" not in self.model_fields_set:
            self.port = 993
        if self.tls == "none" and not _loopback(self.host):
            raise ValueError(
                f"tls: none would send the password to {self.host} in clear text; use starttls or ssl"
                " (tls: none is allowed only to a loopback host)"
            )
        addresses = [mailbox.address for mailbox in self.mailboxes]
        if len(set(addresses)) != len(addresses):
            raise ValueError("a shared mailbox is listed twice under mailboxes")
        for mailbox in self.mailboxes:
            if not (mailbox.username or self.username):
                raise ValueError(f"{mailbox.address} has no username: set username for the connector or the mailbox")
        return self

    def login(self, mailbox: SharedMailbox) -> tuple[str, str]:
        """The username and password to open `mailbox` with."""
        if mailbox.username:
            password = mailbox.password if mailbox.password is not None else self.password
            return mailbox.username, password.get_secret_value()
        return self.username, self.password.get_secret_value()


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- the pure core: header bytes -> events or a rejection ------------------------------


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message lies. Its SourceRef names `mailbox/folder` as file and the UID as line."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int
    sent: bool = False  # the folder is the mailbox's sent folder

    @property
    def where(self) -> str:
        return f"{self.mailbox}/{self.folder} UID {self.uid} (UIDVALIDITY {self.uidvalidity})"

    def source_ref(self, system: str) -> SourceRef:
        return SourceRef(system=system, file=f"{self.mailbox}/{self.folder}", line=self.uid)


_FIELD_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except the colon (RFC 5322 ftext)
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
_BARE_ADDRESS = re.compile(r"(?<![^\s,;:(])([^\s<>(),;:\"@]+@[^\s<>(),;:\"@]+)")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_DELIVERY_REPORTS = frozenset({"mailer-daemon", "postmaster"})
_ADDRESS_FIELDS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
_KEPT_FIELDS = frozenset({"date", "message-id", "in-reply-to", "references"})


def _decode(header: bytes) -> str:
    try:
        return header.decode("utf-8")
    except UnicodeDecodeError:
        return header.decode("latin-1")  # never fails: 8-bit headers from old clients are mostly Latin-1


def split_header_fields(text: str) -> tuple[list[tuple[str, str]], int]:
    """Unfolded (name, value) pairs up to the first empty line, and the number of other lines
    (not `name: value`, not a continuation) that were left out. Never raises."""
    fields: list[tuple[str, str]] = []
    other = 0
    for line in re.split(r"\r\n|\n|\r", text):
        if not line:
            if fields or other:
                break
            continue
        if line[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}")
            else:
                other += 1
            continue
        name, colon, value = line.partition(":")
        if colon and _FIELD_NAME.fullmatch(name.rstrip(" \t")):
            fields.append((name.rstrip(" \t"), value.strip()))
        else:
            other += 1
    return fields, other


def _first(fields: list[tuple[str, str]], name: str) -> str | None:
    for key, value in fields:
        if key.lower() == name:
            return value
    return None


def sender_address(value: str) -> str | None:
    """The first address in a From value, lower-cased; None when there is none."""
    found = _ANGLE_ADDRESS.search(value) or _BARE_ADDRESS.search(value)
    if found is None:
        return None
    address = found.group(1).strip().rstrip(".").lower()
    return address if _is_address(address) else None


def _subject_text(value: str) -> str:
    """The subject with RFC 2047 encoded words decoded, for matching only."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - best effort for classification: any broken encoding leaves it as written
        return value


class ImapHeaderParser:
    """Turns one message's header fields into an e-mail event, a Skip, or a RecordRejected."""

    kind: ClassVar[str] = KIND

    def __init__(self, config: ImapMailboxConfig, context: ConnectorContext) -> None:
        self._config = config
        self._context = context
        self._system = config.system
        # The mailboxes are few and fixed: classify each once.
        self._classes: dict[str, Classification] = {
            mailbox.address: context.mapping.classify(config.rule_set, mailbox.address)
            for mailbox in config.mailboxes
        }
        for number, rule in enumerate(config.subject_rules):
            if rule.task not in context.mapping.tasks and rule.task != "unclassified":
                raise ImapConfigError(
                    f"subject_rules[{number}] names task {rule.task}, which is not under 'tasks' in the mapping"
                    " rules: add it there with its label"
                )
        if not config.mailboxes:
            logger.warning("imap_mailbox has no mailboxes configured: no e-mail will be counted")

    def _classification(self, mailbox: str, subject: str | None) -> Classification:
        base = self._classes.get(mailbox) or self._context.mapping.classify(self._config.rule_set, mailbox)
        if subject is None or not self._config.subject_rules:
            return base
        lowered = _subject_text(subject).lower()
        for rule in self._config.subject_rules:
            if fnmatch.fnmatchcase(lowered, rule.match.lower()):
                return base.model_copy(update={
                    "task": rule.task,
                    "task_label": self._context.mapping.tasks.get(rule.task, ""),
                    "department": rule.department or base.department,
                })
        return base

    def parse_message(self, header: bytes, ref: MessageRef) -> list[InquiryEvent] | Skip:
        """One message's header fields -> one event or a Skip; raises RecordRejected for bad input."""
        fields, _ = split_header_fields(_decode(header))
        raw_from = _first(fields, "from")
        if raw_from is None:
            raise RecordRejected(f"{ref.where}: no From header: the sender cannot be told")
        sender = sender_address(raw_from)
        if sender is None:
            raise RecordRejected(f"{ref.where}: From holds no e-mail address")
        raw_date = _first(fields, "date")
        if raw_date is None:
            raise RecordRejected(f"{ref.where}: no Date header: the message cannot be dated")
        occurred_at = self._time(raw_date, ref)
        if sender.partition("@")[0] in _DELIVERY_REPORTS:
            return Skip(reason="delivery report")

        direction = Direction.outbound if ref.sent or sender == ref.mailbox else Direction.inbound
        message_id = _MESSAGE_ID.search(_first(fields, "message-id") or "")
        message = message_id.group(0) if message_id else f"{ref.mailbox}/{ref.folder}/{ref.uidvalidity}/{ref.uid}"
        inbound = direction is Direction.inbound
        return [InquiryEvent(
            event_id=make_event_id(self._system, f"{message}|{ref.mailbox}|{direction.value}", Stage.arrived.value),
            inquiry_id=make_inquiry_id(self._system, f"{message}|{ref.mailbox}|{direction.value}"),
            occurred_at=occurred_at,
            municipality=self._context.municipality,
            channel=Channel.email,
            direction=direction,
            stage=Stage.arrived,
            **self._classification(ref.mailbox, _first(fields, "subject")).event_fields(),
            queue=ref.mailbox,
            contact_key=self._context.keyer.key(sender) if inbound else None,
            source=ref.source_ref(self._system),
        )]

    def _time(self, raw: str, ref: MessageRef) -> datetime:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is None:
            raise RecordRejected(
                f"{ref.where}: bad Date {shown(raw)}: expected RFC 5322 such as 'Mon, 4 Mar 2024 09:12:00 +0100'"
            )
        if parsed.tzinfo is None:  # '-0000': the zone is unknown; UTC is the RFC's reading
            parsed = parsed.replace(tzinfo=UTC)
        try:
            utc = parsed.astimezone(UTC)
        except OverflowError:
            utc = parsed
        if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
            raise RecordRejected(f"{ref.where}: Date {shown(raw)} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
        return utc

    def outcome(self, header: bytes, ref: MessageRef) -> list[InquiryEvent] | Skip | DeadLetter:
        """parse_message, with every rejection turned into a dead letter: never raises."""
        try:
            return self.parse_message(header, ref)
        except RecordRejected as exc:
            reason = exc.reason
        except ValidationError as exc:
            error = exc.errors()[0]
            reason = f"{ref.where}: makes an invalid event: {'.'.join(map(str, error['loc']))}: {error['msg']}"
        except Exception as exc:  # noqa: BLE001 - hostile header bytes must cost one dead letter, never the connector
            reason = f"{ref.where}: the header could not be read ({type(exc).__name__})"
        logger.warning("rejected %s", reason)
        return DeadLetter(
            connector=KIND,
            source=ref.source_ref(self._system),
            reason=cut(reason, REASON_MAX - 64),
            raw=masked_excerpt(self.redact(header[: 4 * RAW_KEPT])),
            rejected_at=datetime.now(UTC),
        )

    def redact(self, header: bytes) -> str:
        """Header text fit for a dead letter (before generic masking): the subject blanked,
        addresses and display names replaced by <email>, any field this connector did not ask
        for blanked with its name, and lines that are not fields left out."""
        fields, other = split_header_fields(_decode(header))
        lines: list[str] = []
        for name, value in fields:
            key = name.lower()
            if key in _ADDRESS_FIELDS:
                found = len(_ANGLE_ADDRESS.findall(value)) or len(_BARE_ADDRESS.findall(value))
                value = ", ".join(["<email>"] * found) if found else "<no address>"
            elif key == "subject":
                value = "<redacted>"
            elif key not in _KEPT_FIELDS:
                name, value = "<other field>", "<redacted>"  # asked for seven fields; a server sent more
            lines.append(f"{name}: {value}")
        if other:
            lines.append(f"<{other} line(s) that are not header fields: redacted>")
        return "\n".join(lines)

"""Shared mailboxes ("fællespostkasser") over IMAP -> e-mail InquiryEvents, from headers only.

Each poll asks every configured folder of every shared mailbox for the messages above the
folder's checkpoint (UIDVALIDITY and last UID), fetches seven header fields with BODY.PEEK
(bodies are never fetched, \\Seen flags never change; folders are opened read-only with
EXAMINE), turns each message into one event, produces the events and only then moves the
checkpoint. `ImapHeaderParser` is the pure core (header bytes -> events or a rejection),
`ImapMailboxConnector` the edge (IMAP sessions, checkpoints, the poll loop).

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

import asyncio
import base64
import fnmatch
import imaplib
import ipaddress
import json
import logging
import os
import re
import ssl
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from connectors.base import ConnectorConfig, ConnectorContext, ConnectorError, RecordRejected, Skip
from connectors.mapping import Classification
from connectors.runtime import ConnectorStats, Unconfirmed
from pipeline.ground import metrics
from pipeline.ground.privacy import RAW_KEPT, cut, masked_excerpt, shown
from pipeline.sinks.base import EventSink
from pipeline.sinks.kafka import ProduceFailed
from schemas import Channel, DeadLetter, Direction, InquiryEvent, SourceRef, Stage, make_event_id, make_inquiry_id
from schemas.inquiry import EARLIEST_YEAR, LATEST_YEAR, REASON_MAX, TASK_PATTERN

if TYPE_CHECKING:
    from pipeline.ground.settings import Settings

logger = logging.getLogger(__name__)

KIND = "imap_mailbox"
HEADER_FIELDS = ("DATE", "MESSAGE-ID", "FROM", "TO", "IN-REPLY-TO", "REFERENCES", "SUBJECT")
# The only thing ever fetched: the UID and these header fields, PEEK so \Seen stays as it is.
FETCH_ITEMS = f"(UID BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})])"


# --- errors --------------------------------------------------------------------------


class ImapError(ConnectorError):
    """Base of the IMAP connector's errors."""


class ImapUnavailable(ImapError):
    """Transient: the server did not answer or dropped the connection. With --follow the
    connector reconnects with backoff; a single pass stops, and the next run resumes."""


class ImapRefused(ImapError):
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

    system: str = Field(
        default="imap", min_length=1,
        description="Name of the mail system; part of every event id and of the checkpoint file's name.",
        examples=["imap-kommune"],
    )
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
    rule_set: str = Field(
        default="mailbox", min_length=1,
        description="Rule set in the mapping file that maps shared-mailbox addresses to task and department.",
    )
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


# --- IMAP sessions (blocking; called through asyncio.to_thread) -------------------------


def encode_folder(name: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def close_run() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + data.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            close_run()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    close_run()
    return _quoted("".join(out))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None  # None when the server did not say


_UID = re.compile(rb"\bUID (\d+)")


def parse_fetch_response(data: list[object]) -> dict[int, bytes]:
    """UID -> header bytes from imaplib's answer to UID FETCH; unsolicited FETCH responses
    (flag changes made by other clients) carry no BODY and are left out."""
    found: dict[int, bytes] = {}
    items = list(data)
    for index, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2:
            prefix, literal = item
            if not isinstance(prefix, bytes) or b"BODY[" not in prefix:
                continue
            uid = _UID.search(prefix)
            if uid is None and index + 1 < len(items) and isinstance(items[index + 1], bytes):
                uid = _UID.search(items[index + 1])  # type: ignore[arg-type]  # UID after the literal
            if uid is not None:
                found[int(uid.group(1))] = literal if isinstance(literal, bytes) else b""
        elif isinstance(item, bytes) and b"BODY[" in item:  # an empty header sent as "" or NIL
            uid = _UID.search(item)
            if uid is not None:
                found.setdefault(int(uid.group(1)), b"")
    return found


class ImapSession:
    """One logged-in IMAP connection. Every method blocks; the connector calls them in a thread."""

    def __init__(self, config: ImapMailboxConfig, username: str, password: str) -> None:
        self._config = config
        self._username = username
        self._password = password
        self._conn: imaplib.IMAP4 | None = None

    @property
    def _server(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def _tls_context(self) -> ssl.SSLContext | None:
        if self._config.tls == "none":
            return None
        ca_file = self._config.ca_file
        try:
            return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ImapTlsFailed(f"ca_file {ca_file} cannot be used ({exc}): name a readable PEM file") from exc

    def open(self) -> None:
        config = self._config
        context = self._tls_context()
        try:
            if config.tls == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    config.host, config.port, ssl_context=context, timeout=config.timeout_seconds
                )
            else:
                conn = imaplib.IMAP4(config.host, config.port, timeout=config.timeout_seconds)
            self._conn = conn
            if config.tls == "starttls":
                if "STARTTLS" not in conn.capabilities:
                    self.close()
                    raise ImapTlsFailed(
                        f"the IMAP server {self._server} does not offer STARTTLS: set tls: ssl (port 993) if it"
                        " speaks TLS from the start"
                    )
                conn.starttls(ssl_context=context)
        except ssl.SSLError as exc:
            self.close()
            raise ImapTlsFailed(
                f"TLS with the IMAP server {self._server} failed ({exc.reason or exc}): check tls (ssl for 993,"
                " starttls for 143) and ca_file"
            ) from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            self.close()
            raise ImapUnavailable(f"cannot reach the IMAP server {self._server}: {exc}") from exc
        try:
            typ, data = conn.login(_quoted(self._username), self._password)
        except imaplib.IMAP4.abort as exc:
            self.close()
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection at login: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            self.close()
            if "[UNAVAILABLE]" in _text(exc).upper():  # RFC 5530: the auth backend is down for now
                raise ImapUnavailable(f"the IMAP server {self._server} cannot check logins now: {_text(exc)}") from exc
            raise ImapLoginFailed(
                f"the IMAP server {self._server} refused the login of {self._username!r} ({_text(exc)}): check"
                " username and password in the imap_mailbox config"
            ) from exc
        except UnicodeEncodeError as exc:
            self.close()
            raise ImapLoginFailed(
                f"the username or password for {self._server} has non-ASCII characters, which IMAP LOGIN cannot send"
            ) from exc
        except OSError as exc:
            self.close()
            raise ImapUnavailable(f"lost the IMAP server {self._server} at login: {exc}") from exc
        if typ != "OK":  # imaplib raises on NO; kept for servers answering otherwise
            self.close()
            raise ImapLoginFailed(f"the IMAP server {self._server} refused the login of {self._username!r}: {data!r}")

    def examine(self, folder: str) -> FolderState:
        """Open `folder` read-only (EXAMINE) and read its UIDVALIDITY and UIDNEXT."""
        conn = self._live()
        try:
            typ, data = conn.select(encode_folder(folder), readonly=True)
            validity = conn.response("UIDVALIDITY")[1]
            uidnext = conn.response("UIDNEXT")[1]
        except imaplib.IMAP4.abort as exc:
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection: {exc}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"EXAMINE {folder!r} on {self._server} failed: {exc}") from exc
        if typ != "OK":
            raise ImapFolderMissing(
                f"the IMAP server {self._server} cannot open folder {folder!r} for {self._username!r}"
                f" ({_text(data)}): check the folder names of the mailbox in the imap_mailbox config"
            )
        try:
            uidvalidity = int(validity[-1])
        except (TypeError, ValueError, IndexError):
            raise ImapRefused(
                f"the IMAP server {self._server} sent no UIDVALIDITY for {folder!r}: its UIDs cannot be checkpointed"
            ) from None
        try:
            next_uid: int | None = int(uidnext[-1])
        except (TypeError, ValueError, IndexError):
            next_uid = None
        return FolderState(uidvalidity, next_uid)

    def search_uids(self, first: int) -> list[int]:
        """UIDs of the messages from UID `first` on, ascending."""
        conn = self._live()
        try:
            typ, data = conn.uid("SEARCH", f"UID {first}:*")
        except imaplib.IMAP4.abort as exc:
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection: {exc}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"UID SEARCH on {self._server} failed: {exc}") from exc
        if typ != "OK":
            raise ImapUnavailable(f"UID SEARCH on {self._server} answered {typ}: {_text(data)}")
        found = {int(uid) for line in data if isinstance(line, bytes) for uid in line.split() if uid.isdigit()}
        # `n:*` always includes the newest message, even when its UID is below n: keep the asked range.
        return sorted(uid for uid in found if uid >= first)

    def fetch_headers(self, first: int, last: int) -> dict[int, bytes]:
        """Header fields of the messages with first <= UID <= last."""
        conn = self._live()
        uids = f"{first}:{last}"
        try:
            typ, data = conn.uid("FETCH", uids, FETCH_ITEMS)
        except imaplib.IMAP4.abort as exc:
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection: {exc}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"UID FETCH on {self._server} failed: {exc}") from exc
        if typ != "OK":
            raise ImapUnavailable(f"UID FETCH on {self._server} answered {typ}: {_text(data)}")
        return {uid: header for uid, header in sorted(parse_fetch_response(data).items()) if first <= uid <= last}

    def _live(self) -> imaplib.IMAP4:
        if self._conn is None:
            raise ImapUnavailable(f"not connected to the IMAP server {self._server}")
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.logout()
        except Exception as exc:  # noqa: BLE001 - closing a broken connection: nothing left to save
            logger.debug("IMAP logout from %s failed (%s): closing the socket", self._server, exc)
            try:
                conn.shutdown()
            except OSError as exc:
                logger.debug("closing the socket to %s failed: %s", self._server, exc)


def _text(value: object) -> str:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, BaseException) and value.args:
        value = value.args[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:200]


# --- checkpoints ---------------------------------------------------------------------


@dataclass
class FolderPosition:
    uidvalidity: int
    last_uid: int


class ImapCheckpoints:
    """UIDVALIDITY and last UID read per `mailbox/folder`, in one JSON file, replaced
    atomically. Without a path they live in memory (--dry-run: re-read on every start)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.folders: dict[str, FolderPosition] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.folders = {key: FolderPosition(**pos) for key, pos in data.get("folders", {}).items()}
            except (ValueError, TypeError, AttributeError) as exc:
                raise ImapConfigError(
                    f"checkpoint file {path} is unreadable ({exc}): delete it to read every folder again (event ids"
                    " are stable, so messages read before are dropped downstream)"
                ) from exc

    @classmethod
    def for_config(cls, settings: Settings, config: ImapMailboxConfig) -> ImapCheckpoints:
        return cls(settings.connectors.checkpoint_dir / f"{KIND}-{config.system}.json")

    def first_uid(self, key: str, uidvalidity: int) -> int:
        """The first UID not yet read in folder `key`; 1 when the folder is new or was recreated."""
        saved = self.folders.get(key)
        if saved is None:
            return 1
        if saved.uidvalidity != uidvalidity:
            logger.warning(
                "UIDVALIDITY of %s changed from %d to %d: the folder was recreated or restored, so its UIDs"
                " were reassigned; reading it from the start (event ids are stable, so messages counted before"
                " are dropped downstream as duplicates)", key, saved.uidvalidity, uidvalidity,
            )
            return 1
        return saved.last_uid + 1

    def save(self, key: str, uidvalidity: int, last_uid: int) -> None:
        position = FolderPosition(uidvalidity, last_uid)
        if self.folders.get(key) == position:
            return
        self.folders[key] = position
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"folders": {name: vars(pos) for name, pos in self.folders.items()}}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


# --- the poll loop -------------------------------------------------------------------


@dataclass
class _Pending:
    by_key: defaultdict[str, list[InquiryEvent]] = field(default_factory=lambda: defaultdict(list))
    letters: list[DeadLetter] = field(default_factory=list)


class ImapMailboxConnector:
    """Polls the configured folders and produces their messages' events, checkpointing per folder."""

    def __init__(
        self,
        config: ImapMailboxConfig,
        context: ConnectorContext,
        sink: EventSink,
        checkpoints: ImapCheckpoints | None = None,
        *,
        batch_events: int = 500,
        confirm_seconds: float = 30.0,
        session_class: type[ImapSession] = ImapSession,
    ) -> None:
        self.config = config
        self.parser = ImapHeaderParser(config, context)
        self.sink = sink
        self.checkpoints = checkpoints if checkpoints is not None else ImapCheckpoints(None)
        self.batch_events = batch_events
        self.confirm_seconds = confirm_seconds
        self.stats = ConnectorStats()
        self._session_class = session_class
        self._sessions: dict[str, ImapSession] = {}
        self._folders_read: set[str] = set()
        self._pending = _Pending()

    async def run(self, follow: bool = False, stop: asyncio.Event | None = None) -> ConnectorStats:
        """One pass over every folder; with `follow`, poll until `stop` is set, reconnecting with
        backoff after a lost connection. Terminal errors (login, TLS, folder) always raise."""
        delay = self.config.reconnect_initial_seconds
        try:
            while True:
                try:
                    await self.poll_once()
                    delay = self.config.reconnect_initial_seconds
                    pause = self.config.poll_seconds
                except (ImapUnavailable, ProduceFailed, Unconfirmed) as exc:
                    self._pending = _Pending()  # not confirmed, checkpoint not moved: read again after reconnect
                    discard = getattr(self.sink, "discard", None)
                    if discard is not None:
                        discard()
                    await self._close_sessions()
                    if not follow:
                        raise
                    logger.warning("%s; reconnecting in %.0fs", exc, delay)
                    pause, delay = delay, min(delay * 2, self.config.reconnect_max_seconds)
                if not follow or (stop is not None and stop.is_set()) or await _stopped(stop, pause):
                    return self.stats
        finally:
            await self._close_sessions()

    async def poll_once(self) -> None:
        for mailbox in self.config.mailboxes:
            for folder in mailbox.folders:
                await self._read_folder(mailbox, folder, sent=False)
            if mailbox.sent_folder is not None:
                await self._read_folder(mailbox, mailbox.sent_folder, sent=True)

    async def _session(self, mailbox: SharedMailbox) -> ImapSession:
        username, password = self.config.login(mailbox)
        session = self._sessions.get(username)
        if session is None:
            session = self._session_class(self.config, username, password)
            await asyncio.to_thread(session.open)
            self._sessions[username] = session
        return session

    async def _close_sessions(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await asyncio.to_thread(session.close)

    async def _read_folder(self, mailbox: SharedMailbox, folder: str, sent: bool) -> None:
        session = await self._session(mailbox)
        state = await asyncio.to_thread(session.examine, folder)
        key = f"{mailbox.address}/{folder}"
        self._folders_read.add(key)
        self.stats.files = len(self._folders_read)
        first = self.checkpoints.first_uid(key, state.uidvalidity)
        # SEARCH first, then FETCH in batches of real UIDs: UIDs of a long-lived folder have
        # wide gaps, and a first read of a big folder must not hold every header at once.
        uids = [] if state.uidnext is not None and first >= state.uidnext else (
            await asyncio.to_thread(session.search_uids, first)
        )
        last = first - 1
        for start in range(0, len(uids), self.config.fetch_batch):
            batch = uids[start : start + self.config.fetch_batch]
            headers = await asyncio.to_thread(session.fetch_headers, batch[0], batch[-1])
            for uid, header in headers.items():
                self._handle(header, MessageRef(mailbox.address, folder, state.uidvalidity, uid, sent))
            await self._flush()
            last = batch[-1]
            self.checkpoints.save(key, state.uidvalidity, last)
        # Every UID below UIDNEXT was searched; one that was not found is expunged and never comes back.
        if state.uidnext is not None:
            last = max(last, state.uidnext - 1)
        self.checkpoints.save(key, state.uidvalidity, last)  # also records a new UIDVALIDITY of an empty folder

    def _handle(self, header: bytes, ref: MessageRef) -> None:
        self.stats.records += 1
        result = self.parser.outcome(header, ref)
        if isinstance(result, DeadLetter):
            self.stats.rejected += 1
            metrics.CONNECTOR_RECORDS.labels(KIND, "rejected").inc()
            self._pending.letters.append(result)
        elif isinstance(result, Skip):
            self.stats.skipped[result.reason] += 1
            metrics.CONNECTOR_SKIPPED.labels(KIND, result.reason).inc()
        else:
            metrics.CONNECTOR_RECORDS.labels(KIND, "parsed").inc()
            for event in result:
                self._pending.by_key[event.partition_key].append(event)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, _Pending()
        for key, events in pending.by_key.items():
            for start in range(0, len(events), self.batch_events):
                chunk = events[start : start + self.batch_events]
                await self.sink.send_batch(key, chunk)
                self.stats.events += len(chunk)
        for letter in pending.letters:
            await self.sink.send_dead_letter(letter)
        receipt = await self.sink.flush()
        if receipt is not None:  # the checkpoint moves only once the worker has stored them
            try:
                await asyncio.wait_for(asyncio.shield(receipt), self.confirm_seconds)
            except asyncio.TimeoutError:
                raise Unconfirmed(f"not confirmed stored within {self.confirm_seconds:.0f} s") from None
            finally:
                settled = getattr(self.sink, "settled", None)
                if settled is not None:
                    settled(receipt)


async def _stopped(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait `seconds`; True as soon as `stop` is set."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def connector_context(settings: Settings) -> ConnectorContext:
    """Municipality, mapping rules and contact keyer from settings, as every connector gets them."""
    from connectors.mapping import load_mapping
    from pipeline.ground.privacy import ContactKeyer

    mapping = load_mapping(settings.connectors.mapping_file)
    return ConnectorContext(
        municipality=mapping.municipality,
        mapping=mapping,
        keyer=ContactKeyer(settings.privacy.contact_key_secret.get_secret_value().encode()),
    )


async def run_imap(
    settings: Settings,
    config: ImapMailboxConfig,
    sink: EventSink,
    checkpoints: ImapCheckpoints | None = None,
    *,
    follow: bool = False,
    stop: asyncio.Event | None = None,
) -> ConnectorStats:
    """Read the configured shared mailboxes into `sink`: one pass, or with `follow` a poll
    every config.poll_seconds until `stop` is set. `checkpoints=None` keeps positions in
    memory only; `ImapCheckpoints.for_config(settings, config)` is what `kanalpuls ingest` uses.
    Raises ImapRefused (and subclasses) for what an operator must fix, ImapUnavailable when a
    single pass cannot reach the server, ProduceFailed when the broker does not acknowledge."""
    connector = ImapMailboxConnector(
        config, connector_context(settings), sink, checkpoints, batch_events=settings.connectors.batch_events,
        confirm_seconds=settings.connectors.confirm_seconds,
    )
    return await connector.run(follow=follow, stop=stop)

"""What every connector module provides: a config model and a parser of one raw record.

A parser turns one record (a log line, without its line ending) into a list of events,
a `Skip` for records that are valid but not inquiries (agent logins, headers), or raises
`RecordRejected` with a reason an operator can act on. It never reads files or talks to
Kafka: that is `connectors.runtime`, written once for all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

from connectors.config import ConnectorConfig
from connectors.mapping import Classification, MappingRules, load_mapping
from pipeline.ground.errors import KanalpulsError, TerminalError
from pipeline.ground.privacy import ContactKeyer, shown
from pipeline.ground.settings import Settings
from schemas import Channel, Direction, InquiryEvent, SourceRef, Stage, make_event_id, make_inquiry_id
from schemas.inquiry import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    LINE_MAX,
    MAX_DURATION_SECONDS,
    MUNICIPALITY_PATTERN,
    NAME_MAX,
    OFFSET_MAX,
    PATH_MAX,
)


class ConnectorError(KanalpulsError):
    """Base of connector errors; each is transient or terminal as well (pipeline/ground/errors.py)."""


class RecordRejected(ConnectorError, TerminalError):
    """Terminal for one record: it goes to the dead-letter topic with this reason, the connector goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Skip:
    """A valid record that is not an inquiry (queue housekeeping, a CSV header); counted by reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where a record was read; becomes the event's `source`."""

    system: str
    file: str
    line: int
    offset: int

    def source_ref(self) -> SourceRef:
        return SourceRef(system=self.system, file=self.file, line=self.line, offset=self.offset)


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """What a parser needs besides its own config: who we are and how to map and key."""

    municipality: str
    mapping: MappingRules
    keyer: ContactKeyer


def connector_context(settings: Settings) -> ConnectorContext:
    """Municipality, mapping rules and contact keyer from settings, as every source gets them;
    raises MappingError (terminal) naming the mapping file's problem."""
    mapping = load_mapping(settings.connectors.mapping_file)
    return ConnectorContext(
        municipality=mapping.municipality,
        mapping=mapping,
        keyer=ContactKeyer(settings.privacy.contact_key_secret.get_secret_value().encode()),
    )


ParseResult = list[InquiryEvent] | Skip


class Parser(Protocol):
    kind: ClassVar[str]

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """Called before the first record of a file (also on resume), with its first line."""

    def parse(self, record: bytes, location: Location) -> ParseResult:
        """One raw record -> events or Skip; raises RecordRejected for bad input."""

    # Optional: `redact(record: str) -> str` blanks fields the parser knows hold personal
    # data before a rejected record is dead-lettered (generic masking runs after it).


_MAX_DURATION_DIGITS = 9  # a week is 6: longer numbers are refused as over a week, absurd ones before int()


def whole_seconds(value: str, field_no: int, name: str, record: str = "line") -> int:
    """A whole number of seconds as Asterisk writes durations (blanks around it tolerated), at
    most a week; anything else rejects the record, naming the field."""
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_DURATION_DIGITS:
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()) or len(digits) > _MAX_DURATION_DIGITS:
            raise RecordRejected(f"bad {name} {shown(value)} in field {field_no}: expected whole seconds, 0 or more")
        value = digits
    seconds = int(value)
    if seconds > MAX_DURATION_SECONDS:
        raise RecordRejected(f"{name} {seconds} s in field {field_no} is over a week ({MAX_DURATION_SECONDS} s): "
                             f"a broken clock or {record}, not a call")
    return seconds


SourceConfig = TypeVar("SourceConfig", bound=ConnectorConfig)


class RecordParser(Generic[SourceConfig]):
    """What every parser begins with: its config, the context it maps and keys with, and an
    EventBuilder for the municipality; `_zone` is where times written without an offset are
    read. A parser adds what its format needs and implements `start_file` and `parse`."""

    kind: ClassVar[str]

    def __init__(self, config: SourceConfig, context: ConnectorContext) -> None:
        self._config = config
        self._context = context
        self._events = EventBuilder(context.municipality)
        self._zone = config.zone


def decode_record(record: bytes) -> str:
    """Decode a record as UTF-8, rejecting it with the byte position when it is not."""
    try:
        return record.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRejected(f"invalid UTF-8 at byte {exc.start}") from None


_Model = TypeVar("_Model", bound=BaseModel)


def _unvalidated(model: type[_Model], values: dict[str, Any]) -> _Model:
    """An instance holding `values` as they are, as `model.model_construct` builds it (minus its
    per-field Python loop, which costs more than validating): for models without private
    attributes or model_post_init, `values` holding every field in declaration order."""
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


_UNSURE = object()


def _as_stored(seconds: float | None) -> object:
    """A duration as validation stores it (None, or a float >= 0: whole seconds become float),
    or _UNSURE when only validation can say (negative, NaN, huge, not a number)."""
    if seconds is None or (type(seconds) is float and 0 <= seconds <= MAX_DURATION_SECONDS):
        return seconds
    if type(seconds) is int and 0 <= seconds <= MAX_DURATION_SECONDS:
        return float(seconds)
    return _UNSURE


class EventBuilder:
    """Builds a parser's InquiryEvents, validating only what the parser cannot vouch for.

    Why: validating an InquiryEvent (and its SourceRef) costs ~5 us, more than reading a
    queue_log line, and a line rate of 100,000/s on one core leaves 10 us for everything.
    Most fields are valid by how they are made, so checking them again proves nothing:
    - event_id is make_event_id's digest, task and the labels, kinds and types come from a
      Classification (a validated model), contact_key from ContactKeyer.key (64 hex digits or
      None), channel, direction and stage are enum members and queue a str, all passed by the parser;
    - schema_version is the model's; site, appointment and visited_web_first default to the
      model's defaults, for the sources that have none.
    What the parser does not make itself is checked here, cheaply: the municipality once
    against MUNICIPALITY_PATTERN; per event that occurred_at is a datetime in UTC (as the
    model stores it) of a year the model accepts, that durations are numbers from 0 to
    MAX_DURATION_SECONDS (int ones stored as float, as validation does), that the queue name,
    the site, a department given in place of the classification's (a column of an export) and
    the Location's system and file are str within the contract's lengths, that the yes/no
    fields are None, True or False, and the Location's line and offset ints within their
    ranges. Anything else (a local time, a negative wait, a bad municipality, a site of a
    thousand characters) is built by InquiryEvent's own validation instead, which converts it
    or raises the ValidationError the runtime dead-letters, word for word as before.

    tests/connectors/test_event_builder.py, and each connector's tests on every event it
    makes, pin that a built event equals InquiryEvent's validation of the same values and of
    its own JSON, field types and JSON output included, so the shortcut cannot drift from the
    schema unnoticed.
    """

    def __init__(self, municipality: str) -> None:
        self._municipality = municipality
        self._trusted = isinstance(municipality, str) and re.fullmatch(MUNICIPALITY_PATTERN, municipality) is not None

    def event(
        self,
        location: Location,
        reference: str,
        channel: Channel,
        stage: Stage,
        occurred_at: datetime,
        classification: Classification,
        queue: str,
        *,
        wait_seconds: float | None = None,
        handle_seconds: float | None = None,
        resolved_first_contact: bool | None = None,
        contact_key: str | None = None,
        direction: Direction = Direction.inbound,
        site: str = "",
        appointment: bool | None = None,
        visited_web_first: bool | None = None,
        department: str | None = None,
        namespace: str | None = None,
    ) -> InquiryEvent:
        """The event of one stage; `reference` identifies the inquiry in the source (make_event_id).

        `department`, when given, replaces the classification's (an export's own department
        column); `namespace`, when given, replaces the location's system as the namespace of the
        event and inquiry ids (Exchange: the organisation, so one message logged on several
        servers keeps one id)."""
        system, file, line, offset = location.system, location.file, location.line, location.offset
        trusted = (
            self._trusted
            and type(system) is str
            and type(file) is str
            and type(line) is int
            and type(offset) is int
            and type(queue) is str
            and type(site) is str
            and 1 <= line <= LINE_MAX
            and 0 <= offset <= OFFSET_MAX
            and 0 < len(system) <= NAME_MAX
            and len(file) <= PATH_MAX
            and len(queue) <= NAME_MAX
            and len(site) <= NAME_MAX
            and (department is None or (type(department) is str and len(department) <= NAME_MAX))
            and (resolved_first_contact is None or resolved_first_contact is True or resolved_first_contact is False)
            and (appointment is None or appointment is True or appointment is False)
            and (visited_web_first is None or visited_web_first is True or visited_web_first is False)
            and occurred_at.tzinfo is timezone.utc
            and EARLIEST_YEAR <= occurred_at.year <= LATEST_YEAR
        )
        wait, handle = _as_stored(wait_seconds), _as_stored(handle_seconds)
        trusted = trusted and wait is not _UNSURE and handle is not _UNSURE
        ids = system if namespace is None else namespace
        source = {"system": system, "file": file, "line": line, "offset": offset}
        values = {
            "schema_version": 1,
            "event_id": make_event_id(ids, reference, stage.value),
            "inquiry_id": make_inquiry_id(ids, reference),
            "occurred_at": occurred_at,
            "municipality": self._municipality,
            "channel": channel,
            "direction": direction,
            "stage": stage,
            "task": classification.task,
            "task_label": classification.task_label,
            "department": classification.department if department is None else department,
            "site": site,
            "queue": queue,
            "wait_seconds": wait_seconds,
            "handle_seconds": handle_seconds,
            "requester_type": classification.requester_type,
            "inquiry_kind": classification.inquiry_kind,
            "appointment": appointment,
            "resolved_first_contact": resolved_first_contact,
            "visited_web_first": visited_web_first,
            "contact_key": contact_key,
            "source": source,
        }
        if not trusted:
            return InquiryEvent(**values)
        values["wait_seconds"], values["handle_seconds"] = wait, handle
        values["source"] = _unvalidated(SourceRef, source)
        return _unvalidated(InquiryEvent, values)

"""What every connector module provides: a config model and a parser of one raw record.

A parser turns one record (a log line, without its line ending) into a list of events,
a `Skip` for records that are valid but not inquiries (agent logins, headers), or raises
`RecordRejected` with a reason an operator can act on. It never reads files or talks to
Kafka: that is `connectors.runtime`, written once for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from pydantic import BaseModel

from connectors.mapping import MappingRules
from connectors.privacy import ContactKeyer
from schemas import InquiryEvent, SourceRef


class ConnectorError(Exception):
    """Base of connector errors."""


class RecordRejected(ConnectorError):
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


ParseResult = list[InquiryEvent] | Skip


class Parser(Protocol):
    kind: ClassVar[str]

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """Called before the first record of a file (also on resume), with its first line."""

    def parse(self, record: bytes, location: Location) -> ParseResult:
        """One raw record -> events or Skip; raises RecordRejected for bad input."""

    # Optional: `redact(record: str) -> str` blanks fields the parser knows hold personal
    # data before a rejected record is dead-lettered (generic masking runs after it).


def decode_record(record: bytes) -> str:
    """Decode a record as UTF-8, rejecting it with the byte position when it is not."""
    try:
        return record.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRejected(f"invalid UTF-8 at byte {exc.start}") from None


class ConnectorConfig(BaseModel):
    """Marker base for connector config models (each sets extra='forbid')."""

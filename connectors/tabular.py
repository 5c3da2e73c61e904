"""Shared by the connectors that read exported tables (ticket and channel exports): the CSV
header and local wall-clock times. Written once so both read headers and convert
Danish local time across daylight-saving changes the same way."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from connectors.base import RecordRejected, Skip, decode_record
from pipeline.ground.privacy import REDACTED, redact_csv_row, shown
from schemas.inquiry import EARLIEST_YEAR, LATEST_YEAR

# ISO 8601 as exports write it: date and time with colons, optional offset. Stricter than
# datetime.fromisoformat, which reads '2024-03-04 12345678' as 12:34:56.78; a bare date
# (which would read as midnight) has no `time` group.
ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?P<time>[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+\-]\d{2}(?::?\d{2})?)?)?"
)


logger = logging.getLogger(__name__)

_BLANK = Skip(reason="blank line")
_HEADER_SHOWN = 300  # characters of a header line quoted (masked) in a rejection reason
# Fields of a row kept in its dead letter when the file has no usable header (so the personal
# columns cannot be found by name): timestamps, dates and numbers; any text may be a name.
_HARMLESS_FIELD = re.compile(r"[0-9:.,+\-TZ ]*")


class HeaderProblem(Exception):
    """The header cannot be used; every row of the file is rejected with this message."""


@dataclass(frozen=True)
class CsvHeader:
    text: str  # the header line as read, without BOM and line ending
    width: int  # columns per row
    index: dict[str, int]  # logical column name -> position
    names: tuple[str, ...] = ()  # every header name, in order


def read_csv_header(line: bytes, file: str, delimiter: str, wanted: dict[str, str]) -> CsvHeader:
    """Find every wanted column (logical name -> header name) in a CSV header line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderProblem(f"header of {file} is not valid UTF-8 (byte {exc.start}): re-export as UTF-8") from None
    text = text.removeprefix("\ufeff").removesuffix("\r")
    try:
        names = [name.strip() for name in next(csv.reader((text,), delimiter=delimiter))]
    except (csv.Error, StopIteration) as exc:
        raise HeaderProblem(f"header of {file} is not a CSV line: {exc}") from None
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        positions.setdefault(name, position)
    missing = {name: header for name, header in wanted.items() if header not in positions}
    if len(missing) == len(wanted):
        # Not one expected column: most likely an export without its header row, whose first
        # line is data (a CPR or phone number, a name), so none of it is quoted.
        raise HeaderProblem(
            f"no header in {file}: its first line has none of the columns"
            f" {', '.join(repr(header) for header in wanted.values())} in its {len(names)} field(s) separated by"
            f" {delimiter!r} (not quoted here: it may be data); the export must start with its header line"
            " (or fix the delimiter or the columns mapping)"
        )
    if missing:
        columns = ", ".join(f"{header!r} (columns.{name})" for name, header in missing.items())
        raise HeaderProblem(
            f"header of {file} lacks column(s) {columns}; it has {shown(delimiter.join(names), _HEADER_SHOWN)}"
            f" separated by {delimiter!r}: fix the columns mapping or the export"
        )
    return CsvHeader(text, len(names), {name: positions[header] for name, header in wanted.items()}, tuple(names))


def parse_time(raw: str, column: str, fmt: str | None, zone: tzinfo, zone_name: str) -> datetime:
    """A non-empty timestamp as UTC. A value with an offset or Z keeps it; a local wall-clock
    value is placed in `zone`: an ambiguous autumn hour resolves to its first occurrence,
    a time inside the spring gap is rejected. Years outside 2000-2099 (in UTC) are rejected."""
    try:
        if fmt is None:
            iso = ISO_TIMESTAMP.fullmatch(raw)
            if iso is None or not iso["time"]:
                raise ValueError
            parsed = datetime.fromisoformat(raw)
        else:
            parsed = datetime.strptime(raw, fmt)
    except ValueError:
        expected = "ISO 8601 such as 2024-03-04 09:12:00" if fmt is None else f"format {fmt!r}"
        raise RecordRejected(f"bad timestamp {shown(raw)} in {column}: expected {expected}") from None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:  # also keeps the conversion from overflowing
        raise RecordRejected(f"timestamp {shown(raw)} in {column} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    if parsed.tzinfo is not None:
        utc = parsed.astimezone(timezone.utc)
    else:
        local = parsed.replace(tzinfo=zone, fold=0)  # fold=0: first of two ambiguous times
        utc = local.astimezone(timezone.utc)
        if utc.astimezone(zone).replace(tzinfo=None) != parsed:
            raise RecordRejected(
                f"timestamp {shown(raw)} in {column} does not exist in {zone_name}:"
                " the clocks jumped past it when daylight saving time began"
            )
    if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:  # 2000-01-01 00:30 local is still 1999 in UTC
        raise RecordRejected(f"timestamp {shown(raw)} in {column} is outside {EARLIEST_YEAR}-{LATEST_YEAR} in UTC")
    return utc


class CsvRows:
    """One CSV export file as the runtime feeds it: the header (from start_file, or line 1),
    then each row as {logical column name: value}. A header that cannot be used rejects
    every row of its file with the reason, so the operator sees it once per row in the DLQ."""

    def __init__(self, delimiter: str, wanted: dict[str, str], label: str) -> None:
        self.delimiter = delimiter
        self.wanted = wanted  # logical name -> header name
        self.label = label  # e.g. "ticket export", for log lines
        self.file = ""
        self.header: str | None = None
        self.width = 0
        self.index: dict[str, int] = {}
        self.names: tuple[str, ...] = ()
        self.problem: str | None = None

    def start(self, file: str, first_line: bytes | None) -> None:
        self.file, self.header, self.problem = file, None, None
        self.width, self.index, self.names = 0, {}, ()  # never the previous file's columns
        if first_line:
            self._read(first_line)

    def _read(self, line: bytes) -> None:
        try:
            header = read_csv_header(line, self.file, self.delimiter, self.wanted)
        except HeaderProblem as exc:
            self.problem = str(exc)
            logger.warning("%s header rejected: %s", self.label, exc)
            return
        self.header, self.width, self.index, self.names = header.text, header.width, header.index, header.names

    def positions_of(self, fields: Collection[str], logical: Collection[str] = ()) -> list[int]:
        """Positions of the header names in `fields` (case-insensitive) and of the logical columns in `logical`."""
        wanted = {f.casefold() for f in fields}
        found = [i for i, name in enumerate(self.names) if name.casefold() in wanted]
        return found + [self.index[name] for name in logical if name in self.index]

    def redact(self, record: str, fields: Collection[str], logical: Collection[str] = ()) -> str:
        """A rejected row fit for the dead-letter topic: its personal columns blanked; in a file
        without a usable header, or in a row whose columns do not line up with the header (a
        stray delimiter shifts a name into another column), every field but timestamps and numbers."""
        try:
            row = next(csv.reader((record,), delimiter=self.delimiter))
        except (csv.Error, StopIteration):
            return REDACTED
        if self.header is None or len(row) != len(self.names):
            unsure = [i for i, value in enumerate(row) if not _HARMLESS_FIELD.fullmatch(value)]
            return redact_csv_row(record, self.delimiter, unsure)
        return redact_csv_row(record, self.delimiter, self.positions_of(fields, logical))

    def values(self, record: bytes, line: int) -> dict[str, str] | Skip:
        """The row's wanted columns, stripped; Skip for the header and blank lines; RecordRejected otherwise."""
        if not record or record.isspace():  # a blank line says nothing: counted, not dead-lettered
            return _BLANK
        if line == 1 and self.header is None and self.problem is None:
            self._read(record)  # start_file saw no first line (the file was empty then)
        if self.problem is not None:
            raise RecordRejected(self.problem)
        text = decode_record(record).removesuffix("\r")
        if line == 1 or text.removeprefix("\ufeff") == self.header:
            return Skip(reason="header")
        if self.header is None:
            raise RecordRejected(f"no header line read for {self.file}: the export must start with its header")
        try:
            row = next(csv.reader((text,), delimiter=self.delimiter))
        except (csv.Error, StopIteration) as exc:
            raise RecordRejected(f"not a CSV line: {exc}") from None
        if len(row) != self.width:
            raise RecordRejected(f"{len(row)} columns, header has {self.width}")
        return {name: row[position].strip() for name, position in self.index.items()}

"""Read a past counting week from a file, for `kanalpuls baseline import`.

A municipality's first comparison is usually a KOMHEN counting week counted by hand, kept in
a spreadsheet, or a week the product itself exported. Three shapes are read, as CSV (comma,
semicolon or tab; UTF-8 or the Windows code page Danish Excel writes) or XLSX:

- long: one row per task x channel (x direction) with a count, e.g. the product's own
  `report komhen` CSV or its workbook's data sheet (task, channel, direction, inquiries);
- wide: one row per task, a column per channel, or per channel x direction, e.g. the
  workbook's hand-in sheet (two heading rows: channel, then Indgående / Udgående) or a
  spreadsheet with headings like "Telefon", "Telefon ind", "phone outbound";
- in both, headings and values in Danish or as the product's codes.

A direction left out means inbound. Counts of a task x channel x direction are summed (the
long format has a row per department). Rows named "I alt" / "Total" are totals, not tasks,
and are skipped. Everything else that does not read is an error naming file, row and column:
a heading that is no channel ("Telefonen"), a task cell that is no KLE code ("???", "-"), a
count with no task, a formula Excel never calculated, two columns for one channel. A
baseline silently missing a task or a channel would price it at no mix at all.

The file is untrusted: only a regular file is read, at most MAX_FILE_BYTES of it; a workbook
is refused before unpacking when its members would unpack to more than MAX_UNPACKED_BYTES
(a zip bomb) or it has more than MAX_SHEETS sheets; rows, cells and tasks are bounded.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.ground.errors import TerminalError
from pipeline.ground.messages import CHANNEL_DA, CHANNELS
from pipeline.ground.steering import KLE_TOPIC
from pipeline.measures.iso_week import IsoWeek, IsoWeekError

MAX_FILE_BYTES = 16 * 1024 * 1024  # a counting week of every KLE topic x department is a few MiB
MAX_ROWS = 200_000
MAX_COLUMNS = 200  # a counting week has a few dozen; more cells in a row are not read (a crafted sheet of 16,384)
MAX_CELL = 200  # characters of a cell that are read
MAX_COUNT = 1e9
MAX_TASKS = 5_000  # KLE has about 2,000 topics
MAX_SHEETS = 50
MAX_UNPACKED_BYTES = 32 * 1024 * 1024
MAX_PERIOD_DAYS = 366
HEADER_SEARCH_ROWS = 30


class BaselineFileError(TerminalError):
    """The file cannot be read as a counting week; the message names file, row and column."""


@dataclass(frozen=True)
class BaselineCounts:
    """What a file holds: inquiries per (task, channel, direction), and the week it names."""

    counts: dict[tuple[str, str, str], float]
    rows: int
    period: tuple[date, date] | None  # from an iso_week column, when the file has one


def _key(text: object) -> str:
    return re.sub(r"[^a-z0-9æøå]+", " ", str(text or "").lower()).strip()


_TASK = {"task", "kle", "kle nr", "klenr", "kle nummer", "kle kode", "kle code", "opgave kle", "task code"}
_CHANNEL = {"channel", "kanal", "henvendelseskanal"}
_DIRECTION = {"direction", "retning"}
_COUNT = {"inquiries", "henvendelser", "antal", "count", "antal henvendelser", "optalt", "optælling"}
_WEEK = {"iso week", "iso_week", "uge", "week"}
_CHANNEL_NAMES: dict[str, str] = {}
for code in CHANNELS:
    _CHANNEL_NAMES[_key(code)] = code
    _CHANNEL_NAMES[_key(CHANNEL_DA[code])] = code
_CHANNEL_NAMES.update({
    "fremmøde": "walk_in", "personlig": "walk_in", "personligt": "walk_in", "skranke": "walk_in",
    "walk in": "walk_in", "telefoni": "phone", "tlf": "phone", "mail": "email", "e mail": "email",
    "brev": "letter", "post": "letter", "fysisk post": "letter", "letter": "letter", "eboks": "digital_post",
    "e boks": "digital_post", "digital post": "digital_post", "selvbetjening": "self_service",
    "self service": "self_service", "online chat": "chat",
})
_DIRECTIONS = {"inbound": "inbound", "outbound": "outbound", "indgående": "inbound", "udgående": "outbound",
               "ind": "inbound", "ud": "outbound", "in": "inbound", "out": "outbound", "": "inbound"}
_TOTAL_ROWS = {"i alt", "total", "sum", "totalt", "i alt i alt"}
# Headings of a wide table that are not channels and are not read: names of the task or
# department, totals, page views, notes. Any other heading is an error: it may be a channel.
_NOT_CHANNELS = {"opgave", "opgavenavn", "opgavebetegnelse", "betegnelse", "beskrivelse", "task name", "task label",
                 "task_label", "description", "navn", "name", "emne", "afdeling", "department", "forvaltning",
                 "center", "enhed", "kommune", "municipality", *_TOTAL_ROWS, "web", "hjemmeside", "web first",
                 "bemærkning", "bemærkninger", "kommentar", "kommentarer", "note", "noter", "notes", *_WEEK,
                 # the registration parameters beside the counts on the product's own hand-in sheet
                 "opgivne opkald", "gået før tur", "straksafklaring", "straksafklaret", "hjemmeside først",
                 "været på hjemmesiden først"}
_UNCLASSIFIED = {"unclassified", "uklassificeret", "ikke klassificeret"}


def read_baseline_file(path: Path) -> BaselineCounts:
    """The counts of a CSV or XLSX counting week; BaselineFileError names what does not read."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", ".tsv"):
        raise BaselineFileError(f"{path}: not a .csv or .xlsx file")
    raw = _read_bounded(path)
    if suffix in (".xlsx", ".xlsm"):
        sheets = _xlsx_sheets(path, raw)
    else:
        sheets = [(path.name, _csv_rows(path, raw))]
    problems = []
    tables: list[tuple[str, BaselineCounts]] = []
    for sheet, rows in sheets:
        where = f"{path}" if len(sheets) == 1 else f"{path} sheet '{sheet}'"
        try:
            tables.append((sheet, _read_table(where, rows)))
        except _NoHeading as exc:
            problems.append(str(exc))
    if tables:
        return _one_table(path, tables)
    raise BaselineFileError(f"{path}: no sheet has a heading with a task column (KLE-nr. / task) and a count or "
                            f"channel columns; " + "; ".join(problems))


class _NoHeading(BaselineFileError):
    pass


def _one_table(path: Path, tables: list[tuple[str, BaselineCounts]]) -> BaselineCounts:
    """The one counting week a workbook holds. The product's own has it twice (the data sheet
    and the hand-in sheet): they must agree, so an edit on one is not silently lost; sheets
    with different counts (a sheet per department) are refused rather than guessed at."""
    first_sheet, first = tables[0]
    for sheet, table in tables[1:]:
        if table.counts != first.counts:
            totals = ", ".join(f"'{name}' {sum(t.counts.values()):,.0f}" for name, t in tables)
            raise BaselineFileError(f"{path}: the sheets {first_sheet!r} and {sheet!r} hold different counts "
                                    f"({totals} inquiries): put the counting week on one sheet, or save the "
                                    "sheet to import as its own file")
    return first


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, when it is a regular file of at most MAX_FILE_BYTES. Opened without
    blocking, so a FIFO put where a file was expected is refused instead of waited on."""
    too_big = (f"{path}: more than {MAX_FILE_BYTES // 2**20} MiB; a counting week is far smaller")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise BaselineFileError(f"{path}: cannot read it: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BaselineFileError(f"{path}: not a regular file (a directory, device or pipe); export the "
                                    "counting week to a .csv or .xlsx file")
        if info.st_size > MAX_FILE_BYTES:
            raise BaselineFileError(too_big)
        raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise BaselineFileError(too_big)
    return raw


def _csv_rows(path: Path, raw: bytes) -> list[list[object]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    sample = text[:20_000]
    delimiter = max((",", ";", "\t"), key=sample.count)
    rows: list[list[object]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row[MAX_COLUMNS:]):
                raise BaselineFileError(f"{path} row {reader.line_num}: more than {MAX_COLUMNS} columns; a counting "
                                        "week has a few dozen")
            rows.append([_cut(cell) for cell in row[:MAX_COLUMNS]])
            if len(rows) > MAX_ROWS:
                raise BaselineFileError(f"{path}: more than {MAX_ROWS:,} rows; a counting week is far smaller")
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte
        raise BaselineFileError(f"{path} row {reader.line_num}: not a table row ({exc})") from None
    return rows


def _xlsx_sheets(path: Path, raw: bytes) -> list[tuple[str, list[list[object]]]]:
    """Every sheet's rows, values as Excel last calculated them. A formula Excel never
    calculated (a sheet written by a script) has no value; it is an error, not a 0."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BaselineFileError(f"{path}: not a readable XLSX workbook ({exc})") from None
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES or len(members) > 10 * MAX_SHEETS:
        raise BaselineFileError(f"{path}: unpacks to {unpacked:,} bytes in {len(members)} parts; a counting week "
                                f"is far smaller (at most {MAX_UNPACKED_BYTES // 2**20} MiB is read)")
    try:
        values = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        formulas = load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, XML and its own errors
        raise BaselineFileError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        if len(values.sheetnames) > MAX_SHEETS:
            raise BaselineFileError(f"{path}: {len(values.sheetnames)} sheets; at most {MAX_SHEETS} are read")
        # The product's own workbook: its data sheet is the exact long format; read it first.
        names = sorted(values.sheetnames, key=lambda n: n != "Data")
        return [(name, _sheet_rows(path, name, values[name], formulas[name])) for name in names]
    finally:
        values.close()
        formulas.close()


def _cut(text: str) -> str:
    """A cell's first MAX_CELL characters, marked when there was more: '05.13.00' and 195
    spaces and 'GARBAGE' must not read as a KLE code."""
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def _sheet_rows(path: Path, name: str, values: object, formulas: object) -> list[list[object]]:
    rows: list[list[object]] = []
    try:
        for sheet in (values, formulas):  # a stale <dimension> would end the rows early: read them all
            sheet.reset_dimensions()  # type: ignore[attr-defined]
        pairs = zip(values.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1),  # type: ignore[attr-defined]
                    formulas.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1))  # type: ignore[attr-defined]
        for line, (row, written) in enumerate(pairs, start=1):
            cells: list[object] = []
            for column, (cell, typed) in enumerate(zip(row, written), start=1):
                if cell is None and isinstance(typed, str) and typed.startswith("="):
                    raise BaselineFileError(f"{path} sheet '{name}' row {line}, column {column}: the formula "
                                            f"{typed[:40]} has no calculated value; open the file in Excel and "
                                            "save it, or export the sheet as CSV")
                cells.append(_cut(cell) if isinstance(cell, str) else cell)
            if len(cells) > MAX_COLUMNS and cells[MAX_COLUMNS] not in (None, ""):
                raise BaselineFileError(f"{path} sheet '{name}' row {line}: more than {MAX_COLUMNS} columns; a "
                                        "counting week has a few dozen")
            del cells[MAX_COLUMNS:]
            while cells and cells[-1] in (None, ""):  # a sheet's used range may reach far past its data
                cells.pop()
            rows.append(cells)
            if len(rows) > MAX_ROWS:
                raise BaselineFileError(f"{path} sheet '{name}': more than {MAX_ROWS:,} rows")
    except BaselineFileError:
        raise
    except Exception as exc:  # a cell openpyxl cannot convert: a malformed number or date
        raise BaselineFileError(f"{path} sheet '{name}' row {len(rows) + 1}: a cell does not read "
                                f"({type(exc).__name__}: {str(exc)[:80]})") from None
    return rows


def _read_table(where: str, rows: list[list[object]]) -> BaselineCounts:
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [_key(cell) for cell in row]
        task = _find(names, _TASK)
        if task is None:
            continue
        channel, count = _find(names, _CHANNEL), _find(names, _COUNT)
        if channel is not None and count is not None:
            return _read_long(where, rows, index, names, task, channel, count)
        below = [_key(cell) for cell in rows[index + 1]] if index + 1 < len(rows) else []
        columns = _wide_columns(names, below)
        if columns:
            # directions under the channels, nothing under the task: a heading's second row, not a
            # first task whose note says "ud"
            two_rows = not (below[task] if task < len(below) else "") and any(
                below[i] in _DIRECTIONS and below[i] for i in columns if i < len(below))
            _check_wide_heading(where, index + 1, names, task, columns)
            # columns with no heading at all (not the second column of a merged "I alt" or channel)
            unheaded = [i for i, name in enumerate(names) if not name and i not in columns and i != task
                        and not (i < len(below) and below[i] and (below[i] in _DIRECTIONS or below[i] in _TOTAL_ROWS))]
            return _read_wide(where, rows, index + (2 if two_rows else 1), task, columns, unheaded, len(names))
    raise _NoHeading(f"{where}: none of its first {HEADER_SEARCH_ROWS} rows is a heading")


def _find(names: list[str], wanted: set[str]) -> int | None:
    return next((i for i, name in enumerate(names) if name in wanted), None)


def _check_wide_heading(where: str, line: int, names: list[str], task: int,
                        columns: dict[int, tuple[str, str]]) -> None:
    """Every heading is the task, a channel (x direction) or a known non-channel, and no
    channel x direction has two columns: a misspelt channel would otherwise be left out."""
    for i, name in enumerate(names):
        if name and i != task and i not in columns and name not in _NOT_CHANNELS and name not in _TASK:
            raise BaselineFileError(f"{where} row {line}, column {i + 1}: heading '{name[:40]}' is no channel; "
                                    f"channels are {', '.join(CHANNEL_DA[c] for c in CHANNELS)} or "
                                    f"{', '.join(CHANNELS)}, optionally with ind/ud")
    seen: dict[tuple[str, str], int] = {}
    for i, key in sorted(columns.items()):
        if key in seen:
            raise BaselineFileError(f"{where} row {line}: columns {seen[key] + 1} and {i + 1} are both "
                                    f"{CHANNEL_DA[key[0]]} {key[1]}; keep one")
        seen[key] = i


def _wide_columns(names: list[str], below: list[str]) -> dict[int, tuple[str, str]]:
    """Column -> (channel, direction) for a wide heading: 'Telefon', 'Telefon ind', 'phone
    outbound', or a channel over two columns with the directions in the row below."""
    columns: dict[int, tuple[str, str]] = {}
    channel = None
    for i, name in enumerate(names):
        direction_below = _DIRECTIONS.get(below[i]) if i < len(below) and below[i] else None
        if name:
            channel = None
            words = name.split()
            for cut in range(len(words), 0, -1):
                head, tail = " ".join(words[:cut]), " ".join(words[cut:])
                if head in _CHANNEL_NAMES and tail in _DIRECTIONS:
                    channel = _CHANNEL_NAMES[head]
                    columns[i] = (channel, direction_below or _DIRECTIONS[tail])
                    break
        elif channel is not None and direction_below:  # the merged heading's second column
            columns[i] = (channel, direction_below)
    return columns


def _number(where: str, line: int, column: str, value: object) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    if isinstance(value, bool):
        raise BaselineFileError(f"{where} row {line}, column {column}: {value!r} is not a count")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if re.fullmatch(r"\d{1,3}(\.\d{3})+", text):  # Danish thousands: 1.234
            text = text.replace(".", "")
        text = text.replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise BaselineFileError(f"{where} row {line}, column {column}: '{str(value)[:40]}' is not a count") from None
    if not math.isfinite(number) or number < 0 or number > MAX_COUNT:
        raise BaselineFileError(f"{where} row {line}, column {column}: {number:g} is not a count from 0 to "
                                f"{MAX_COUNT:,.0f}")
    if not number.is_integer():  # '1,234' is 1.234 in Danish: a count of inquiries is whole
        raise BaselineFileError(f"{where} row {line}, column {column}: '{str(value)[:40]}' is not a whole number "
                                "of inquiries (thousands are written 1.234 or 1234)")
    return number


def _is_total(cells: list[object], task: int) -> bool:
    """A totals row with its "I alt" beside an empty task cell (under Opgave, as most sheets
    have it): skipped like one with "I alt" in the task column."""
    if str(cells[task] if cells[task] is not None else "").strip():
        return False
    return any(isinstance(cell, str) and _key(cell) in _TOTAL_ROWS for cell in cells)


def _task(where: str, line: int, value: object, counts: list[object]) -> str | None:
    """The KLE code of a row; None for a totals row or an empty one. A row with counts but no
    task is an error: its inquiries would vanish from the baseline."""
    text = str(value if value is not None else "").strip()
    key = _key(text)
    if not text:
        if any(cell not in (None, "", 0) and _key(cell) not in ("0", "") for cell in counts):
            raise BaselineFileError(f"{where} row {line}: counts without a task (KLE code)")
        return None
    if key in _TOTAL_ROWS:
        return None
    if key in _UNCLASSIFIED:
        return "unclassified"
    if not KLE_TOPIC.fullmatch(text):
        raise BaselineFileError(f"{where} row {line}: task '{text[:40]}' is not a KLE topic like 05.13.00 "
                                "(or 'unclassified'): inquiries carry topics, a group like 05.13 compares with none")
    return text


def _read_long(where: str, rows: list[list[object]], heading: int, names: list[str], task: int, channel: int,
               count: int) -> BaselineCounts:
    direction, week = _find(names, _DIRECTION), _find(names, _WEEK)
    count_columns = [i for i, name in enumerate(names) if name in _COUNT]
    if len(count_columns) > 1:
        raise BaselineFileError(f"{where} row {heading + 1}: columns {count_columns[0] + 1} and {count_columns[1] + 1} "
                                "are both counts; keep one")
    counts: Counter[tuple[str, str, str]] = Counter()
    weeks: set[str] = set()
    read = 0
    for offset, row in enumerate(rows[heading + 1:], start=heading + 2):
        cells = list(row) + [None] * (len(names) - len(row))
        if _is_total(cells, task):
            continue
        code = _task(where, offset, cells[task], [cells[count]])
        if code is None:
            continue
        channel_name = _key(cells[channel])
        if channel_name == "web" or channel_name == "hjemmeside":
            continue  # page views are not inquiries
        if channel_name not in _CHANNEL_NAMES:
            raise BaselineFileError(f"{where} row {offset}: channel '{str(cells[channel] or '')[:40]}' is none of "
                                    f"{', '.join(CHANNELS)} (or their Danish names)")
        way = _key(cells[direction]) if direction is not None else ""
        if way not in _DIRECTIONS:
            raise BaselineFileError(f"{where} row {offset}: direction '{str(cells[direction] or '')[:20]}' is neither "
                                    "inbound/indgående nor outbound/udgående")
        counts[(code, _CHANNEL_NAMES[channel_name], _DIRECTIONS[way])] += _number(where, offset, names[count],
                                                                                  cells[count])
        if week is not None and cells[week]:
            weeks.add(str(cells[week]).strip())
        read += 1
    return BaselineCounts(_nonzero(where, counts), read, _period(where, weeks))


def _read_wide(where: str, rows: list[list[object]], first: int, task: int, columns: dict[int, tuple[str, str]],
               unheaded: list[int], heading_width: int) -> BaselineCounts:
    counts: Counter[tuple[str, str, str]] = Counter()
    read = 0
    width = max(*columns, task) + 1
    for offset, row in enumerate(rows[first:], start=first + 1):
        cells = list(row) + [None] * (width - len(row))
        if _is_total(cells, task):
            continue
        code = _task(where, offset, cells[task], [cells[column] for column in columns])
        if code is None:
            continue
        for column, (channel, direction) in columns.items():
            counts[(code, channel, direction)] += _number(where, offset, f"{column + 1}", cells[column])
        stray = [i + 1 for i in unheaded + list(range(heading_width, len(row)))
                 if i < len(row) and isinstance(row[i], (int, float)) or (i < len(row) and _key(row[i]).isdigit())]
        if stray:
            raise BaselineFileError(f"{where} row {offset}, column {stray[0]}: a count under no heading; name its "
                                    "channel in the heading or remove it")
        read += 1
    return BaselineCounts(_nonzero(where, counts), read, None)


def _nonzero(where: str, counts: Counter[tuple[str, str, str]]) -> dict[tuple[str, str, str], float]:
    kept = {key: n for key, n in counts.items() if n > 0}
    if not kept:
        raise BaselineFileError(f"{where}: no task has a count above 0: nothing to compare with")
    tasks = {task for task, _, _ in kept}
    if len(tasks) > MAX_TASKS:
        raise BaselineFileError(f"{where}: {len(tasks):,} tasks; KLE has about 2,000 (at most {MAX_TASKS:,} are read)")
    return kept


def _period(where: str, weeks: set[str]) -> tuple[date, date] | None:
    if not weeks:
        return None
    try:
        parsed = sorted(IsoWeek.parse(week) for week in weeks)
    except IsoWeekError as exc:
        raise BaselineFileError(f"{where}: {exc}") from None
    first, last = parsed[0].monday, parsed[-1].sunday
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise BaselineFileError(f"{where}: weeks {parsed[0]} to {parsed[-1]} span more than a year; import one "
                                "counting period at a time")
    return first, last

"""A KPI's rows as a reader wants them: `kanalpuls kpi` prints them as a table that reads like a
report, or as CSV or JSON for a spreadsheet or a script.

The table is for people: totals first, then by volume; shares as %, share points as pp,
money in kroner with thousands separators, durations as m:ss, channel and weekday names and
headings in the language setting (Danish by default). CSV and JSON are for machines: the
views' column names and raw values, so a script reads what an analyst's SQL returns. A value
the view leaves NULL (no comparison possible) is "–" in the table, empty in CSV, null in JSON:
never nan or inf.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from pipeline.ground.messages import Language, channel_name, column_name, direction_name, weekday_name, word

SHARES = {"share", "baseline_share", "rate", "service_level", "abandonment_rate"}
POINTS = {"shift"}
DURATIONS = {"average_speed_of_answer", "average_handle_time", "average_wait_seconds"}
FLAGS = {"has_baseline_mix"}
# Columns a row is a total in when they hold '*'; and what orders rows of the same kind.
DIMENSIONS = ("municipality", "channel", "task", "department", "site", "queue", "place")
TIME_COLUMNS = ("day", "weekday", "hour")
VOLUMES = ("inquiries", "offered", "tickets", "arrivals", "page_views", "known", "inquiries_with_key", "waiting")
FORMATS = ("table", "csv", "json")

Row = Sequence[Any]


def ordered(columns: Sequence[str], rows: Sequence[Row]) -> list[Row]:
    """Time order first where the KPI is over time; then totals ('*') before their parts;
    then most volume first; then by name, so the same data always prints the same way."""
    index = {c: i for i, c in enumerate(columns)}
    times = [index[c] for c in TIME_COLUMNS if c in index]
    dimensions = [index[c] for c in DIMENSIONS if c in index]
    volume = next((index[c] for c in VOLUMES if c in index), None)

    def key(row: Row) -> tuple[Any, ...]:
        stars = sum(1 for i in dimensions if row[i] == "*")
        amount = row[volume] if volume is not None and isinstance(row[volume], (int, float)) else 0
        return (tuple(_sortable(row[i]) for i in times), -stars, -(amount or 0), tuple(str(row[i]) for i in dimensions))

    return sorted(rows, key=key)


def _sortable(value: Any) -> tuple[int, Any]:
    """Hours 0..23 in numeric order (9 before 10), days as dates, anything else as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def number(value: float, language: Language, decimals: int = 0) -> str:
    """1234567.5 -> '1.234.568' (da) or '1,234,568' (en); decimals as asked."""
    text = f"{value:,.{decimals}f}"
    if language == "da":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def cell(column: str, value: Any, language: Language) -> str:
    """One value as the table shows it."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return word("none", language)
    if column in FLAGS:
        return word("yes" if value else "no", language)
    if column == "channel":
        return channel_name(str(value), language)
    if column == "direction":
        return direction_name(str(value), language)
    if column in ("task", "department", "site", "queue", "municipality") and value == "*":
        return word("all", language)
    if column == "weekday" and isinstance(value, int) and 1 <= value <= 7:
        return weekday_name(value, language)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if not _finite(value):
        return str(value)
    if column in SHARES or column.endswith("_share"):
        return f"{number(value * 100, language, 1)} %"
    if column in POINTS:
        return word("points", language, value=("+" if value > 0 else "") + number(value * 100 + 0.0, language, 1))
    if column.endswith("_dkk"):
        return word("money", language, amount=number(value, language))
    if column in DURATIONS:
        seconds = round(value)
        return f"{seconds // 60}:{seconds % 60:02d}"
    if isinstance(value, float) and not value.is_integer():
        return number(value, language, 2 if abs(value) < 10 else 1)
    return number(value, language)


def numeric(column: str) -> bool:
    return column not in DIMENSIONS and column not in ("day", "task_label", "direction")


def table(title: str, columns: Sequence[str], rows: Sequence[Row], language: Language, kpi: str = "") -> Table:
    out = Table(title=title)
    for column in columns:
        out.add_column(column_name(column, language, kpi), justify="right" if numeric(column) else "left")
    for row in rows:
        out.add_row(*(Text(cell(c, v, language)) for c, v in zip(columns, row)))  # values are text, never markup
    return out


def _plain(column: str, value: Any) -> Any:
    """A raw value for CSV and JSON: a count summed as a float (an imported baseline's) as the
    whole number it is, a timestamp in ISO 8601, nan and inf as nothing."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if (isinstance(value, float) and value.is_integer() and abs(value) < 2**53 and column not in SHARES
            and column not in POINTS and not column.endswith(("_share", "_dkk"))):
        return int(value)
    return value


def as_csv(columns: Sequence[str], rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)  # texts quoted: see spreadsheet_text
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else spreadsheet_text(_plain(c, v)) for c, v in zip(columns, row)])
    return buffer.getvalue()


def as_json(columns: Sequence[str], rows: Sequence[Row]) -> str:
    return json.dumps([{c: _plain(c, v) for c, v in zip(columns, row)} for row in rows], ensure_ascii=False,
                      indent=1, allow_nan=False)


# A cell a spreadsheet would run as a formula: Excel and LibreOffice evaluate a CSV field or a
# text starting with these. Task labels, departments and sites come from sources' events.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_AFTER_SEMICOLON = re.compile(r"(;\s*)([=+\-@])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # no spreadsheet cell may hold them


def spreadsheet_text(value: object) -> object:
    """A text that cannot run as a formula when the sheet is opened (OWASP's CSV-injection advice:
    a leading apostrophe, also after a ';'), without control characters; numbers and other
    values as they are."""
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("", value)
    # Danish Excel opens a comma-separated file splitting on ';' and ignoring the quotes around
    # it: what follows a ';' may start a cell of its own, so it cannot start a formula either.
    value = _AFTER_SEMICOLON.sub(r"\1'\2", value)
    return "'" + value if value.startswith(_FORMULA_START) else value

"""The KOMHEN counting week ("tælleuge") from the continuous data, for any ISO week.

KOMHEN 2.0 is KL's method: for one or two weeks a year staff register every inquiry by task
(KLE code), channel and direction (ind- og udgående), plus a few registration parameters.
kanalpuls already sees every inquiry, so this module produces the same table for any week
from the view deploy/clickhouse/120_komhen_week.sql (reading the hourly rollup), in two files:

- `komhen-<municipality>-<YYYY>-W<ww>.csv`: long format, one row per task x department x
  channel x direction with at least one inquiry. Columns: iso_week, municipality, task,
  task_label, department, channel, channel_name (Danish), direction, inquiries, then the
  registration parameters the sources carry: resolution_known and resolved_first_contact
  (straksafklaring: of the cell's inquiries whose resolution is known, those resolved at
  first contact), web_first_known and web_first (had been on the website first, where the
  source registers it), requesters_citizen/business/association/authority/unknown. "known"
  columns matter: a count of 0 resolved means nothing when 0 are known. UTF-8, comma-separated.
- `komhen-<municipality>-<YYYY>-W<ww>.xlsx`: the same week to hand in (layout in
  pipeline/reports/workbook.py): a wide sheet with one row per task and channel x direction
  columns in KOMHEN's order with Danish headings and totals, the long data, and notes.

Inquiries are arrivals (stage 'arrived') in both directions on every inquiry channel; web
page views are not inquiries and stay out of the table (the notes sheet gives them per task,
clearly apart). The week is Monday to Sunday in the municipality's local time (the steering
file's time zone, which the view was created with). A week without a single inquiry is an
error (`NoInquiries`), not an empty file: a table of zeros handed in by mistake would report
a week the municipality in fact did not measure.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from pipeline.kpis import run_kpi
from pipeline.reports.labels import CHANNEL_DA, CHANNELS, REQUESTER_TYPES, channel_order, task_order
from pipeline.store import QueryResult

Query = Callable[[str], QueryResult]
VIEW = "komhen_week"
_ISO_WEEK = re.compile(r"\s*([0-9]{4})-?W([0-9]{1,2})\s*", re.IGNORECASE)

CSV_COLUMNS: tuple[str, ...] = (
    "iso_week", "municipality", "task", "task_label", "department", "channel", "channel_name", "direction",
    "inquiries", "resolution_known", "resolved_first_contact", "web_first_known", "web_first",
    *(f"requesters_{kind}" for kind in REQUESTER_TYPES),
)


class KomhenError(Exception):
    """The counting-week table cannot be made as asked; the message says what to change."""


class NoInquiries(KomhenError):
    """The store holds no inquiry for that week (and municipality)."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week: Monday to Sunday, the unit KOMHEN counts in."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """'2026-W12' (or '2026W12') -> IsoWeek(2026, 12); anything else names the expected form."""
        match = _ISO_WEEK.fullmatch(text)
        if not match:
            raise KomhenError(f"week '{text[:40]}' is not an ISO week like 2026-W12")
        year, week = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= 2099:  # the years an inquiry event may carry
            raise KomhenError(f"week '{text}': the year is outside 2000–2099")
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise KomhenError(f"week '{text}': {year} has no ISO week {week}") from None
        return cls(year, week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True)
class KomhenCell:
    """Inquiries of one task x department x channel x direction in the week, with the
    registration parameters the sources carried for them."""

    task: str
    task_label: str
    department: str
    channel: str
    direction: str
    inquiries: int
    resolution_known: int
    resolved: int
    web_first_known: int
    web_first: int
    requesters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class KomhenWeek:
    """One municipality's counting week, as the view returns it, sorted in KOMHEN's order."""

    week: IsoWeek
    municipality: str
    cells: list[KomhenCell]
    page_views: list[tuple[str, str, int]]  # (task, label, views): website task-page views, not inquiries
    timezone: str = "Europe/Copenhagen"  # the local time the view's days are in

    @property
    def stem(self) -> str:
        return f"komhen-{self.municipality}-{self.week}"

    def tasks(self) -> list[tuple[str, str, list[str]]]:
        """(task, label, departments) per task, in KLE order; the label with the most inquiries."""
        labels: defaultdict[str, Counter[str]] = defaultdict(Counter)
        departments: defaultdict[str, set[str]] = defaultdict(set)
        for cell in self.cells:
            labels[cell.task][cell.task_label] += cell.inquiries
            if cell.department:
                departments[cell.task].add(cell.department)
        return [(task, _label(labels[task]), sorted(departments[task])) for task in sorted(labels, key=task_order)]

    def count(self, task: str | None = None, channel: str | None = None, direction: str | None = None) -> int:
        """Inquiries summed over every cell matching the given dimensions (None: any)."""
        return sum(c.inquiries for c in self.cells if (task is None or c.task == task)
                   and (channel is None or c.channel == channel) and (direction is None or c.direction == direction))


def _label(counts: Counter[str]) -> str:
    named = [(n, label) for label, n in counts.items() if label]
    return max(named)[1] if named else ""


def komhen_sql(database: str, from_day: date, to_day: date) -> str:
    """The SELECT an analyst would write for the counting-week view."""
    if from_day > to_day:
        raise KomhenError(f"from_day {from_day} is after to_day {to_day}")
    return (f"SELECT * FROM {database}.{VIEW}(from_day = '{from_day.isoformat()}', "
            f"to_day = '{to_day.isoformat()}')")


def read_komhen_week(query: Query, database: str, week: IsoWeek, municipality: str | None = None,
                     timezone: str = "Europe/Copenhagen") -> KomhenWeek:
    """The counting week for `municipality`, or for the only municipality with inquiries that week.
    `timezone` is the steering file's: the store's views count local days in it."""
    rows = query(komhen_sql(database, week.monday, week.sunday)).as_dicts()
    found = sorted({str(r["municipality"]) for r in rows})
    period = f"{week} ({week.monday.isoformat()} to {week.sunday.isoformat()}, local time)"
    if municipality is None:
        if not found:
            raise NoInquiries(f"no inquiries stored for {period}: is that week ingested? Check the connectors "
                              "and the worker, or `kanalpuls kpi volume --from ... --to ...` for the days around it")
        if len(found) > 1:
            raise KomhenError(f"the store holds {period} for several municipalities ({', '.join(found)}): "
                              "choose one with --municipality")
        municipality = found[0]
    elif municipality not in found:
        others = f" (the store has it for {', '.join(found)})" if found else ""
        raise NoInquiries(f"no inquiries stored for municipality {municipality} in {period}{others}")
    cells = [
        KomhenCell(
            task=str(r["task"]), task_label=str(r["task_label"]), department=str(r["department"]),
            channel=str(r["channel"]), direction=str(r["direction"]), inquiries=int(r["inquiries"]),
            resolution_known=int(r["resolution_known"]), resolved=int(r["resolved"]),
            web_first_known=int(r["web_first_known"]), web_first=int(r["web_first"]),
            requesters={kind: int(r[f"requesters_{kind}"]) for kind in REQUESTER_TYPES},
        )
        for r in rows if r["municipality"] == municipality
    ]
    foreign = sorted({c.channel for c in cells} - set(CHANNELS))
    if foreign:  # the hand-in sheet has a column per KOMHEN channel; an inquiry must not fall between them
        raise KomhenError(f"channel(s) {', '.join(foreign)} have no KOMHEN column (pipeline/reports/labels.py)")
    cells.sort(key=lambda c: (task_order(c.task), c.department, channel_order(c.channel), c.direction))
    views: Counter[str] = Counter()
    view_labels: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for r in run_kpi(query, database, "web_views", from_day=week.monday, to_day=week.sunday).as_dicts():
        views[str(r["task"])] += int(r["page_views"])
        view_labels[str(r["task"])][str(r["task_label"])] += int(r["page_views"])
    page_views = [(task, _label(view_labels[task]), views[task]) for task in sorted(views, key=task_order)]
    return KomhenWeek(week, municipality, cells, page_views, timezone)


def csv_rows(table: KomhenWeek) -> list[dict[str, object]]:
    """The long format, one dict per cell with CSV_COLUMNS as keys (the CSV and the data sheet)."""
    return [
        {"iso_week": str(table.week), "municipality": table.municipality, "task": c.task, "task_label": c.task_label,
         "department": c.department, "channel": c.channel, "channel_name": CHANNEL_DA.get(c.channel, c.channel),
         "direction": c.direction, "inquiries": c.inquiries, "resolution_known": c.resolution_known,
         "resolved_first_contact": c.resolved, "web_first_known": c.web_first_known, "web_first": c.web_first,
         **{f"requesters_{kind}": c.requesters.get(kind, 0) for kind in REQUESTER_TYPES}}
        for c in table.cells
    ]


def write_csv(table: KomhenWeek, path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(table))
    return path


def write_komhen(table: KomhenWeek, out_dir: Path) -> list[Path]:
    """Write the CSV and the XLSX into out_dir (created if missing); returns their paths."""
    from pipeline.reports.workbook import write_workbook  # openpyxl is loaded only to write one

    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_csv(table, out_dir / f"{table.stem}.csv"), write_workbook(table, out_dir / f"{table.stem}.xlsx")]

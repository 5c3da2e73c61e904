"""The KOMHEN counting week ("tælleuge") from the continuous data, for any ISO week.

KOMHEN 2.0 is KL's method: for one or two weeks a year staff register every inquiry by task
(KLE code), channel and direction (ind- og udgående), plus a few registration parameters.
kanalpuls already sees every inquiry, so this module produces the same table for any week
from pipeline.ground.errors import TerminalError
from the view deploy/clickhouse/120_komhen_week.sql (per inquiry, as first-contact resolution
counts them), in two files a tovholder can hand in without fixing anything by hand:

- `komhen-<municipality>-<YYYY>-W<ww>.csv`: long format, one row per task x department x
  channel x direction, Danish headings (COLUMNS): Uge, Kommune, KLE-nr., Opgave, Afdeling,
  Kanal, Kanalkode, Retning, Henvendelser, then what KOMHEN 2.0 registers with each inquiry:
  abandoned calls and walk-outs apart from the inquiries, straksafklaring (known, resolved,
  pending: the follow-up days have not passed yet), been on the website first (known, yes),
  requester type. "Kendt" columns matter: 0 resolved means nothing when 0 are known. UTF-8
  with a byte-order mark, comma-separated.
- `komhen-<municipality>-<YYYY>-W<ww>.xlsx`: the same week to hand in (layout in
  pipeline/reports/workbook.py, whose write_komhen writes both files): the counting sheet,
  the long data, and notes.

Inquiries are inquiries handled: answered calls and served tickets (an abandoned call or a
walk-out is counted apart, never as an inquiry), every e-mail, letter, form and chat, in both
directions; web page views are not inquiries (the notes sheet gives them per task, apart).
Totals leave out the unclassified inquiries, which are listed apart with their share, and the
municipality's own KOMHEN task package (the steering file's komhen_tasks; KL's minimum
package has 37 tasks) is checked: a task of it with no inquiry is named, since that is more
often a missing mapping rule than a week without one inquiry. The week is Monday to Sunday in
the municipality's local time. A week without a single inquiry is an error (`NoInquiries`),
not an empty file: a table of zeros handed in by mistake would report a week not measured.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.ground.errors import TerminalError
from pipeline.ground.messages import CHANNEL_DA, CHANNELS
from pipeline.measures.iso_week import IsoWeek
from pipeline.measures.kpi_output import spreadsheet_text
from pipeline.measures.kpis import run_kpi
from pipeline.reports.labels import DIRECTION_DA, REQUESTER_TYPES, UNCLASSIFIED, channel_order, task_order
from pipeline.reports.labels import count as count_text
from pipeline.reports.labels import percent as percent_text
from pipeline.store.clickhouse import QueryResult

Query = Callable[[str], QueryResult]
VIEW = "komhen_week"

# The long format's columns: code (what the code calls it) -> heading (what the tovholder reads,
# KOMHEN 2.0's registration parameters in Danish).
COLUMNS: dict[str, str] = {
    "iso_week": "Uge",
    "municipality": "Kommune",
    "task": "KLE-nr.",
    "task_label": "Opgave",
    "department": "Afdeling",
    "channel_name": "Kanal",
    "channel": "Kanalkode",
    "direction": "Retning",
    "inquiries": "Henvendelser",
    "abandoned": "Opgivne opkald og gået før tur",
    "resolution_known": "Straksafklaring kendt",
    "resolved_first_contact": "Straksafklaret",
    "resolution_pending": "Straksafklaring afventer",
    "web_first_known": "Hjemmeside først kendt",
    "web_first": "Været på hjemmesiden først",
    "requesters_citizen": "Borgere",
    "requesters_business": "Virksomheder",
    "requesters_association": "Foreninger",
    "requesters_authority": "Myndigheder",
    "requesters_unknown": "Henvender ukendt",
}
CSV_COLUMNS: tuple[str, ...] = tuple(COLUMNS.values())
PARAMETERS: tuple[str, ...] = tuple(COLUMNS)[9:]  # the counts after Henvendelser
UNCLASSIFIED_DA = "uklassificeret"


class KomhenError(TerminalError):
    """The counting-week table cannot be made as asked; the message says what to change."""


class NoInquiries(KomhenError):
    """The store holds no inquiry for that week (and municipality)."""


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
    abandoned: int
    resolution_known: int
    resolved: int
    resolution_pending: int
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
    package: tuple[str, ...] = ()  # the municipality's KOMHEN task package (steering komhen_tasks)
    within_days: int = 7  # straksafklaring's follow-up window

    @property
    def stem(self) -> str:
        return f"komhen-{self.municipality}-{self.week}"

    def tasks(self) -> list[tuple[str, str, list[str]]]:
        """(task, label, departments) per task, in KLE order, unclassified last; the label with
        the most inquiries. The package's tasks are there even with no inquiry."""
        labels: defaultdict[str, Counter[str]] = defaultdict(Counter)
        departments: defaultdict[str, set[str]] = defaultdict(set)
        for task in self.package:
            labels[task].update()  # a row even without inquiries
        for cell in self.cells:
            labels[cell.task][cell.task_label] += cell.inquiries + cell.abandoned
            if cell.department:
                departments[cell.task].add(cell.department)
        return [(task, _label(labels[task]), sorted(departments[task])) for task in sorted(labels, key=task_order)]

    def count(self, task: str | None = None, channel: str | None = None, direction: str | None = None,
              what: str = "inquiries", classified: bool = False) -> int:
        """`what` (inquiries, abandoned, resolved ...) summed over the cells matching the given
        dimensions (None: any); `classified`: leaving the unclassified out, as totals do."""
        return sum(getattr(c, what) for c in self.cells if (task is None or c.task == task)
                   and (channel is None or c.channel == channel) and (direction is None or c.direction == direction)
                   and not (classified and c.task == UNCLASSIFIED))

    def unclassified_share(self) -> float:
        """The unclassified inquiries' share of all the week's inquiries (0 when there are none)."""
        everything = self.count()
        return self.count(task=UNCLASSIFIED) / everything if everything else 0.0

    def missing_tasks(self) -> list[str]:
        """The package's tasks with no inquiry and no abandoned call in the week."""
        return [task for task in self.package
                if not self.count(task=task) and not self.count(task=task, what="abandoned")]

    def warnings(self) -> list[str]:
        """What the tovholder must look at before handing the sheet in, in Danish."""
        out = []
        unclassified = self.count(task=UNCLASSIFIED)
        if unclassified:
            out.append(f"{count_text(unclassified, 'da')} henvendelser ({percent_text(self.unclassified_share(), 'da')}) er "
                       "uklassificerede og ikke med i I alt: giv dem en opgave (KLE) i kommunens opmærkningsregler")
        missing = self.missing_tasks()
        if missing:
            out.append(f"{len(missing)} opgave(r) i kommunens KOMHEN-pakke har ingen henvendelser i ugen: "
                       + ", ".join(missing[:20]) + (" …" if len(missing) > 20 else ""))
        if not self.package:
            out.append("Ingen KOMHEN-opgavepakke i styringsfilen (komhen_tasks): opgaver uden henvendelser er "
                       "ikke tjekket")
        pending = self.count(what="resolution_pending")
        if pending:
            out.append(f"Straksafklaring afventer for {count_text(pending, 'da')} henvendelser: de {self.within_days} dage, "
                       "hvor borgeren kan vende tilbage, er ikke gået endnu")
        return out


def _label(counts: Counter[str]) -> str:
    named = [(n, label) for label, n in counts.items() if label]
    return max(named)[1] if named else ""


def komhen_sql(database: str, from_day: date, to_day: date, within_days: int = 7) -> str:
    """The SELECT an analyst would write for the counting-week view."""
    if from_day > to_day:
        raise KomhenError(f"from_day {from_day} is after to_day {to_day}")
    return (f"SELECT * FROM {database}.{VIEW}(from_day = '{from_day.isoformat()}', "
            f"to_day = '{to_day.isoformat()}', within_days = {int(within_days)})")


def read_komhen_week(query: Query, database: str, week: IsoWeek, municipality: str | None = None,
                     timezone: str = "Europe/Copenhagen", within_days: int = 7,
                     package: tuple[str, ...] = ()) -> KomhenWeek:
    """The counting week for `municipality`, or for the only municipality with inquiries that week.
    `timezone` is the steering file's: the store's views count local days in it; `within_days`
    its straksafklaring follow-up window, `package` its KOMHEN task package."""
    rows = query(komhen_sql(database, week.monday, week.sunday, within_days)).as_dicts()
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
            abandoned=int(r["abandoned"]), resolution_known=int(r["resolution_known"]), resolved=int(r["resolved"]),
            resolution_pending=int(r["resolution_pending"]),
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
    return KomhenWeek(week, municipality, cells, page_views, timezone, tuple(package), within_days)


def csv_rows(table: KomhenWeek) -> list[list[object]]:
    """The long format, one row per cell in COLUMNS' order (the CSV and the data sheet). Labels
    and departments come from sources' events: none may run as a formula in a spreadsheet."""
    return [
        [str(table.week), spreadsheet_text(table.municipality), UNCLASSIFIED_DA if c.task == UNCLASSIFIED else c.task,
         spreadsheet_text(c.task_label), spreadsheet_text(c.department), CHANNEL_DA.get(c.channel, c.channel),
         c.channel, DIRECTION_DA.get(c.direction, c.direction),
         c.inquiries, c.abandoned, c.resolution_known, c.resolved, c.resolution_pending, c.web_first_known,
         c.web_first, *(c.requesters.get(kind, 0) for kind in REQUESTER_TYPES)]
        for c in table.cells
    ]


def write_csv(table: KomhenWeek, path: Path) -> Path:
    # With a byte-order mark: Excel opens UTF-8 as UTF-8 only then (ø, æ, å in task labels).
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)  # texts quoted: a ';' in a label stays in its cell
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(table))
    return path


"""The KOMHEN counting week as an Excel workbook a municipality can hand in or forward.

Layout, three sheets (headings in Danish, like KL's registration form):

1. "Optælling": the table to hand in. Rows 1-2 name the week, its dates, the municipality and
   what was counted; then one red line per thing to look at before handing in (unclassified
   share, package tasks without inquiries, straksafklaring still pending). Then a two-level
   heading: "KLE-nr.", "Opgave", "Afdeling", per channel in KOMHEN's order (Personligt
   fremmøde, Telefon, E-mail, Papirpost, Digital Post, Digital selvbetjening, Chat) two
   columns "Indgående" / "Udgående", "I alt" over "Indgående", "Udgående" and "I alt", then
   "Opgivne opkald" and "Gået før tur" (not inquiries, apart) and the shares "Straksafklaring"
   and "Hjemmeside først" of the inquiries where they are known. One row per task in KLE
   order (the package's tasks even without inquiries), a bold "I alt" row of the classified
   tasks under them, and the unclassified apart below it. Every channel has its columns even
   with no inquiries, so every week's sheet has the same shape. Counts are numbers ("#,##0"),
   not formulas, so tools that do not recalculate read the same totals as Excel shows.
   Panes are frozen below the heading and right of the task columns; it prints landscape on
   one page wide, repeating the heading.
2. "Data": the long format of the CSV (the same Danish headings), with a filter on the
   heading: one row per task x department x channel x direction, with every registration
   parameter as a count.
3. "Om tallene": what was counted and how, the registration parameters' definitions, and
   website task-page views per task, apart from the table because they are not inquiries.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.ground.messages import CHANNEL_DA, CHANNELS
from pipeline.measures.kpi_output import spreadsheet_text
from pipeline.reports.komhen import CSV_COLUMNS, UNCLASSIFIED_DA, KomhenWeek, csv_rows, write_csv
from pipeline.reports.labels import DIRECTION_DA, DIRECTIONS, UNCLASSIFIED

TABLE_SHEET, DATA_SHEET, NOTES_SHEET = "Optælling", "Data", "Om tallene"
COUNT_FORMAT = "#,##0"
SHARE_FORMAT = "0.0%"
EXTRA_COLUMNS = ("Opgivne opkald", "Gået før tur", "Straksafklaring", "Hjemmeside først")
PENDING = "afventer"
_WARNING = Font(bold=True, color="C00000")
_BOLD = Font(bold=True)
_HEADING_FILL = PatternFill("solid", fgColor="DDE6F0")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _date(day: object) -> str:
    return f"{day:%d.%m.%Y}"


def _heading(ws: Worksheet, row: int, column: int, text: str, *, span: int = 1, rows: int = 1) -> None:
    ws.cell(row, column, text)
    if span > 1 or rows > 1:
        ws.merge_cells(start_row=row, start_column=column, end_row=row + rows - 1, end_column=column + span - 1)
    for r in range(row, row + rows):
        for c in range(column, column + span):
            cell = ws.cell(r, c)
            cell.font, cell.fill, cell.border, cell.alignment = _BOLD, _HEADING_FILL, _BOX, _CENTRE


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _extras(table: KomhenWeek, task: str | None, classified: bool = False) -> list[object]:
    """Abandoned calls, walk-outs, and the straksafklaring and web-first shares of a task (None:
    every classified task)."""
    def count(what: str, channel: str | None = None) -> int:
        return table.count(task=task, channel=channel, what=what, classified=classified)

    resolution: object = _share(count("resolved"), count("resolution_known"))
    if resolution is None and count("resolution_pending"):
        resolution = PENDING  # the follow-up days have not passed: not 0 %, not unknown
    return [count("abandoned", "phone"), count("abandoned", "walk_in"), resolution,
            _share(count("web_first"), count("web_first_known"))]


def _table_sheet(ws: Worksheet, table: KomhenWeek) -> None:
    week = table.week
    ws.title = TABLE_SHEET
    ws["A1"] = f"KOMHEN-optælling, uge {week.week}, {week.year} ({_date(week.monday)}–{_date(week.sunday)})"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = (f"Kommune {table.municipality}. Henvendelser ind- og udgående pr. opgave (KLE), kanal og retning, "
                f"talt i kanalpuls' løbende registrering (lokal tid, {table.timezone}): besvarede opkald og betjente "
                f"numre; opgivne opkald og gået før tur står for sig. Hjemmesidebesøg er ikke henvendelser: se arket "
                f"'{NOTES_SHEET}'.")
    ws["A2"].alignment = Alignment(wrap_text=False)
    row = 3
    for warning in table.warnings():
        ws.cell(row, 1, f"OBS: {warning}").font = _WARNING
        row += 1
    heading = row + 1

    columns = [(channel, direction) for channel in CHANNELS for direction in DIRECTIONS]
    first = 4  # column of the first channel
    _heading(ws, heading, 1, "KLE-nr.", rows=2)
    _heading(ws, heading, 2, "Opgave", rows=2)
    _heading(ws, heading, 3, "Afdeling", rows=2)
    for i, channel in enumerate(CHANNELS):
        _heading(ws, heading, first + 2 * i, CHANNEL_DA[channel], span=2)
    total_column = first + len(columns)
    _heading(ws, heading, total_column, "I alt", span=3)
    for i, (_, direction) in enumerate(columns):
        _heading(ws, heading + 1, first + i, DIRECTION_DA[direction])
    for i, text in enumerate((DIRECTION_DA["inbound"], DIRECTION_DA["outbound"], "I alt")):
        _heading(ws, heading + 1, total_column + i, text)
    extra_column = total_column + 3
    for i, text in enumerate(EXTRA_COLUMNS):
        _heading(ws, heading, extra_column + i, text, rows=2)
    last_column = extra_column + len(EXTRA_COLUMNS) - 1

    counts: dict[tuple[str, str, str], int] = {}
    for cell in table.cells:
        key = (cell.task, cell.channel, cell.direction)
        counts[key] = counts.get(key, 0) + cell.inquiries

    def write_row(row: int, values: list[int], extras: list[object]) -> None:
        inbound, outbound = sum(values[0::2]), sum(values[1::2])
        for i, value in enumerate([*values, inbound, outbound, inbound + outbound, *extras[:2]]):
            ws.cell(row, first + i, value).number_format = COUNT_FORMAT
        for i, value in enumerate(extras[2:]):
            ws.cell(row, extra_column + 2 + i, value).number_format = SHARE_FORMAT
        for c in range(1, last_column + 1):
            ws.cell(row, c).border = _BOX
        ws.cell(row, total_column + 2).font = _BOLD

    row = heading + 2
    label_width, department_width = len("Opgave"), len("Afdeling")
    unclassified = None
    for task, label, departments in table.tasks():
        if task == UNCLASSIFIED:
            unclassified = departments
            continue
        department = ", ".join(departments)
        ws.cell(row, 1, task)
        ws.cell(row, 2, spreadsheet_text(label))
        ws.cell(row, 3, spreadsheet_text(department))
        write_row(row, [counts.get((task, channel, direction), 0) for channel, direction in columns],
                  _extras(table, task))
        label_width, department_width = max(label_width, len(label)), max(department_width, len(department))
        row += 1

    ws.cell(row, 1, "I alt")
    write_row(row, [table.count(channel=channel, direction=direction, classified=True)
                    for channel, direction in columns], _extras(table, None, classified=True))
    above = Border(left=_THIN, right=_THIN, top=Side(style="medium"), bottom=_THIN)
    for c in range(1, last_column + 1):
        cell = ws.cell(row, c)
        cell.font, cell.fill, cell.border = _BOLD, _TOTAL_FILL, above
    if unclassified is not None:  # apart, under the total it is not part of
        row += 2
        ws.cell(row, 1, UNCLASSIFIED_DA)
        ws.cell(row, 2, "Uklassificeret: ikke med i I alt")
        write_row(row, [counts.get((UNCLASSIFIED, channel, direction), 0) for channel, direction in columns],
                  _extras(table, UNCLASSIFIED))
        ws.cell(row, 2).font = _WARNING

    ws.freeze_panes = ws.cell(heading + 2, first)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = min(max(label_width + 2, 20), 45)
    ws.column_dimensions["C"].width = min(max(department_width + 2, 12), 30)
    for c in range(first, last_column + 1):
        ws.column_dimensions[get_column_letter(c)].width = 11.5
    ws.row_dimensions[heading].height = 32  # two-line channel names ("Digital selvbetjening")
    ws.print_title_rows = f"{heading}:{heading + 1}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _data_sheet(ws: Worksheet, table: KomhenWeek) -> None:
    ws.append(list(CSV_COLUMNS))
    for record in csv_rows(table):
        ws.append(record)
    counts_from = CSV_COLUMNS.index("Henvendelser") + 1
    for c in range(1, len(CSV_COLUMNS) + 1):
        ws.cell(1, c).font, ws.cell(1, c).fill = _BOLD, _HEADING_FILL
        values = [len(str(ws.cell(r, c).value or "")) for r in range(1, ws.max_row + 1)]
        ws.column_dimensions[get_column_letter(c)].width = min(max(values) + 2, 40)
        if c >= counts_from:
            for r in range(2, ws.max_row + 1):
                ws.cell(r, c).number_format = COUNT_FORMAT
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions


NOTES = (
    ("Henvendelser: henvendelser, der blev håndteret, indgående (fra borgere, virksomheder, foreninger, "
     "myndigheder) og udgående (fra kommunen), talt én gang: besvarede opkald, betjente numre, e-mails, breve, "
     "selvbetjening, Digital Post og chat. Opgivne opkald og numre, hvis indehaver gik før tur eller ikke kom frem, "
     "er ikke henvendelser og står i egne kolonner."),
    ("Opgave: KLE-nummer efter kommunens opmærkningsregler (deploy/mapping.yaml). Henvendelser uden regel står "
     "som 'uklassificeret' under I alt, ikke i den: deres andel står øverst på arket Optælling."),
    ("Straksafklaring: af de indgående henvendelser, hvor det vides, andelen afklaret ved første kontakt. Kilden "
     "registrerer det (sagssystem, blanket, viderestilling = ikke afklaret), eller det udledes: afklaret, hvis samme "
     "borger ikke henvender sig igen om samme opgave inden for {days} dage. 'Straksafklaring afventer' på arket "
     "Data: de dage er ikke gået endnu."),
    ("Hjemmeside først: af henvendelserne, hvor kilden registrerer det, andelen der havde været på hjemmesiden "
     "først."),
    ("Henvendertype (Borgere, Virksomheder, Foreninger, Myndigheder, Henvender ukendt): som kilden eller "
     "opmærkningsreglen angiver den."),
)


def _notes_sheet(ws: Worksheet, table: KomhenWeek, generated: datetime) -> None:
    ws.column_dimensions["A"].width = 11
    ws.column_dimensions["B"].width = 40
    ws.column_dimensions["C"].width = 14
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    week = table.week
    ws["A1"] = f"Om tallene: uge {week.week}, {week.year}, kommune {table.municipality}"
    ws["A1"].font = Font(bold=True, size=14)
    lines = (f"Uge {week}: mandag {_date(week.monday)} til søndag {_date(week.sunday)}, lokal tid ({table.timezone}).",
             *(note.replace("{days}", str(table.within_days)) for note in NOTES),
             *(f"OBS: {warning}" for warning in table.warnings()), f"Dannet {generated:%d.%m.%Y %H:%M} UTC af kanalpuls (kanalpuls report komhen).")
    row = 3
    for line in lines:  # over the three table columns, wrapped; Excel does not size merged rows itself
        ws.cell(row, 1, line).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
        ws.row_dimensions[row].height = 15 * math.ceil(len(line) / 62)
        row += 1
    row += 1
    ws.cell(row, 1, "Besøg på opgavesider på hjemmesiden: ikke henvendelser, ikke med i optællingen").font = _BOLD
    ws.cell(row, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    ws.row_dimensions[row].height = 30
    row += 1
    if not table.page_views:
        ws.cell(row, 1, "Ingen sidevisninger registreret i ugen.")
        return
    for c, text in enumerate(("KLE-nr.", "Opgave", "Sidevisninger"), start=1):
        ws.cell(row, c, text).font = _BOLD
        ws.cell(row, c).fill = _HEADING_FILL
    for task, label, views in table.page_views:
        row += 1
        ws.cell(row, 1, task)
        ws.cell(row, 2, spreadsheet_text(label))
        ws.cell(row, 3, views).number_format = COUNT_FORMAT


def write_workbook(table: KomhenWeek, path: Path, generated: datetime | None = None) -> Path:
    workbook = Workbook()
    _table_sheet(workbook.active, table)
    _data_sheet(workbook.create_sheet(DATA_SHEET), table)
    _notes_sheet(workbook.create_sheet(NOTES_SHEET), table, generated or datetime.now(timezone.utc))
    workbook.save(path)
    return path


def write_komhen(table: KomhenWeek, out_dir: Path) -> list[Path]:
    """The week's two files, the CSV and this workbook, into out_dir (created if missing); their
    paths. Here, not in komhen.py, so the table module never imports its writer back."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_csv(table, out_dir / f"{table.stem}.csv"), write_workbook(table, out_dir / f"{table.stem}.xlsx")]

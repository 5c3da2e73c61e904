"""The KOMHEN counting week as an Excel workbook a municipality can hand in or forward.

Layout, three sheets (headings in Danish, like KL's registration form):

1. "Optælling": the table to hand in. Rows 1-2 name the week, its dates, the municipality and
   what was counted. Rows 4-5 are a two-level heading: "KLE-nr.", "Opgave", "Afdeling", then
   per channel in KOMHEN's order (Personligt fremmøde, Telefon, E-mail, Papirpost, Digital
   Post, Digital selvbetjening, Chat) two columns "Indgående" / "Udgående", then "I alt"
   over "Indgående", "Udgående" and "I alt". One row per task (KLE order, unclassified last)
   from row 6, a bold "I alt" row under them. Every channel has its columns even with no
   inquiries, so every week's sheet has the same shape. Counts are numbers ("#,##0"), not
   formulas, so tools that do not recalculate read the same totals as Excel shows.
   Panes are frozen below the heading and right of the task columns; it prints landscape on
   one page wide, repeating the heading.
2. "Data": the long format of the CSV (same columns, codes and Danish channel names), with a
   filter on the heading: one row per task x department x channel x direction, with the
   registration parameters.
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

from pipeline.reports.komhen import CSV_COLUMNS, KomhenWeek, csv_rows
from pipeline.reports.labels import CHANNEL_DA, CHANNELS, DIRECTION_DA, DIRECTIONS

TABLE_SHEET, DATA_SHEET, NOTES_SHEET = "Optælling", "Data", "Om tallene"
HEADING_ROW = 4  # channel names; directions in the row below; tasks from HEADING_ROW + 2
COUNT_FORMAT = "#,##0"
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


def _table_sheet(ws: Worksheet, table: KomhenWeek) -> None:
    week = table.week
    ws.title = TABLE_SHEET
    ws["A1"] = f"KOMHEN-optælling, uge {week.week}, {week.year} ({_date(week.monday)}–{_date(week.sunday)})"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = (f"Kommune {table.municipality}. Henvendelser ind- og udgående pr. opgave (KLE), kanal og retning, "
                f"talt ved modtagelse i kanalpuls' løbende registrering (lokal tid, {table.timezone}). "
                f"Hjemmesidebesøg er ikke henvendelser og indgår ikke: se arket '{NOTES_SHEET}'.")
    ws["A2"].alignment = Alignment(wrap_text=False)

    columns = [(channel, direction) for channel in CHANNELS for direction in DIRECTIONS]
    first = 4  # column of the first channel
    _heading(ws, HEADING_ROW, 1, "KLE-nr.", rows=2)
    _heading(ws, HEADING_ROW, 2, "Opgave", rows=2)
    _heading(ws, HEADING_ROW, 3, "Afdeling", rows=2)
    for i, channel in enumerate(CHANNELS):
        _heading(ws, HEADING_ROW, first + 2 * i, CHANNEL_DA[channel], span=2)
    total_column = first + len(columns)
    _heading(ws, HEADING_ROW, total_column, "I alt", span=3)
    for i, (_, direction) in enumerate(columns):
        _heading(ws, HEADING_ROW + 1, first + i, DIRECTION_DA[direction])
    for i, text in enumerate((DIRECTION_DA["inbound"], DIRECTION_DA["outbound"], "I alt")):
        _heading(ws, HEADING_ROW + 1, total_column + i, text)

    counts: dict[tuple[str, str, str], int] = {}
    for cell in table.cells:
        key = (cell.task, cell.channel, cell.direction)
        counts[key] = counts.get(key, 0) + cell.inquiries
    row = HEADING_ROW + 2
    label_width, department_width = len("Opgave"), len("Afdeling")
    for task, label, departments in table.tasks():
        values = [counts.get((task, channel, direction), 0) for channel, direction in columns]
        inbound, outbound = sum(values[0::2]), sum(values[1::2])
        department = ", ".join(departments)
        ws.cell(row, 1, task)
        ws.cell(row, 2, label or ("Uklassificeret" if task == "unclassified" else ""))
        ws.cell(row, 3, department)
        for i, value in enumerate([*values, inbound, outbound, inbound + outbound]):
            ws.cell(row, first + i, value).number_format = COUNT_FORMAT
        for c in range(1, total_column + 3):
            ws.cell(row, c).border = _BOX
        ws.cell(row, total_column + 2).font = _BOLD
        label_width, department_width = max(label_width, len(label)), max(department_width, len(department))
        row += 1

    totals = [table.count(channel=channel, direction=direction) for channel, direction in columns]
    inbound, outbound = sum(totals[0::2]), sum(totals[1::2])
    ws.cell(row, 1, "I alt")
    for i, value in enumerate([*totals, inbound, outbound, inbound + outbound]):
        ws.cell(row, first + i, value).number_format = COUNT_FORMAT
    above = Border(left=_THIN, right=_THIN, top=Side(style="medium"), bottom=_THIN)
    for c in range(1, total_column + 3):
        cell = ws.cell(row, c)
        cell.font, cell.fill, cell.border = _BOLD, _TOTAL_FILL, above

    ws.freeze_panes = ws.cell(HEADING_ROW + 2, first)
    ws.column_dimensions["A"].width = 11
    ws.column_dimensions["B"].width = min(max(label_width + 2, 20), 45)
    ws.column_dimensions["C"].width = min(max(department_width + 2, 12), 30)
    for c in range(first, total_column + 3):
        ws.column_dimensions[get_column_letter(c)].width = 11.5
    ws.row_dimensions[HEADING_ROW].height = 32  # two-line channel names ("Digital selvbetjening")
    ws.print_title_rows = f"{HEADING_ROW}:{HEADING_ROW + 1}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _data_sheet(ws: Worksheet, table: KomhenWeek) -> None:
    ws.append(list(CSV_COLUMNS))
    for record in csv_rows(table):
        ws.append([record[column] for column in CSV_COLUMNS])
    for c, column in enumerate(CSV_COLUMNS, start=1):
        ws.cell(1, c).font, ws.cell(1, c).fill = _BOLD, _HEADING_FILL
        values = [len(str(ws.cell(r, c).value or "")) for r in range(1, ws.max_row + 1)]
        ws.column_dimensions[get_column_letter(c)].width = min(max(values) + 2, 40)
        if column not in ("iso_week", "municipality", "task", "task_label", "department", "channel", "channel_name",
                          "direction"):
            for r in range(2, ws.max_row + 1):
                ws.cell(r, c).number_format = COUNT_FORMAT
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions


NOTES = (
    ("Henvendelser: ankomne henvendelser, indgående (fra borgere, virksomheder, foreninger, myndigheder) og "
     "udgående (fra kommunen), talt én gang ved modtagelse, fra telefonkøer, nummersystemer, fællespostkasser, "
     "selvbetjeningsløsninger, sagssystemets eksport og chat."),
    ("Opgave: KLE-nummer efter kommunens opmærkningsregler (deploy/mapping.yaml); henvendelser uden regel står "
     "som 'unclassified' og er talt med, ikke udeladt."),
    ("Straksafklaring (resolution_known / resolved_first_contact på arket Data): af de henvendelser i cellen, "
     "hvor det vides om de blev afklaret ved første kontakt (afsluttede opkald og besøg; kilder der registrerer "
     "det), hvor mange der blev det."),
    ("Hjemmesiden først (web_first_known / web_first): af de henvendelser, hvor kilden registrerer det, hvor mange "
     "der havde været på hjemmesiden først."),
    ("Henvendertype (requesters_*): borger, virksomhed, forening, myndighed, ukendt, som kilden eller "
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
             *NOTES, f"Dannet {generated:%d.%m.%Y %H:%M} UTC af kanalpuls (kanalpuls report komhen).")
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
        ws.cell(row, 2, label)
        ws.cell(row, 3, views).number_format = COUNT_FORMAT


def write_workbook(table: KomhenWeek, path: Path, generated: datetime | None = None) -> Path:
    workbook = Workbook()
    _table_sheet(workbook.active, table)
    _data_sheet(workbook.create_sheet(DATA_SHEET), table)
    _notes_sheet(workbook.create_sheet(NOTES_SHEET), table, generated or datetime.now(timezone.utc))
    workbook.save(path)
    return path

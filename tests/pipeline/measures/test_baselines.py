"""Named baselines (pipeline/measures/baselines.py, pipeline/measures/baseline_files.py) and the views that
compare with them (kpi_channel_shift, kpi_realised_gain), against numbers worked out by hand.

The store holds the realised-gain view's worked example: a baseline week and a week looked
at, for two tasks, plus a third task that only the week looked at has. The same baseline is
then imported as a count table and typed in as a channel mix, and every way must give the
example's numbers.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipeline.ground.steering import Baseline, Steering, SteeringError, Target, TargetPoint, TargetScope, load_steering
from pipeline.measures.baseline_files import BaselineFileError, read_baseline_file
from pipeline.measures.baselines import BaselineError, BaselineMissing, require_data, resolve_baseline, store_baseline
from pipeline.measures.kpis import run_kpi
from pipeline.measures.targets import evaluate_target
from pipeline.store.clickhouse import EmbeddedStore, init_schema, load_steering_tables
from schemas import InquiryEvent, SourceRef

REPO = Path(__file__).resolve().parents[3]
DB = "baselines"
BASE_WEEK = (date(2026, 11, 2), date(2026, 11, 8))
WEEK = (date(2026, 11, 9), date(2026, 11, 15))
PASSPORT, HOUSING, PARKING = "05.13.00", "27.12.00", "06.02.00"
# (task, channel): inquiries, as in deploy/clickhouse/106_kpi_realised_gain.sql's comment
BASE = {(PASSPORT, "walk_in"): 60, (PASSPORT, "self_service"): 40, (HOUSING, "phone"): 10,
        (HOUSING, "self_service"): 10}
NOW = {(PASSPORT, "walk_in"): 50, (PASSPORT, "self_service"): 50, (HOUSING, "phone"): 40,
       (HOUSING, "self_service"): 40, (PARKING, "phone"): 7}


def events(counts: dict[tuple[str, str], int], monday: date, prefix: str) -> list[InquiryEvent]:
    out = []
    for (task, channel), n in counts.items():
        for i in range(n):
            moment = datetime.combine(monday + timedelta(days=i % 5), datetime.min.time(), UTC) + timedelta(hours=9)
            out.append(InquiryEvent(
                event_id=f"{prefix}{len(out):031d}"[:32], occurred_at=moment, municipality="751", channel=channel,
                stage="arrived", task=task, source=SourceRef(system="test")))
    return out


@pytest.fixture(scope="module")
def steering() -> Steering:
    base = load_steering(REPO / "deploy" / "steering.yaml")
    baselines = {**base.baselines,
                 "base_week": Baseline(kind="fixed", start=BASE_WEEK[0], end=BASE_WEEK[1]),
                 "typed_mix": Baseline(kind="channel_mix", mix={
                     PASSPORT: {"walk_in": 60, "self_service": 40},   # percentages are scaled
                     HOUSING: {"phone": 0.5, "self_service": 0.5},
                     "*": {"walk_in": 0.5, "phone": 0.25, "self_service": 0.25}})}
    return base.model_copy(update={"baselines": baselines})


@pytest.fixture(scope="module")
def store(steering: Steering, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    from tests.stores import insert_events

    opened = EmbeddedStore(tmp_path_factory.mktemp("baselines") / "chdb", DB)
    try:
        init_schema(opened, steering)
        insert_events(opened, events(BASE, BASE_WEEK[0], "a") + events(NOW, WEEK[0], "b"))
        yield opened
    finally:
        opened.close()


def gain_rows(store: EmbeddedStore, steering: Steering, name: str) -> dict[tuple[str, str], dict[str, object]]:
    baseline = resolve_baseline(steering, store.query, DB, name, *WEEK)
    rows = run_kpi(store.query, DB, "realised_gain", from_day=WEEK[0], to_day=WEEK[1], **baseline.arguments())
    return {(str(r["task"]), str(r["channel"])): r for r in rows.as_dicts()}


def close(a: object, b: float) -> bool:
    return a is not None and math.isclose(float(a), b, abs_tol=1e-6)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def imported(store: EmbeddedStore, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("import") / "taelleuge.csv"
    lines = ["KLE-nr.;Opgave;Kanal;Retning;Antal"]
    lines += [f"{task};x;{channel};Indgående;{n}" for (task, channel), n in BASE.items()]
    lines += [f"{PASSPORT};Pas;Telefon;Udgående;5", "I alt;;;;125"]
    path.write_text("\n".join(lines), encoding="utf-8")
    store_baseline(store, "komhen_2025", read_baseline_file(path), str(path), days=7)
    return "komhen_2025"


@pytest.mark.parametrize("name", ["base_week", "komhen_2025", "typed_mix"])
def test_realised_gain_is_standardised_per_task_as_the_worked_example(
        name: str, store: EmbeddedStore, steering: Steering, imported: str) -> None:
    got = gain_rows(store, steering, name)
    passport, housing, total = got[(PASSPORT, "*")], got[(HOUSING, "*")], got[("*", "*")]
    assert close(passport["cost_at_baseline_mix_dkk"], 4920) and close(passport["cost_dkk"], 4150)
    assert close(passport["gain_dkk"], 770)
    assert close(got[(PASSPORT, "walk_in")]["gain_dkk"], 800)
    assert close(got[(PASSPORT, "self_service")]["gain_dkk"], -30)
    assert close(housing["gain_dkk"], 0) and close(housing["cost_dkk"], 1720)
    # the task without a baseline mix is listed, not priced at the overall mix
    parking = got[(PARKING, "*")]
    assert parking["has_baseline_mix"] == 0 and parking["gain_dkk"] is None and parking["inquiries"] == 7
    assert close(total["gain_dkk"], 770) and close(total["cost_dkk"], 5870)
    assert total["uncompared_inquiries"] == 7 and total["inquiries"] == 187
    # per channel over all tasks: walk-in 800, phone 0, self-service -30; they add up to the total
    assert close(got[("*", "walk_in")]["gain_dkk"], 800) and close(got[("*", "self_service")]["gain_dkk"], -30)
    assert close(sum(float(r["gain_dkk"]) for (t, c), r in got.items() if t == "*" and c != "*"), 770)


@pytest.mark.parametrize("name", ["base_week", "komhen_2025"])
def test_channel_shift_against_a_period_and_an_imported_count_agree(
        name: str, store: EmbeddedStore, steering: Steering, imported: str) -> None:
    baseline = resolve_baseline(steering, store.query, DB, name, *WEEK)
    rows = run_kpi(store.query, DB, "channel_shift", from_day=WEEK[0], to_day=WEEK[1], **baseline.arguments())
    got = {(r["task"], r["channel"]): r for r in rows.as_dicts()}
    assert close(got[(PASSPORT, "walk_in")]["shift"], 0.5 - 0.6)
    # the count lists passport and housing only: its overall row compares those (180 now), a period all (187)
    assert close(got[("*", "walk_in")]["shift"], 50 / (187 if name == "base_week" else 180) - 60 / 120)
    assert close(got[("*", "phone")]["baseline_share"], 10 / 120)
    # parking has no baseline: its share now is known, its shift is not (NULL, never NaN)
    assert close(got[(PARKING, "phone")]["share"], 1.0) and got[(PARKING, "phone")]["shift"] is None


def test_a_typed_mix_gives_the_overall_shares_it_was_given(store: EmbeddedStore, steering: Steering) -> None:
    baseline = resolve_baseline(steering, store.query, DB, "typed_mix", *WEEK)
    assert baseline.kind == "mix" and baseline.days == 0
    rows = run_kpi(store.query, DB, "channel_shift", from_day=WEEK[0], to_day=WEEK[1], **baseline.arguments())
    overall = {r["channel"]: r["baseline_share"] for r in rows.as_dicts() if r["task"] == "*"}
    assert close(overall["walk_in"], 0.5) and close(overall["phone"], 0.25) and close(overall["self_service"], 0.25)


def test_an_import_keeps_directions_and_the_newest_import_wins(store: EmbeddedStore, steering: Steering,
                                                               imported: str, tmp_path: Path) -> None:
    rows = store.query(f"SELECT task, channel, direction, inquiries, days FROM {DB}.baseline_latest "
                       f"WHERE name = 'komhen_2025' ORDER BY task, channel, direction").rows
    assert (PASSPORT, "phone", "outbound", 5.0, 7) in rows and len(rows) == 5
    again = tmp_path / "again.csv"
    again.write_text("task,channel,inquiries\n85.02.00,email,3\n", encoding="utf-8")
    store_baseline(store, "komhen_2024", read_baseline_file(again), str(again), days=7)
    store_baseline(store, "komhen_2024", read_baseline_file(again), str(again), days=5)
    rows = store.query(f"SELECT task, channel, direction, inquiries, days FROM {DB}.baseline_latest "
                       f"WHERE name = 'komhen_2024'").rows
    assert rows == [("85.02.00", "email", "inbound", 3.0, 5)]


def test_unknown_and_empty_baselines_are_named_with_what_to_do(store: EmbeddedStore, steering: Steering,
                                                              imported: str) -> None:
    with pytest.raises(BaselineError, match=r"no baseline named 'nope': choose one of .*base_week.*komhen_2025"):
        resolve_baseline(steering, store.query, DB, "nope", *WEEK)
    with pytest.raises(BaselineError, match="is not a baseline name"):
        resolve_baseline(steering, store.query, DB, "x'; DROP TABLE t --", *WEEK)
    empty = resolve_baseline(steering, store.query, DB, "rolling_4_weeks", date(2026, 11, 2), date(2026, 11, 8))
    assert (empty.base_from, empty.base_to) == (date(2026, 10, 5), date(2026, 11, 1))
    with pytest.raises(BaselineMissing, match=r"rolling_4_weeks \(2026-10-05 – 2026-11-01\) holds no inbound "
                                              r"inquiries \(the store's inquiries begin 2026-11-02\).*baseline import"):
        require_data(store.query, DB, steering.timezone, empty)
    require_data(store.query, DB, steering.timezone, resolve_baseline(steering, store.query, DB, "komhen_2025", *WEEK))


def test_a_mix_must_be_shares_of_known_channels_per_kle_task() -> None:
    with pytest.raises(ValueError, match="not a KLE topic"):
        Baseline(kind="channel_mix", mix={"passport": {"phone": 1}})
    with pytest.raises(ValueError, match="not all 0"):
        Baseline(kind="channel_mix", mix={"*": {"phone": 0}})
    with pytest.raises(ValueError, match="web page views are not inquiries"):
        Baseline(kind="channel_mix", mix={"*": {"web": 1}})
    with pytest.raises(SteeringError, match="shares, not a period"):
        Baseline(kind="channel_mix", mix={"*": {"phone": 1}}).period(*WEEK)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_wide_tables_with_danish_headings_are_read(tmp_path: Path) -> None:
    wide = write(tmp_path / "wide.csv", "Uge 11 2025\n\nKLE-nr.;Opgave;Telefon;Personligt fremmøde;Digital "
                 "selvbetjening;E-mail udgående;I alt\n05.13.00;Pas;1.234;60;40,0;2;1336\n"
                 "Uklassificeret;;3;;;;3\nI alt;;1237;60;40;2;1339\n", encoding="cp1252")
    counts = read_baseline_file(wide).counts
    assert counts == {("05.13.00", "phone", "inbound"): 1234, ("05.13.00", "walk_in", "inbound"): 60,
                      ("05.13.00", "self_service", "inbound"): 40, ("05.13.00", "email", "outbound"): 2,
                      ("unclassified", "phone", "inbound"): 3}
    book = Workbook()
    sheet = book.active
    sheet.append(["KLE-nr.", "Opgave", "Telefon", None, "E-mail", None])
    sheet.append([None, None, "Indgående", "Udgående", "Indgående", "Udgående"])
    sheet.append(["27.12.00", "Boligstøtte", 10, 1, 4, None])
    book.save(tmp_path / "two_rows.xlsx")
    assert read_baseline_file(tmp_path / "two_rows.xlsx").counts == {
        ("27.12.00", "phone", "inbound"): 10, ("27.12.00", "phone", "outbound"): 1,
        ("27.12.00", "email", "inbound"): 4}


@pytest.mark.parametrize(("text", "message"), [
    ("task,channel,inquiries\n05.13.00,fax,3\n", r"bad.csv row 2: channel 'fax' is none of walk_in"),
    ("task,channel,inquiries\n05.13.00,phone,-3\n", r"bad.csv row 2, column inquiries: -3 is not a count"),
    ("task,channel,inquiries\n05.13.00,phone,lots\n", r"bad.csv row 2, column inquiries: 'lots' is not a count"),
    ("task,channel,inquiries\n05.13.00,phone,1e400\n", r"row 2, column inquiries: inf is not a count"),
    ("task,channel,inquiries\nPas,phone,3\n", r"row 2: task 'Pas' is not a KLE topic"),
    ("task,channel,direction,inquiries\n05.13.00,phone,sideways,3\n", r"row 2: direction 'sideways' is neither"),
    ("task,channel,inquiries\n05.13.00,phone,0\n", r"no task has a count above 0"),
    ("navn,adresse\nAnna,Vej 1\n", r"no sheet has a heading with a task column"),
    ("KLE-nr.;Telefon;Telefonen\n05.13.00;1;2\n", r"row 1, column 3: heading 'telefonen' is no channel"),
    ("KLE-nr.;Telefon;Tlf\n05.13.00;1;2\n", r"row 1: columns 2 and 3 are both Telefon inbound"),
    ("task,channel,antal,inquiries\n05.13.00,phone,1,2\n", r"row 1: columns 3 and 4 are both counts"),
    ("KLE-nr.;Telefon\n???;4\n", r"row 2: task '\?\?\?' is not a KLE topic"),
    ("KLE-nr.;Telefon\n-;4\n", r"row 2: task '-' is not a KLE topic"),
    ("KLE-nr.;Telefon\n;4\n", r"row 2: counts without a task"),
    ("task,channel,inquiries\n,phone,3\n", r"row 2: counts without a task"),
    ("task,channel,inquiries\n05.13.00\n", r"row 2: channel '' is none of"),
    ("task,channel,inquiries\n٠٥.١٣.٠٠,phone,3\n", r"task '٠٥.١٣.٠٠' is not a KLE topic"),
    ("task,channel,inquiries,uge\n05.13.00,phone,3,2020-W01\n05.13.00,phone,3,2026-W01\n",
     r"weeks 2020-W01 to 2026-W01 span more than a year"),
    ("task,channel,inquiries,uge\n05.13.00,phone,3,9999-W52\n", r"outside 2000–2099"),
    ("KLE-nr.;Telefon\n05.13.00;1,234\n", r"row 2, column 2: '1,234' is not a whole number of inquiries"),
    ("KLE-nr.;Telefon\n85.06;4\n", r"task '85.06' is not a KLE topic like 05.13.00"),
    ("KLE-nr.;Telefon;;E-mail\n05.13.00;4;500;2\n", r"row 2, column 3: a count under no heading"),
])
def test_what_does_not_read_is_named_by_file_row_and_column(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(BaselineFileError, match=message):
        read_baseline_file(write(tmp_path / "bad.csv", text))


def test_files_that_are_not_tables_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BaselineFileError, match="not a .csv or .xlsx file"):
        read_baseline_file(write(tmp_path / "week.pdf", "%PDF"))
    with pytest.raises(BaselineFileError, match="not a readable XLSX workbook"):
        read_baseline_file(write(tmp_path / "week.xlsx", "not a zip"))
    with pytest.raises(BaselineFileError, match="cannot read it"):
        read_baseline_file(tmp_path / "missing.csv")


def test_the_steering_files_mixes_are_loaded_and_replaced(store: EmbeddedStore, steering: Steering) -> None:
    changed = steering.model_copy(update={"baselines": {
        "typed_mix": Baseline(kind="channel_mix", mix={"*": {"phone": 1, "email": 3}})}})
    load_steering_tables(store, changed)
    try:
        rows = store.query(f"SELECT task, channel, inquiries FROM {DB}.baseline_latest WHERE name = 'typed_mix' "
                           "ORDER BY channel").rows
        assert rows == [("*", "email", 0.75), ("*", "phone", 0.25)]
    finally:
        load_steering_tables(store, steering)


def target(measure: str, baseline: str, channels: list[str], **scope: object) -> Target:
    return Target(description="t", measure=measure, baseline=baseline, scope=TargetScope(channels=channels, **scope),
                  start=TargetPoint(day=date(2026, 1, 1), value=1.0 if measure == "volume_index" else None),
                  goal=TargetPoint(day=date(2027, 1, 1), value=0.5), window_days=7)


def test_targets_compare_with_an_imported_count_or_a_typed_mix(store: EmbeddedStore, steering: Steering,
                                                               imported: str) -> None:
    volume = evaluate_target("v", target("volume_index", "komhen_2025", ["walk_in"]), steering, store.query, DB,
                             WEEK[1])
    # 50 walk-ins on the 5 days with data, against 60 in the imported 7-day week
    assert close(volume.value, (50 / 5) / (60 / 7)) and volume.note == ""
    share = evaluate_target("s", target("channel_share", "komhen_2025", ["self_service"]), steering, store.query, DB,
                            WEEK[1])
    assert close(share.start_value, 50 / 120) and close(share.value, 90 / 187)  # inbound only: not the 5 outbound
    typed = evaluate_target("m", target("channel_share", "typed_mix", ["self_service"]), steering, store.query, DB,
                            WEEK[1])
    assert close(typed.start_value, 0.25)


@pytest.mark.parametrize(("measure", "baseline", "scope", "note"), [
    ("first_contact_resolution", "komhen_2025", {}, "cannot give this measure"),
    ("volume_index", "typed_mix", {}, "cannot give this measure"),
    ("channel_share", "komhen_2025", {"departments": ["Borgerservice"]}, "cannot give this measure"),
    ("channel_share", "komhen_2025", {"tasks": ["85.02.00"]}, "has no inquiries in this target's scope"),
    ("channel_share", "counting_week_2026", {}, "no data in the baseline counting_week_2026 2026-03-09 – 2026-03-15: "
                                                "import that count"),
])
def test_a_target_whose_baseline_cannot_say_has_a_note_and_no_verdict(
        measure: str, baseline: str, scope: dict[str, object], note: str, store: EmbeddedStore, steering: Steering,
        imported: str) -> None:
    status = evaluate_target("x", target(measure, baseline, ["phone"], **scope), steering, store.query, DB, WEEK[1],
                             language="en")
    assert note in status.note
    assert status.on_track is None


def test_a_crafted_file_is_read_within_bounds(tmp_path: Path) -> None:
    """Rows as wide as a spreadsheet allows are refused (a channel past column 200 would be lost),
    cells of a megabyte are cut, not held whole."""
    wide = tmp_path / "wide.csv"
    wide.write_text("task,channel,inquiries" + ",x" * 20_000 + "\n05.13.00,phone,3" + ",1" * 20_000 + "\n",
                    encoding="utf-8")
    with pytest.raises(BaselineFileError, match=r"wide.csv row 1: more than 200 columns"):
        read_baseline_file(wide)
    long_cell = write(tmp_path / "cell.csv", "task,channel,inquiries,note\n05.13.00,phone,3," + "y" * 100_000 + "\n")
    assert read_baseline_file(long_cell).counts == {("05.13.00", "phone", "inbound"): 3}
    padded = write(tmp_path / "padded.csv", "task,channel,inquiries\n05.13.00" + " " * 195 + "GARBAGE,phone,3\n")
    with pytest.raises(BaselineFileError, match=r"row 2: task '05.13.00 .*' is not a KLE topic"):
        read_baseline_file(padded)
    huge = write(tmp_path / "huge.csv", "task,channel,inquiries\n85.02.00,email," + "9" * 1_000_000 + "\n")
    with pytest.raises(BaselineFileError, match=r"huge.csv row 2: not a table row \(field larger than field limit"):
        read_baseline_file(huge)


def test_a_first_task_with_a_note_saying_ud_is_a_task_not_a_heading_row(tmp_path: Path) -> None:
    sheet = write(tmp_path / "note.csv", "KLE-nr.;Telefon;Bemærkning\n05.13.00;600;ud\n85.02.00;50;\n")
    assert read_baseline_file(sheet).counts == {("05.13.00", "phone", "inbound"): 600,
                                                ("85.02.00", "phone", "inbound"): 50}


def test_a_stale_dimension_and_sheets_that_disagree_lose_nothing(tmp_path: Path) -> None:
    """openpyxl stops at the rows a sheet says it has: a stale <dimension> must not cut the week
    short. Two sheets with different counts are refused, not one of them silently dropped."""
    book = Workbook()
    sheet = book.active
    sheet.append(["KLE-nr.", "Telefon"])
    for index in range(10):
        sheet.append([f"05.{index:02d}.00", 100])
    book.save(tmp_path / "good.xlsx")
    with zipfile.ZipFile(tmp_path / "good.xlsx") as source, zipfile.ZipFile(tmp_path / "stale.xlsx", "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"/>', b'<dimension ref="A1:B5"/>', data)
            target.writestr(item, data)
    assert sum(read_baseline_file(tmp_path / "stale.xlsx").counts.values()) == 1000
    other = book.create_sheet("Jobcenter")
    other.append(["KLE-nr.", "Telefon"])
    other.append(["23.02.00", 570])
    book.save(tmp_path / "two.xlsx")
    with pytest.raises(BaselineFileError, match=r"the sheets 'Sheet' and 'Jobcenter' hold different counts"):
        read_baseline_file(tmp_path / "two.xlsx")


def test_a_totals_row_named_under_opgave_is_skipped(tmp_path: Path) -> None:
    sheet = write(tmp_path / "total.csv", "KLE-nr.;Opgave;Telefon;E-mail\n05.13.00;Pas;4;2\n;I alt;4;2\n")
    assert read_baseline_file(sheet).counts == {("05.13.00", "phone", "inbound"): 4, ("05.13.00", "email", "inbound"): 2}
    long = write(tmp_path / "long.csv", "KLE-nr.;Opgave;Kanal;Antal\n05.13.00;Pas;Telefon;4\n;Total;;4\n")
    assert read_baseline_file(long).counts == {("05.13.00", "phone", "inbound"): 4}


def test_a_task_column_after_the_channels_is_read(tmp_path: Path) -> None:
    wide = write(tmp_path / "last.csv", "Telefon;E-mail;Opgave;KLE-nr.\n4;2;Pas;05.13.00\n")
    assert read_baseline_file(wide).counts == {("05.13.00", "phone", "inbound"): 4, ("05.13.00", "email", "inbound"): 2}


def test_what_is_not_a_regular_file_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "week.csv"
    os.mkfifo(fifo)  # nobody writes: reading it would wait for ever
    with pytest.raises(BaselineFileError, match="week.csv: not a regular file"):
        read_baseline_file(fifo)
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(BaselineFileError, match="zero.csv: not a regular file"):
        read_baseline_file(tmp_path / "zero.csv")


def test_a_workbook_that_would_unpack_to_gigabytes_is_refused_before_unpacking(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 2**20))
    assert bomb.stat().st_size < 2**20
    with pytest.raises(BaselineFileError, match=r"bomb.xlsx: unpacks to 314,572,800 bytes"):
        read_baseline_file(bomb)


def test_a_workbook_with_uncalculated_formulas_or_too_many_sheets_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["KLE-nr.", "Telefon"])
    sheet.append(["05.13.00", "=2+2"])  # openpyxl saves no calculated value, as a script-written sheet has none
    book.save(tmp_path / "formula.xlsx")
    with pytest.raises(BaselineFileError, match=r"row 2, column 2: the formula =2\+2 has no calculated value"):
        read_baseline_file(tmp_path / "formula.xlsx")
    many = Workbook()
    for index in range(60):
        many.create_sheet(f"s{index}")
    many.save(tmp_path / "many.xlsx")
    with pytest.raises(BaselineFileError, match=r"61 sheets; at most 50 are read"):
        read_baseline_file(tmp_path / "many.xlsx")


def test_a_sheet_whose_used_range_reaches_far_past_its_data_is_read_in_little_memory(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["KLE-nr.", "Telefon"])
    sheet.append(["05.13.00", 3])
    sheet.cell(row=150_000, column=200, value="")  # an empty cell far away: the used range is huge
    book.save(tmp_path / "gap.xlsx")
    assert read_baseline_file(tmp_path / "gap.xlsx").counts == {("05.13.00", "phone", "inbound"): 3}


def test_names_and_codes_are_whole_matches() -> None:
    with pytest.raises(ValueError, match="not a KLE topic"):
        Baseline(kind="channel_mix", mix={"05.13.00\n": {"phone": 1}})
    with pytest.raises(ValueError, match="shares are percentages or counts from 0 to 1,000,000"):
        Baseline(kind="channel_mix", mix={"*": {"phone": 1e308, "email": 1e308}})


def test_a_mix_in_the_steering_file_hides_an_import_of_the_same_name(store: EmbeddedStore, steering: Steering,
                                                                    imported: str) -> None:
    changed = steering.model_copy(update={"baselines": {
        "komhen_2025": Baseline(kind="channel_mix", mix={"*": {"phone": 1}})}})
    load_steering_tables(store, changed)
    try:
        rows = store.query(f"SELECT task, channel, inquiries FROM {DB}.baseline_latest WHERE name = 'komhen_2025'").rows
        assert rows == [("*", "phone", 1.0)]
    finally:
        load_steering_tables(store, steering)


def test_a_count_that_left_a_channel_out_compares_like_with_like(store: EmbeddedStore, steering: Steering,
                                                                 tmp_path: Path) -> None:
    """A counting sheet of walk-in and phone only: self-service was not counted, so it has no
    shift and is not priced as if its inquiries had come by the counted channels."""
    sheet = write(tmp_path / "partial.csv", f"KLE-nr.;Personligt fremmøde;Telefon\n{PASSPORT};60;0\n{HOUSING};0;10\n")
    store_baseline(store, "partial", read_baseline_file(sheet), sheet.name, days=7)
    baseline = resolve_baseline(steering, store.query, DB, "partial", *WEEK)
    shift = {(r["task"], r["channel"]): r for r in run_kpi(store.query, DB, "channel_shift", from_day=WEEK[0],
                                                           to_day=WEEK[1], **baseline.arguments()).as_dicts()}
    assert shift[("*", "self_service")]["share"] is None and shift[("*", "self_service")]["shift"] is None
    # now over walk-in and phone of the tasks it counted: 50 walk-in of 90 (parking's 7 calls not), against 60 of 70
    assert close(shift[("*", "walk_in")]["share"], 50 / 90) and close(shift[("*", "walk_in")]["shift"], 50 / 90 - 60 / 70)
    gain = gain_rows(store, steering, "partial")
    # passport now 50 walk-in (compared) + 50 self-service (not): priced 50 at 100 % walk-in, no gain
    assert close(gain[(PASSPORT, "*")]["gain_dkk"], 0) and gain[(PASSPORT, "*")]["uncompared_inquiries"] == 50
    assert gain[("*", "*")]["uncompared_inquiries"] == 50 + 40 + 7

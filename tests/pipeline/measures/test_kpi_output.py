"""How `kanalpuls kpi` shows a KPI's rows (pipeline/measures/kpi_output.py): in order, in words and
units a manager reads, and as CSV/JSON with the view's own columns and values."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest

from pipeline.ground.messages import COLUMNS, KPI_TITLES
from pipeline.measures.kpi_output import as_csv, as_json, cell, number, ordered
from pipeline.measures.kpis import KPIS


def test_totals_come_first_then_the_most_volume_and_time_in_order() -> None:
    columns = ["task", "channel", "inquiries"]
    rows = [("05.13.00", "phone", 10), ("*", "phone", 40), ("85.02.00", "*", 30), ("*", "*", 100),
            ("05.13.00", "*", 60), ("85.02.00", "email", 30), ("05.13.00", "email", 50)]
    assert ordered(columns, rows) == [("*", "*", 100), ("05.13.00", "*", 60), ("*", "phone", 40),
                                      ("85.02.00", "*", 30), ("05.13.00", "email", 50), ("85.02.00", "email", 30),
                                      ("05.13.00", "phone", 10)]
    days = [(date(2026, 11, 24), "pas", 5), ("*", "pas", 9), (date(2026, 11, 23), "pas", 4)]
    assert [r[0] for r in ordered(["day", "queue", "offered"], days)] == ["*", date(2026, 11, 23),
                                                                          date(2026, 11, 24)]


@pytest.mark.parametrize(("column", "value", "da", "en"), [
    ("share", 0.04179, "4,2 %", "4.2 %"),
    ("shift", -0.0123, "-1,2 pp", "-1.2 pp"),
    ("shift", 0.05, "+5,0 pp", "+5.0 pp"),
    ("shift", -0.00001, "-0,0 pp", "-0.0 pp"),
    ("cost_dkk", 799400.4, "799.400 kr.", "DKK 799,400"),
    ("gain_dkk", -3086.5, "-3.086 kr.", "DKK -3,086"),
    ("average_handle_time", 263.4, "4:23", "4:23"),
    ("average_wait_seconds", 59.6, "1:00", "1:00"),
    ("inquiries", 15013, "15.013", "15,013"),
    ("baseline_inquiries", 0.25, "0,25", "0.25"),
    ("channel", "walk_in", "Personligt fremmøde", "Walk-in"),
    ("task", "*", "alle", "all"),
    ("weekday", 7, "søn", "Sun"),
    ("has_baseline_mix", 0, "nej", "no"),
    ("gain_dkk", None, "–", "–"),
    ("share", math.nan, "–", "–"),
    ("rate", math.inf, "–", "–"),
    ("day", date(2026, 11, 23), "2026-11-23", "2026-11-23"),
])
def test_values_read_as_a_report_in_danish_and_english(column: str, value: object, da: str, en: str) -> None:
    assert (cell(column, value, "da"), cell(column, value, "en")) == (da, en)


def test_numbers_take_the_languages_separators() -> None:
    assert number(1234567.891, "da", 2) == "1.234.567,89" and number(1234567.891, "en", 2) == "1,234,567.89"


def test_csv_and_json_keep_the_views_columns_and_raw_values_without_nan() -> None:
    columns = ["task", "channel", "gain_dkk", "share"]
    rows = [("*", "*", -3086.5, math.nan), ("05.13.00", "phone", None, 0.5)]
    # texts quoted (a ';' in a label stays in its cell in Danish Excel), numbers not, nothing for NULL or NaN
    assert as_csv(columns, rows) == '"task","channel","gain_dkk","share"\n"*","*",-3086.5,""\n"05.13.00","phone","",0.5\n'
    assert as_csv(["site"], [("Pas;=cmd|' /C calc'!A0",), ("-2+3",)]).splitlines()[1:] == [
        '"Pas;\'=cmd|\' /C calc\'!A0"', '"\'-2+3"']
    assert json.loads(as_json(columns, rows)) == [
        {"task": "*", "channel": "*", "gain_dkk": -3086.5, "share": None},
        {"task": "05.13.00", "channel": "phone", "gain_dkk": None, "share": 0.5}]


def test_every_kpi_has_a_title_in_the_catalogue() -> None:
    assert list(KPI_TITLES) == list(KPIS)
    assert all(da and en for da, en in KPI_TITLES.values())
    assert all(da and en for da, en in COLUMNS.values())


def test_hours_sort_as_numbers_and_whole_counts_print_as_whole_numbers() -> None:
    columns = ["weekday", "hour", "inquiries", "share"]
    rows = [(1, 10, 4.0, 1.0), (1, 9, 2.0, 0.5), (2, 8, 1.0, 0.25)]
    assert [row[1] for row in ordered(columns, rows)] == [9, 10, 8]
    assert as_csv(columns, rows).splitlines()[1:] == ["1,10,4,1.0", "1,9,2,0.5", "2,8,1,0.25"]


def test_a_value_that_looks_like_markup_is_printed_as_text() -> None:
    """A department or site named '[/x]' (any source may send one) is a value, not a closing tag."""
    import io

    from rich.console import Console

    from pipeline.measures.kpi_output import table

    out = Console(file=io.StringIO(), width=120)
    out.print(table("t", ["department", "inquiries"], [("[/x]", 3), ("[bold]Nord", 2)], "da"))
    assert "[/x]" in out.file.getvalue() and "[bold]Nord" in out.file.getvalue()  # type: ignore[attr-defined]

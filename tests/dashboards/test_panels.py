"""Every ClickHouse panel's SQL, expanded as Grafana and the plugin would send it, run against
embedded chDB holding a simulated fortnight; and the preview drawn from the same SQL.

The store is built as tests/pipeline/measures/test_kpis.py builds it (real connectors, the worker's
insert path), in the database the boards name. One walk-in spike alert is added so the
"open alerts" panel has a row. chDB holds one data directory per process: this module opens
one store, shares it, and closes it at the end.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboards.boards import BOARDS, DATABASE, Board, Panel
from dashboards.macros import TimeRange
from dashboards.preview import render_preview
from dashboards.queries import all_values, board_values, panel_sql
from pipeline.ground.steering import load_steering
from pipeline.measures.targets import record_targets
from pipeline.simulated.municipality import simulate
from pipeline.store.clickhouse import EmbeddedStore, QueryResult, StoreQueryError, init_schema
from tests.pipeline.simulated.simulated_files import simulated_events
from tests.stores import insert_events

REPO = Path(__file__).resolve().parents[2]
START = date(2026, 3, 2)  # Monday; two weeks
LOCAL = ZoneInfo("Europe/Copenhagen")
# "Now" on a Thursday late morning of the second week: counters open, queues have people in them
NOW = datetime(2026, 3, 12, 11, 30, tzinfo=LOCAL)
WEEK = TimeRange(NOW - timedelta(days=7), NOW, interval_seconds=3600)
SQL_PANELS = [(b, p) for b in BOARDS for p in b.panels if not p.is_prometheus]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    out = tmp_path_factory.mktemp("boards") / "simulated"
    simulate(out, days=14, seed=2, start=START)
    opened = EmbeddedStore(tmp_path_factory.mktemp("boards-store") / "chdb", DATABASE)
    try:
        steering = load_steering(REPO / "deploy" / "steering.yaml")
        init_schema(opened, steering)
        insert_events(opened, simulated_events(out))
        record_targets(opened, steering, NOW.date())  # what the worker does every 5 minutes
        fired = f"toDateTime64('{NOW - timedelta(minutes=20):%Y-%m-%d %H:%M:%S}', 3, '{LOCAL.key}')"
        opened.command(
            f"INSERT INTO {DATABASE}.walk_in_alerts (alert_id, status, municipality, site, count, peak_count, "
            "expected, ratio, window_minutes, window_start, window_end, threshold_ratio, min_count, baseline_weeks, "
            f"baseline_weeks_used, fired_at, emitted_at) VALUES ('spike-1', 'firing', '751', 'Rådhuset', 31, 31, "
            f"9.5, 3.26, 15, {fired} - INTERVAL 15 MINUTE, {fired}, 2.0, 10, 4, 1, {fired}, {fired})")
        for status in ("resolved", "firing"):  # a replay catching up: fired and resolved in the same millisecond
            opened.command(
                f"INSERT INTO {DATABASE}.walk_in_alerts (alert_id, status, municipality, site, count, peak_count, "
                "expected, ratio, window_minutes, window_start, window_end, threshold_ratio, min_count, "
                f"baseline_weeks, baseline_weeks_used, fired_at, emitted_at) VALUES ('spike-0', '{status}', '751', "
                f"'Rådhuset', 20, 20, 5.0, 4.0, 15, {fired} - INTERVAL 75 MINUTE, {fired} - INTERVAL 60 "
                f"MINUTE, 2.0, 10, 4, 1, {fired} - INTERVAL 60 MINUTE, {fired} - INTERVAL 60 MINUTE)")
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def everything(store: EmbeddedStore) -> dict[str, list[str]]:
    """Every option of every dimension variable, from the variables' own queries: "All"."""
    values = all_values(store.query)
    assert all(values.values()), values
    return values


def run_panel(query, board: Board, panel: Panel, time_range: TimeRange,
              dimensions: dict[str, list[str]]) -> QueryResult:
    """The check each panel must pass: its expanded SQL runs and returns rows."""
    result = query(panel_sql(panel, time_range, board_values(board, dimensions)))
    assert result.rows, f"{board.title} / {panel.title}: no rows where the data has them"
    return result


@pytest.mark.parametrize(("board", "panel"), SQL_PANELS, ids=[f"{b.uid}:{p.title}" for b, p in SQL_PANELS])
def test_panel_sql_runs_and_returns_rows_with_every_variable_at_all(
        store: EmbeddedStore, everything: dict[str, list[str]], board: Board, panel: Panel) -> None:
    run_panel(store.query, board, panel, WEEK, everything)


def test_panels_run_with_one_value_several_values_and_a_value_holding_a_quote(
        store: EmbeddedStore, everything: dict[str, list[str]]) -> None:
    one = {"municipality": ["751"], "department": ["Borgerservice"], "site": ["Rådhuset"],
           "task": everything["task"][:1], "channel": ["walk_in"]}
    several = {name: options[:2] for name, options in everything.items()}
    quoted = {name: [*options, "O'Brien \\ Co"] for name, options in everything.items()}
    for board, panel in SQL_PANELS:
        for dimensions in (one, several, quoted):
            store.query(panel_sql(panel, WEEK, board_values(board, dimensions)))  # raises if the SQL breaks


def test_variable_options_come_from_the_rollup_and_name_blank_dimensions(everything: dict[str, list[str]]) -> None:
    assert everything["municipality"] == ["751"]
    assert "web" not in everything["channel"] and "walk_in" in everything["channel"]
    assert "(none)" in everything["site"] and "Rådhuset" in everything["site"]


def test_a_panel_with_a_broken_query_or_without_rows_fails_the_check(
        store: EmbeddedStore, everything: dict[str, list[str]]) -> None:
    board, panel = next((b, p) for b, p in SQL_PANELS if p.title == "Tickets issued per site")
    broken = dataclasses.replace(panel, sql=panel.sql.replace("sum(events)", "sum(event_count)"))
    with pytest.raises(StoreQueryError, match="event_count"):
        run_panel(store.query, board, broken, WEEK, everything)
    empty = dataclasses.replace(panel, sql=panel.sql.replace("stage = 'arrived'", "stage = 'no-such-stage'"))
    with pytest.raises(AssertionError, match="no rows"):
        run_panel(store.query, board, empty, WEEK, everything)


def test_now_board_shows_the_moment_at_the_range_end(store: EmbeddedStore, everything: dict[str, list[str]]) -> None:
    now = {p.title: p for p in BOARDS[0].panels}
    alerts = run_panel(store.query, BOARDS[0], now["Open walk-in spike alerts"], WEEK, everything).as_dicts()
    assert [(a["site"], a["peak_count"]) for a in alerts] == [("Rådhuset", 31)]
    waiting = run_panel(store.query, BOARDS[0], now["Calls and tickets waiting now"], WEEK, everything)
    assert sum(r[1] for r in waiting.rows) > 0
    walk_ins = run_panel(store.query, BOARDS[0], now["Walk-ins per site today against the seasonal expectation"],
                         WEEK, everything).as_dicts()
    assert all(r["expected"] > 0 for r in walk_ins) and sum(r["today"] for r in walk_ins) > 0


def test_preview_writes_a_png_per_clickhouse_panel_and_an_index_referencing_them(
        store: EmbeddedStore, tmp_path: Path) -> None:
    rendered = render_preview(store.query, tmp_path, WEEK)
    pngs = [r.png for r in rendered if r.png is not None]
    assert len(pngs) == len(SQL_PANELS)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert set(re.findall(r"<img src='([^']+)'", index)) == {p.relative_to(tmp_path).as_posix() for p in pngs}
    assert all(r.rows > 0 for r in rendered if r.png is not None)
    assert "fra Prometheus, ikke tegnet her" in index and "<h2>Kanalskift</h2>" in index  # Danish first
    render_preview(store.query, tmp_path / "en", WEEK, language="en")
    english = (tmp_path / "en" / "index.html").read_text(encoding="utf-8")
    assert "from Prometheus, not drawn here" in english and "<h2>Channel shift</h2>" in english


def test_without_a_baseline_the_shift_and_gain_panels_say_so_instead_of_drawing_zero(
        store: EmbeddedStore, tmp_path: Path) -> None:
    """The simulated fortnight's first week has no four weeks before it: no rows (not a 0 line
    or a NaN stat), and Grafana shows the panel's words in their place."""
    from dashboards.boards import board_json

    first_week = TimeRange(WEEK.start - timedelta(days=7), WEEK.start, interval_seconds=3600)
    shift_board = next(b for b in BOARDS if b.uid == "kanalpuls-channel-shift")
    everything = board_values(shift_board, all_values(store.query))
    panels = {p.title: p for p in shift_board.panels}
    for title in ("Shift against the previous four weeks per task (share points)",
                  "Cost and realised gain against the previous four weeks (DKK)"):
        assert store.query(panel_sql(panels[title], first_week, everything)).rows == []
        assert run_panel(store.query, shift_board, panels[title], WEEK, everything).rows  # the second week compares
    words = {p["title"]: p["fieldConfig"]["defaults"]["noValue"] for p in board_json(shift_board)["panels"]}
    assert words["Kanalskift mod de fire foregående uger pr. opgave (procentpoint)"].startswith(
        "Ingen sammenligning: de fire uger før perioden har ingen henvendelser. Importér en tælleuge")

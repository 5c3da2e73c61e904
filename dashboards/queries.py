"""Run a board's panels against the store: template variables resolved from their own
queries, macros expanded for a time range. Shared by `kanalpuls dashboards preview` and the
tests, so both run the SQL a live board sends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from dashboards.boards import ALL_DIMS, DATABASE, Board, Panel, board_json, variable_sql
from dashboards.macros import TimeRange, expand
from pipeline.store.clickhouse import QueryResult

Query = Callable[[str], QueryResult]


def all_values(query: Query) -> dict[str, list[str]]:
    """Every option of each dimension variable: what Grafana sends for "All"."""
    return {name: [str(r[0]) for r in query(variable_sql(name)).rows] for name in ALL_DIMS}


def board_values(board: Board, dimensions: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Values for every variable of a board: the given dimensions, the others at their default."""
    values = {name: list(v) for name, v in dimensions.items()}
    for variable in board_json(board)["templating"]["list"]:
        if variable["name"] not in values:
            values[variable["name"]] = [str(variable["current"]["value"])]
    return values


def panel_sql(panel: Panel, time_range: TimeRange, values: Mapping[str, Sequence[str]]) -> str:
    return expand(panel.sql, time_range, values)


def newest_week(query: Query) -> TimeRange:
    """The seven days up to the newest minute in the store (the preview's default range): its
    end is "now" for the panels that show today and the queues at this moment."""
    newest = query(f"SELECT toUnixTimestamp(max(minute)) FROM {DATABASE}.inquiry_minute").scalar()
    end = datetime.fromtimestamp(int(newest or 0), UTC) + timedelta(seconds=59)
    return TimeRange(end - timedelta(days=7), end, interval_seconds=3600)

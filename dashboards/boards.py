"""The five boards as data: each panel's SQL, chart kind and size, turned into Grafana JSON.

Panel SQL reads the rollups (inquiry_minute for today and the last hours, inquiry_hour for
days and weeks) and the KPI views in deploy/clickhouse/, so a panel shows the number an
analyst gets from the same view; only what no rollup carries (source system, the open alerts)
reads a table of its own. "Now" is the end of the board's time range ($__toTime): on a live
board that is now(), and a reviewer can look back at any moment by moving the range.

Titles, descriptions and what a panel says when it has no rows are written here in English
and shown in the language setting (Danish by default) from pipeline/ground/messages.py, the way
gettext does it; column headings and channel names come from the same catalogue as Grafana
display names and value mappings, so the SQL stays the views' own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.ground.messages import CHANNEL_NAMES, COLUMNS, Language, channel_name, column_name, translate

# The uid Grafana's provisioning (deploy/grafana/) gives the ClickHouse data source; every
# panel and variable names it, so the boards work on any Grafana provisioned from this repo.
DATASOURCE_UID = "kanalpuls-clickhouse"
DATASOURCE_TYPE = "grafana-clickhouse-datasource"
PROMETHEUS_UID = "kanalpuls-prometheus"
PROMETHEUS_TYPE = "prometheus"
DATABASE = "kanalpuls"
TZ = "Europe/Copenhagen"
JSON_DIR = Path(__file__).resolve().parent / "json"
GRID_COLUMNS = 24

CLICKHOUSE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
PROMETHEUS = {"type": PROMETHEUS_TYPE, "uid": PROMETHEUS_UID}

# Dimension values '' (no site for a phone call, no department for an unclassified inquiry)
# are shown and chosen as '(none)': Grafana cannot show an empty option.
NONE = "(none)"


def dim(column: str) -> str:
    return f"if({column} = '', '{NONE}', {column})"


def where_dims(*columns: str) -> str:
    """Conditions for the template variables of these dimensions (multi-value and All)."""
    return " AND ".join(f"{dim(c)} IN (${{{c}:singlequote}})" for c in columns)


ALL_DIMS = ("municipality", "department", "site", "task", "channel")
ARRIVED = "stage = 'arrived' AND direction = 'inbound'"
FROM_DAY = f"toDate($__fromTime, '{TZ}')"
TO_DAY = f"toDate($__toTime, '{TZ}')"
PERIOD = f"from_day = {FROM_DAY}, to_day = {TO_DAY}"
# The baseline for channel shift and realised gain: the four weeks before the range (BRIEF:
# "a rolling 4-week window"); named baselines stay with `kanalpuls kpi` and the reports.
BASELINE = f"base_from = {FROM_DAY} - 28, base_to = {FROM_DAY} - 1, baseline_name = ''"
NO_BASELINE = ("No comparison: the four weeks before the range hold no inquiries. Import a counting week (kanalpuls "
               "baseline import) and compare with kanalpuls kpi {kpi} --baseline NAME")


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries | bar | stat | table | heatmap
    sql: str = ""
    width: int = 12
    height: int = 8
    description: str = ""
    promql: str = ""  # a Prometheus panel instead of SQL
    unit: str = ""
    no_value: str = "No inquiries in this range"  # shown instead of an empty chart

    @property
    def is_prometheus(self) -> bool:
        return bool(self.promql)


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    panels: tuple[Panel, ...]
    time_from: str = "now-7d"
    refresh: str = ""
    extra_variables: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _sql(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _hourly_mean(measure: str, stage: str, by: str, where: str, alias: str) -> str:
    """Mean wait or handle time of one stage per `by` and time bucket, from the hour rollup's
    sums and counts (hours without such events left out, not drawn as zero)."""
    return _sql(f"""
SELECT $__timeInterval(hour) AS time, {by},
       sumIf({measure}_seconds_sum, stage = '{stage}') / sumIf({measure}_count, stage = '{stage}') AS {alias}
FROM {DATABASE}.inquiry_hour
WHERE $__timeFilter(hour) AND {where}
GROUP BY time, {by}
HAVING sumIf({measure}_count, stage = '{stage}') > 0
ORDER BY time""")


NOW_BOARD = Board(
    uid="kanalpuls-now", title="Citizen service now", time_from="now-24h", refresh="1m", panels=(
        Panel("Inquiries today per channel", "bar", _sql(f"""
SELECT channel, sum(events) AS inquiries
FROM {DATABASE}.inquiry_minute
WHERE {ARRIVED} AND channel != 'web'
  AND minute >= toDateTime({TO_DAY}, '{TZ}') AND minute <= $__toTime
  AND {where_dims(*ALL_DIMS)}
GROUP BY channel
ORDER BY inquiries DESC"""), width=8, description="Inbound inquiries since local midnight of the range's end."),
        Panel("Calls and tickets waiting now", "bar", _sql(f"""
SELECT concat(channel, ': ', place) AS place, waiting
FROM {DATABASE}.kpi_waiting(at = $__toTime)
WHERE channel IN (${{channel:singlequote}})
ORDER BY channel, place"""), width=8, description="kpi_waiting at the range's end: arrived today, neither answered nor abandoned."),
        Panel("Walk-ins per site today against the seasonal expectation", "bar", _sql(f"""
SELECT site,
       sumIf(events, toDate(hour, '{TZ}') = {TO_DAY}) AS today,
       sumIf(events, toDate(hour, '{TZ}') != {TO_DAY})
         / greatest(1, uniqExactIf(toDate(hour, '{TZ}'), toDate(hour, '{TZ}') != {TO_DAY})) AS expected
FROM {DATABASE}.inquiry_hour
WHERE channel = 'walk_in' AND {ARRIVED}
  AND toDayOfWeek(hour, 0, '{TZ}') = toDayOfWeek($__toTime, 0, '{TZ}')
  AND hour >= toDateTime({TO_DAY} - 28, '{TZ}') AND hour <= $__toTime
  AND toHour(hour, '{TZ}') <= toHour($__toTime, '{TZ}')
  AND toDate(hour, '{TZ}') NOT IN (SELECT day FROM {DATABASE}.closed_days)
  AND {where_dims('municipality', 'site')}
GROUP BY site
ORDER BY site"""), width=8,
              description="Tickets issued today up to this hour, and the mean of the same weekdays of the "
                          "previous four weeks up to the same hour (holidays left out)."),
        Panel("Open walk-in spike alerts", "table", _sql(f"""
SELECT alert_site AS site, alert_peak AS peak_count, alert_expected AS expected, alert_ratio AS ratio,
       first_fired AS fired_at
FROM (
    SELECT alert_id, argMax(status, (emitted_at, status = 'resolved')) AS state, any(site) AS alert_site, max(peak_count) AS alert_peak,
           any(expected) AS alert_expected, max(ratio) AS alert_ratio, min(fired_at) AS first_fired
    FROM {DATABASE}.walk_in_alerts FINAL
    WHERE fired_at <= $__toTime AND {where_dims('municipality', 'site')}
    GROUP BY alert_id
)
WHERE state = 'firing'
ORDER BY fired_at DESC"""), width=12, no_value="No open alerts",
              description="Spikes the worker holds open (walk_in_alerts). A spike resolved in the same "
                          "millisecond it fired (a replay catching up) is resolved."),
        Panel("Inquiries per channel", "timeseries", _sql(f"""
SELECT $__timeInterval(minute) AS time, channel, sum(events) AS inquiries
FROM {DATABASE}.inquiry_minute
WHERE $__timeFilter(minute) AND {ARRIVED} AND channel != 'web'
  AND {where_dims(*ALL_DIMS)}
GROUP BY time, channel
ORDER BY time"""), width=12),
    ))

SHIFT_BOARD = Board(
    uid="kanalpuls-channel-shift", title="Channel shift", time_from="now-30d", panels=(
        Panel("Channel share over time", "timeseries", _sql(f"""
SELECT toStartOfDay(hour, '{TZ}') AS time, channel,
       sum(events) / sum(sum(events)) OVER (PARTITION BY time) AS share
FROM {DATABASE}.inquiry_hour
WHERE $__timeFilter(hour) AND {ARRIVED} AND channel != 'web'
  AND {where_dims(*ALL_DIMS)}
GROUP BY time, channel
ORDER BY time"""), width=24, unit="percentunit", description="Share of inbound inquiries per channel, per local day."),
        Panel("Shift against the previous four weeks per task (share points)", "bar", _sql(f"""
SELECT task, sumIf(shift, channel = 'walk_in') AS walk_in, sumIf(shift, channel = 'phone') AS phone,
       sumIf(shift, channel = 'email') AS email, sumIf(shift, channel = 'self_service') AS self_service
FROM {DATABASE}.kpi_channel_shift({PERIOD}, {BASELINE})
WHERE shift IS NOT NULL AND (task = '*' OR task IN (${{task:singlequote}}))
GROUP BY task
ORDER BY task"""), width=12, unit="percentunit", no_value=NO_BASELINE.format(kpi="channel_shift")),
        Panel("Self-service rate per task", "bar", _sql(f"""
SELECT task, rate
FROM {DATABASE}.kpi_self_service_rate({PERIOD})
WHERE task = '*' OR task IN (${{task:singlequote}})
ORDER BY task"""), width=12, unit="percentunit"),
        Panel("Cost and realised gain against the previous four weeks (DKK)", "stat", _sql(f"""
SELECT cost_dkk, cost_at_baseline_mix_dkk, gain_dkk
FROM {DATABASE}.kpi_realised_gain({PERIOD}, {BASELINE})
WHERE task = '*' AND channel = '*' AND has_baseline_mix = 1"""), width=12, unit="currencyDKK",
              no_value=NO_BASELINE.format(kpi="realised_gain")),
        Panel("Cost per channel (DKK)", "bar", _sql(f"""
SELECT channel, cost_dkk
FROM {DATABASE}.kpi_cost({PERIOD})
WHERE channel != '*' AND channel IN (${{channel:singlequote}})
ORDER BY cost_dkk DESC"""), width=12, unit="currencyDKK"),
        Panel("Targets: on or off track", "table", _sql(f"""
SELECT name, description, value, target, progress, on_track, note, window_from, window_to
FROM {DATABASE}.target_status FINAL
WHERE day = (SELECT max(day) FROM {DATABASE}.target_status WHERE day <= toDate($__toTime, '{TZ}'))
ORDER BY name"""), width=24, height=7, no_value="No targets evaluated yet",
              description="deploy/steering.yaml targets as the worker last evaluated them (every 5 minutes): "
                          "value over the target's window, the trajectory's mean over it, progress, on/off track; "
                          "value empty when the window holds no data; note says why in words."),
    ))

PHONE_WHERE = f"channel = 'phone' AND direction = 'inbound' AND {where_dims('municipality', 'department', 'task')}"
SL_VARIABLE = {
    "name": "sl_seconds", "label": "Service level (s)", "type": "custom", "query": "20,30,60",
    "current": {"text": "20", "value": "20"}, "multi": False, "includeAll": False,
    "options": [{"text": v, "value": v, "selected": v == "20"} for v in ("20", "30", "60")],
}
PHONE_BOARD = Board(
    uid="kanalpuls-phone", title="Phone", extra_variables=(SL_VARIABLE,), panels=(
        Panel("Per queue over the range", "table", _sql(f"""
SELECT queue, offered, answered, abandoned, service_level, abandonment_rate,
       average_speed_of_answer, average_handle_time
FROM {DATABASE}.kpi_phone({PERIOD}, sl_seconds = $sl_seconds)
WHERE day = '*'
ORDER BY queue"""), width=24, height=7, description="kpi_phone; '*' is all queues."),
        Panel("Service level per queue and day", "timeseries", _sql(f"""
SELECT toDateTime(toDate(day), '{TZ}') AS time, queue, service_level
FROM {DATABASE}.kpi_phone({PERIOD}, sl_seconds = $sl_seconds)
WHERE day != '*' AND queue != '*'
ORDER BY time"""), unit="percentunit"),
        Panel("Abandonment rate per queue and day", "timeseries", _sql(f"""
SELECT toDateTime(toDate(day), '{TZ}') AS time, queue, abandonment_rate
FROM {DATABASE}.kpi_phone({PERIOD}, sl_seconds = $sl_seconds)
WHERE day != '*' AND queue != '*'
ORDER BY time"""), unit="percentunit"),
        Panel("Average speed of answer per queue (s)", "timeseries",
              _hourly_mean("wait", "answered", "queue", PHONE_WHERE, "speed_of_answer"), unit="s"),
        Panel("Average handle time per queue (s)", "timeseries",
              _hourly_mean("handle", "closed", "queue", PHONE_WHERE, "handle_time"), unit="s"),
    ))

WALK_WHERE = f"channel = 'walk_in' AND direction = 'inbound' AND {where_dims('municipality', 'department', 'site', 'task')}"
WALK_IN_BOARD = Board(
    uid="kanalpuls-walk-in", title="Walk-in", panels=(
        Panel("Per site over the range", "table", _sql(f"""
SELECT site, tickets, served, transferred, no_shows, average_wait_seconds
FROM {DATABASE}.kpi_walk_in({PERIOD})
WHERE day = '*' AND (site = '*' OR site IN (${{site:singlequote}}))
ORDER BY site"""), width=24, height=7, description="kpi_walk_in; '*' is all sites."),
        Panel("Tickets issued per site", "timeseries", _sql(f"""
SELECT $__timeInterval(minute) AS time, site, sum(events) AS tickets
FROM {DATABASE}.inquiry_minute
WHERE $__timeFilter(minute) AND stage = 'arrived' AND {WALK_WHERE}
GROUP BY time, site
ORDER BY time""")),
        Panel("Average waiting time per site (s)", "timeseries",
              _hourly_mean("wait", "answered", "site", WALK_WHERE, "waiting_time"), unit="s"),
        Panel("No-shows per site and day", "timeseries", _sql(f"""
SELECT toDateTime(toDate(hour, '{TZ}'), '{TZ}') AS time, site, sumIf(events, stage = 'abandoned') AS no_shows
FROM {DATABASE}.inquiry_hour
WHERE $__timeFilter(hour) AND {WALK_WHERE}
GROUP BY time, site
ORDER BY time""")),
        Panel("Walk-in demand by weekday x hour against opening hours", "heatmap", _sql(f"""
SELECT weekday, hour, per_open_day, open_minutes
FROM {DATABASE}.kpi_demand({PERIOD}, channel_name = 'walk_in')
ORDER BY weekday, hour"""), description="Inquiries per open day (colour) and the minutes of each hour the counters "
                                         "are open by their default hours (kpi_demand)."),
    ))

QUALITY_BOARD = Board(
    uid="kanalpuls-data-quality", title="Data quality", panels=(
        Panel("Unclassified share per channel", "timeseries", _sql(f"""
SELECT toStartOfInterval(hour, INTERVAL greatest($__interval_s, 3600) second) AS time, channel,
       sumIf(events, task = 'unclassified') / sum(events) AS unclassified_share
FROM {DATABASE}.inquiry_hour
WHERE $__timeFilter(hour) AND {ARRIVED} AND {where_dims('municipality', 'channel')}
GROUP BY time, channel
ORDER BY time"""), unit="percentunit",
              description="Arrivals no rule in deploy/mapping.yaml classified; a rise means a new queue, "
                          "service, mailbox or page."),
        Panel("Events per source system", "bar", _sql(f"""
SELECT source_system, count() AS events
FROM {DATABASE}.inquiry_events
WHERE $__timeFilter(occurred_at) AND {where_dims('municipality', 'channel')}
GROUP BY source_system
ORDER BY events DESC"""), description="From the raw events: no rollup carries the source system."),
        Panel("Freshness: newest event age per source system", "table", _sql(f"""
SELECT source_system, max(occurred_at) AS newest_event,
       dateDiff('second', max(occurred_at), $__toTime) AS age_seconds
FROM {DATABASE}.inquiry_events
WHERE occurred_at <= $__toTime AND occurred_at >= $__toTime - INTERVAL 30 DAY
  AND {where_dims('municipality')}
GROUP BY source_system
ORDER BY age_seconds DESC"""), description="Age at the range's end of the newest event each source sent "
                                           "(sources silent for 30 days are not listed)."),
        Panel("Dead letters per connector (per minute)", "timeseries",
              promql="sum by (connector) (rate(kanalpuls_dead_letters_total[5m])) * 60",
              description="From Prometheus: records the connectors rejected onto inquiries.dlq."),
        Panel("Worker consumer lag (messages)", "timeseries",
              promql="sum by (partition) (kanalpuls_worker_consumer_lag)",
              description="From Prometheus: messages on the inquiries topic the workers have not read yet."),
    ))

BOARDS: tuple[Board, ...] = (NOW_BOARD, SHIFT_BOARD, PHONE_BOARD, WALK_IN_BOARD, QUALITY_BOARD)


def variable_sql(name: str) -> str:
    """The ClickHouse query that lists a dimension's values (from the hour rollup)."""
    where = " WHERE channel != 'web'" if name == "channel" else ""
    return f"SELECT DISTINCT {dim(name)} AS value FROM {DATABASE}.inquiry_hour{where} ORDER BY value"


def _query_variable(name: str, language: Language) -> dict[str, Any]:
    return {
        "name": name, "label": column_name(name, language).capitalize(), "type": "query", "datasource": CLICKHOUSE,
        "query": variable_sql(name), "definition": variable_sql(name), "refresh": 1,
        "multi": True, "includeAll": True, "current": {"text": ["All"], "value": ["$__all"]},
        "options": [], "sort": 1,
    }


def _layout(panels: tuple[Panel, ...]) -> list[dict[str, int]]:
    """Left to right, wrapping at 24 columns; a row is as tall as its tallest panel."""
    positions, x, y, row_height = [], 0, 0, 0
    for panel in panels:
        if x + panel.width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        positions.append({"x": x, "y": y, "w": panel.width, "h": panel.height})
        x += panel.width
        row_height = max(row_height, panel.height)
    return positions


GRAFANA_TYPE = {"timeseries": "timeseries", "bar": "barchart", "stat": "stat", "table": "table",
                "heatmap": "table"}  # the weekday x hour grid is a coloured table in Grafana


def _display_names(panel: Panel, language: Language) -> list[dict[str, Any]]:
    """Grafana overrides showing each column the panel's SQL names under its heading in the catalogue."""
    names = sorted({column for column in COLUMNS if re.search(rf"\b{column}\b", panel.sql)})
    return [{"matcher": {"id": "byName", "options": column},
             "properties": [{"id": "displayName", "value": column_name(column, language)}]} for column in names]


def _channel_mapping(language: Language) -> dict[str, Any]:
    """Channel codes in cells and bar categories shown by their names."""
    return {"type": "value", "options": {code: {"text": channel_name(code, language)}
                                         for code in CHANNEL_NAMES if code != "*"}}


def _panel_json(panel_id: int, panel: Panel, grid: dict[str, int], language: Language) -> dict[str, Any]:
    if panel.is_prometheus:
        datasource, target = PROMETHEUS, {"refId": "A", "datasource": PROMETHEUS, "expr": panel.promql,
                                          "legendFormat": "__auto"}
    else:
        timeseries = panel.kind == "timeseries"
        datasource = CLICKHOUSE
        target = {"refId": "A", "datasource": CLICKHOUSE, "editorType": "sql", "rawSql": panel.sql,
                  "queryType": "timeseries" if timeseries else "table", "format": 0 if timeseries else 1}
    defaults: dict[str, Any] = {"unit": panel.unit} if panel.unit else {}
    if panel.kind == "heatmap":
        defaults["custom"] = {"cellOptions": {"type": "color-background"}}
    defaults["noValue"] = translate(panel.no_value, language)
    defaults["mappings"] = [_channel_mapping(language)]
    return {
        "id": panel_id, "type": GRAFANA_TYPE[panel.kind], "title": translate(panel.title, language),
        "description": translate(panel.description, language),
        "datasource": datasource, "gridPos": grid, "targets": [target],
        "fieldConfig": {"defaults": defaults, "overrides": _display_names(panel, language)}, "options": {},
    }


def _variable(variable: dict[str, Any], language: Language) -> dict[str, Any]:
    return {**variable, "label": translate(variable["label"], language)} if "label" in variable else variable


def board_json(board: Board, language: Language = "da") -> dict[str, Any]:
    return {
        "uid": board.uid, "title": translate(board.title, language), "tags": ["kanalpuls"], "timezone": TZ,
        "editable": True, "schemaVersion": 39, "version": 1, "refresh": board.refresh,
        "time": {"from": board.time_from, "to": "now"},
        "templating": {"list": [_query_variable(name, language) for name in ALL_DIMS]
                       + [_variable(v, language) for v in board.extra_variables]},
        "panels": [_panel_json(i, p, g, language)
                   for i, (p, g) in enumerate(zip(board.panels, _layout(board.panels)), 1)],
    }


def board_file(board: Board) -> str:
    return f"{board.uid}.json"


def render(board: Board, language: Language = "da") -> str:
    return json.dumps(board_json(board, language), indent=2, ensure_ascii=False) + "\n"


def write_json(directory: Path = JSON_DIR, language: Language = "da") -> list[Path]:
    """The boards as Grafana JSON; the repository's dashboards/json/ holds the Danish ones."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for board in BOARDS:
        path = directory / board_file(board)
        path.write_text(render(board, language), encoding="utf-8")
        written.append(path)
    return written

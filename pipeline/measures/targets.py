"""Channel-strategy targets (deploy/steering.yaml `targets`) evaluated for any date: the
measured value over a trailing window, the target value the trajectory asks for on that
date, the progress made from the start, and on or off track.

The trajectory is what municipalities write in their strategies: a start value, a goal by
a date (linear in between), then a yearly change compounded ("-15 % by 31 December 2011,
then -10 % a year"). The measures read the hourly rollup with the same definitions as the
KPI views: inquiries are inbound arrivals unless a target names other directions, web page
views are never inquiries, and first-contact resolution counts what is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from pipeline.ground.messages import Language, translate
from pipeline.ground.steering import Steering, Target, TargetScope
from pipeline.measures.baselines import ResolvedBaseline, resolve_baseline
from pipeline.store.clickhouse import EmbeddedStore, QueryResult, ServerStore, sql_string

Query = Callable[[str], QueryResult]
UNITS = {"volume_index": "index", "channel_share": "share", "first_contact_resolution": "rate"}


@dataclass(frozen=True)
class TargetStatus:
    name: str
    description: str
    measure: str
    unit: str
    on: date
    window: tuple[date, date]
    value: float | None  # None: no data in the window (or in the baseline it is relative to); `note` says which
    target: float | None  # None: no start value to draw the trajectory from; `note` says why
    start_value: float | None
    progress: float | None  # share of the change asked for by this date that was achieved; >= 1 on track
    on_track: bool | None
    higher_is_better: bool
    note: str = ""  # in words, why a value, start or verdict is missing, and what to do


def _in(column: str, values: list[str]) -> str:
    if not values:
        return "1"
    quoted = ", ".join(sql_string(v) for v in values)
    return f"{column} IN ({quoted})"


def _scope_filter(scope: TargetScope) -> str:
    return " AND ".join((_in("direction", list(scope.directions)), _in("task", scope.tasks),
                         _in("department", scope.departments), _in("inquiry_kind", scope.inquiry_kinds)))


def measure_sql(database: str, timezone: str, target: Target, first: date, last: date, within_days: int = 7) -> str:
    """The SQL computing the target's measure over [first, last] (local days)."""
    scope = target.scope
    where = (f"{_scope_filter(scope)} AND hour >= toDateTime('{first.isoformat()}', '{timezone}') "
             f"AND hour < toDateTime('{(last + timedelta(days=1)).isoformat()}', '{timezone}')")
    table = f"{database}.inquiry_hour"
    channels = _in("channel", list(scope.channels))
    if target.measure == "first_contact_resolution":
        # the KPI view's definition (registered, else inferred from repeat contacts), over its rows
        # for the scope's channels x departments ('*' for all)
        return (f"SELECT sum(resolved) / nullIf(sum(known), 0) FROM {database}.kpi_first_contact_resolution("
                f"from_day = '{first.isoformat()}', to_day = '{last.isoformat()}', within_days = {within_days}) "
                f"WHERE {_in('channel', list(scope.channels) or ['*'])} "
                f"AND {_in('department', list(scope.departments) or ['*'])}")
    arrivals = f"stage = 'arrived' AND channel != 'web' AND {where}"
    if target.measure == "volume_index":
        return f"SELECT sumIf(events, {channels}) FROM {table} WHERE {arrivals}"
    of_channels = _in("channel", list(scope.of_channels))
    return f"SELECT sumIf(events, {channels}) / nullIf(sumIf(events, {of_channels}), 0) FROM {table} WHERE {arrivals}"


def _years(since: date, until: date) -> float:
    return (until - since).days / 365.25


def days_with_data_sql(database: str, timezone: str, first: date, last: date) -> str:
    """Local days in [first, last] on which the store holds any event: a volume per day is
    taken over these, so a store that began mid-window is not read as a drop in volume."""
    return (f"SELECT uniqExact(toDate(hour, '{timezone}')) FROM {database}.inquiry_hour "
            f"WHERE hour >= toDateTime('{first.isoformat()}', '{timezone}') "
            f"AND hour < toDateTime('{(last + timedelta(days=1)).isoformat()}', '{timezone}')")


def target_value(target: Target, start_value: float, on: date) -> float:
    """What the trajectory asks for on `on`. A share or a rate never above 1."""
    value = _trajectory(target, start_value, on)
    return min(value, 1.0) if target.measure != "volume_index" else value


def target_over(target: Target, start_value: float, first: date, last: date) -> float:
    """The trajectory's mean over [first, last]: what a measure taken over that window is held to
    (a year's mean against the year's last day would call a municipality exactly on its path
    off track)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return sum(target_value(target, start_value, day) for day in days) / len(days)


def _trajectory(target: Target, start_value: float, on: date) -> float:
    start = target.start
    if on <= start.day:
        return start_value
    goal = target.goal
    if goal is not None and on <= goal.day:
        return start_value + (goal.value - start_value) * (on - start.day).days / (goal.day - start.day).days  # type: ignore[operator]
    reached, since = (goal.value, goal.day) if goal is not None else (start_value, start.day)
    if target.then_per_year is None:
        return reached  # type: ignore[return-value]
    return reached * (1 + target.then_per_year) ** _years(since, on)  # type: ignore[operator]


def baseline_measure_sql(database: str, target: Target, baseline: ResolvedBaseline) -> str | None:
    """The target's measure over a count baseline (imported counting week or typed mix), or
    None when the baseline cannot carry it: counts have no department, inquiry kind or
    resolution, and a mix has no volume."""
    scope = target.scope
    if scope.departments or scope.inquiry_kinds or target.measure == "first_contact_resolution":
        return None
    if baseline.kind == "mix" and (target.measure == "volume_index" or scope.tasks):
        return None
    tasks = _in("task", scope.tasks) if baseline.kind == "counts" else "task = '*'"
    where = (f"name = {sql_string(baseline.name)} AND {_in('direction', list(scope.directions))} AND {tasks} "
             f"AND channel != 'web'")
    table = f"{database}.baseline_latest"
    channels = _in("channel", list(scope.channels))
    if target.measure == "volume_index":
        return f"SELECT sumIf(inquiries, {channels}) / {baseline.days} FROM {table} WHERE {where}"
    of_channels = _in("channel", list(scope.of_channels))
    return (f"SELECT sumIf(inquiries, {channels}) / nullIf(sumIf(inquiries, {of_channels}), 0) "
            f"FROM {table} WHERE {where}")


def _target_baseline(target: Target, steering: Steering, query: Query, database: str,
                     window: tuple[date, date]) -> ResolvedBaseline | None:
    if target.baseline is None:
        return None
    if isinstance(target.baseline, str):
        return resolve_baseline(steering, query, database, target.baseline, *window)
    first, last = target.baseline.period(*window)
    return ResolvedBaseline("", "period", first, last, (last - first).days + 1, target.baseline.description)


# A target's notes say why a value, start or verdict is missing (English msgids; Danish in
# pipeline/ground/messages.py).
NO_BASELINE_DATA = ("no data in the baseline {baseline}: import that count with `kanalpuls baseline import FILE "
                    "--name NAME` and name it as the target's baseline")
BASELINE_CANNOT = ("the baseline {baseline} cannot give this measure (a count has no departments, inquiry kinds or "
                   "resolution; a mix has no volume): give start.value")
BASELINE_OUT_OF_SCOPE = "the baseline {baseline} has no inquiries in this target's scope"
NO_DATA_IN_WINDOW = "no inquiries in its scope in the window {first} – {last}"


def _baseline_words(baseline: ResolvedBaseline) -> str:
    if baseline.kind == "period":
        return f"{baseline.name + ' ' if baseline.name else ''}{baseline.base_from} – {baseline.base_to}"
    return f"{baseline.name} ({baseline.source})"


def evaluate_target(name: str, target: Target, steering: Steering, query: Query, database: str,
                    on: date, language: Language = "da") -> TargetStatus:
    def measured(first: date, last: date) -> float | None:
        value = query(measure_sql(database, steering.timezone, target, first, last,
                                  steering.resolution_within_days)).scalar()
        return None if value is None or value != value else float(value)  # NULL or NaN: no data

    def per_day(first: date, last: date) -> float | None:
        volume = measured(first, last)
        days = query(days_with_data_sql(database, steering.timezone, first, last)).scalar()
        return None if volume is None or not days else volume / days

    def over_baseline() -> float | None:
        """The measure in the baseline (per day for a volume index); None with notes[] saying why."""
        assert baseline is not None
        if baseline.kind == "period":
            value = per_day(baseline.base_from, baseline.base_to) if target.measure == "volume_index" else \
                measured(baseline.base_from, baseline.base_to)  # type: ignore[arg-type]
            if value is None:
                notes.append(translate(NO_BASELINE_DATA, language).format(baseline=_baseline_words(baseline)))
            return value
        sql = baseline_measure_sql(database, target, baseline)
        if sql is None:
            notes.append(translate(BASELINE_CANNOT, language).format(baseline=_baseline_words(baseline)))
            return None
        value = query(sql).scalar()
        if value is None or value != value:
            notes.append(translate(BASELINE_OUT_OF_SCOPE, language).format(baseline=_baseline_words(baseline)))
            return None
        return float(value)

    notes: list[str] = []
    window = (on - timedelta(days=target.window_days - 1), on)
    baseline = _target_baseline(target, steering, query, database, window)
    value: float | None
    now = per_day(*window) if target.measure == "volume_index" else measured(*window)
    if now is None:
        notes.append(translate(NO_DATA_IN_WINDOW, language).format(first=window[0], last=window[1]))
    if target.measure == "volume_index":
        then = over_baseline()
        value = None if now is None or not then else now / then
    else:
        value = now
    start_value = target.start.value
    if start_value is None:
        start_value = 1.0 if target.measure == "volume_index" else over_baseline()
    if start_value is None:
        goal = target.goal.value if target.goal else None
        return TargetStatus(name, target.description, target.measure, UNITS[target.measure], on, window, value,
                            goal, None, None, None, True, "; ".join(notes))
    wanted = target_over(target, start_value, *window)
    final = target.goal.value if target.goal is not None else wanted
    higher_is_better = (final > start_value) if final != start_value else (target.then_per_year or 0) >= 0  # type: ignore[operator]
    progress = on_track = None
    if value is not None:
        on_track = value >= wanted if higher_is_better else value <= wanted
        progress = None if wanted == start_value else (value - start_value) / (wanted - start_value)
    return TargetStatus(name, target.description, target.measure, UNITS[target.measure], on, window, value,
                        wanted, start_value, progress, on_track, higher_is_better, "; ".join(notes))


def evaluate_targets(steering: Steering, query: Query, database: str, on: date,
                     language: Language = "da") -> list[TargetStatus]:
    """Every target of the steering file, evaluated on `on`; notes in `language`."""
    return [evaluate_target(name, target, steering, query, database, on, language)
            for name, target in steering.targets.items()]


def record_targets(store: EmbeddedStore | ServerStore, steering: Steering, on: date,
                   evaluated_at: datetime | None = None, language: Language = "da") -> list[TargetStatus]:
    """Evaluate every target on `on` and store the result in target_status, where dashboards
    read it (Grafana cannot run the Python that resolves baselines and trajectories)."""
    statuses = evaluate_targets(steering, store.query, store.database, on, language)
    if statuses:
        at = evaluated_at or datetime.now(timezone.utc)
        columns = {
            "day": pa.array([s.on for s in statuses], pa.date32()),
            "name": [s.name for s in statuses],
            "description": [s.description for s in statuses],
            "measure": [s.measure for s in statuses],
            "unit": [s.unit for s in statuses],
            "window_from": pa.array([s.window[0] for s in statuses], pa.date32()),
            "window_to": pa.array([s.window[1] for s in statuses], pa.date32()),
            "value": pa.array([s.value for s in statuses], pa.float64()),
            "target": pa.array([s.target for s in statuses], pa.float64()),
            "start_value": pa.array([s.start_value for s in statuses], pa.float64()),
            "progress": pa.array([s.progress for s in statuses], pa.float64()),
            "note": [s.note for s in statuses],
            "on_track": pa.array([s.on_track for s in statuses], pa.bool_()),
            "evaluated_at": pa.array([at] * len(statuses), pa.timestamp("ms", tz="UTC")),
        }
        store.insert_arrow("target_status", pa.table(columns))
    return statuses

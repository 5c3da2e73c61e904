"""Named baselines: what channel shift, realised gain and targets compare with.

A name is looked up in the steering file first (a stored period: a counting week's dates, the
same period last year, the last N weeks; or a channel mix typed in), then among the counting
weeks imported into the store with `kanalpuls baseline import`. Resolving says where the
numbers come from, so a report can say it, and `require_data` turns "the baseline holds
nothing" into an error naming what is missing instead of a NaN: a municipality in its first
year has no last year and no last four weeks, and must be told to import a counting week.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from pipeline.ground.errors import TerminalError
from pipeline.ground.steering import BASELINE_NAME, Steering
from pipeline.measures.baseline_files import BaselineCounts
from pipeline.store.clickhouse import EmbeddedStore, QueryResult, ServerStore, sql_string

Query = Callable[[str], QueryResult]
IMPORT_HINT = ("import a counting week with `kanalpuls baseline import FILE --name NAME` (a KOMHEN CSV/XLSX or a "
               "task x channel x direction table), or type a channel_mix into the steering file's baselines")


class BaselineError(TerminalError):
    """A baseline cannot be used as asked; the message says which and what to do."""


class BaselineMissing(BaselineError):
    """The baseline exists but holds no data for what is asked."""


@dataclass(frozen=True)
class ResolvedBaseline:
    name: str
    kind: str  # "period": stored days; "counts": an imported count; "mix": shares without volume
    base_from: date | None
    base_to: date | None
    days: int  # days of volume the baseline covers (0 for a mix)
    source: str  # where it comes from, for reports

    def arguments(self) -> dict[str, object]:
        """base_from, base_to and baseline_name as the KPI views take them."""
        if self.kind == "period":
            return {"base_from": self.base_from, "base_to": self.base_to, "baseline_name": ""}
        unused = date(1970, 1, 1)  # read only for a period baseline
        return {"base_from": unused, "base_to": unused, "baseline_name": self.name}

    @property
    def label(self) -> str:
        if self.kind == "period":
            return f"{self.name} ({self.base_from} – {self.base_to})"
        return f"{self.name} ({self.source})"


def imported_baselines(query: Query, database: str) -> dict[str, dict[str, object]]:
    """Every count baseline in the store (imports and the steering file's mixes), newest import each."""
    rows = query(f"SELECT name, any(source) AS source, any(days) AS days, any(period_from) AS period_from, "
                 f"any(period_to) AS period_to, any(imported_at) AS imported_at, sum(inquiries) AS inquiries, "
                 f"uniqExact(task) AS tasks FROM {database}.baseline_latest GROUP BY name ORDER BY name").as_dicts()
    return {str(r["name"]): r for r in rows}


def resolve_baseline(steering: Steering, query: Query, database: str, name: str, from_day: date,
                     to_day: date) -> ResolvedBaseline:
    """The named baseline when looking at [from_day, to_day]."""
    if name in steering.baselines and steering.baselines[name].is_period:
        first, last = steering.baselines[name].period(from_day, to_day)
        return ResolvedBaseline(name, "period", first, last, (last - first).days + 1,
                                steering.baselines[name].description or steering.baselines[name].kind)
    if not BASELINE_NAME.fullmatch(name):
        raise BaselineError(f"'{name[:60]}' is not a baseline name: " + _known(steering, query, database))
    found = imported_baselines(query, database).get(name)
    if found is None:
        if name in steering.baselines:  # a mix the store has not loaded yet
            raise BaselineError(f"baseline '{name}' is a channel mix the store has not loaded: run `kanalpuls store "
                                "init` (or restart the worker) after editing the steering file")
        raise BaselineError(f"no baseline named '{name}': " + _known(steering, query, database))
    days = int(found["days"])  # type: ignore[call-overload]
    kind = "counts" if days else "mix"
    period = (found["period_from"], found["period_to"])
    source = str(found["source"])
    if kind == "counts":
        weeks = f"{period[0]} – {period[1]}, " if period[0] else ""
        source = f"imported {weeks}{days} days, from {source}"
    else:
        source = "channel mix in the steering file"
    return ResolvedBaseline(name, kind, period[0], period[1], days, source)  # type: ignore[arg-type]


def _known(steering: Steering, query: Query, database: str) -> str:
    names = sorted(set(steering.baselines) | set(imported_baselines(query, database)))
    return (f"choose one of {', '.join(names)}" if names else "there are none") + f"; or {IMPORT_HINT}"


def baseline_volume(query: Query, database: str, timezone_name: str, baseline: ResolvedBaseline) -> float:
    """Inbound inquiries the baseline holds (a mix: the sum of its shares)."""
    if baseline.kind == "period":
        return float(query(
            f"SELECT sum(events) FROM {database}.inquiry_hour WHERE stage = 'arrived' AND direction = 'inbound' "
            f"AND channel != 'web' AND hour >= toDateTime({sql_string(baseline.base_from.isoformat())}, "  # type: ignore[union-attr]
            f"{sql_string(timezone_name)}) AND hour < toDateTime("
            f"{sql_string((baseline.base_to + timedelta(days=1)).isoformat())}, {sql_string(timezone_name)})"  # type: ignore[operator]
        ).scalar() or 0)
    return float(query(f"SELECT sum(inquiries) FROM {database}.baseline_latest WHERE name = "
                       f"{sql_string(baseline.name)} AND direction = 'inbound' AND channel != 'web'").scalar() or 0)


def require_data(query: Query, database: str, timezone_name: str, baseline: ResolvedBaseline) -> None:
    """BaselineMissing, naming the period and what to do, when the baseline holds no inquiry."""
    if baseline_volume(query, database, timezone_name, baseline) > 0:
        return
    if baseline.kind == "period":
        first = query(f"SELECT if(count() = 0, '', toString(toDate(min(hour), {sql_string(timezone_name)}))) "
                      f"FROM {database}.inquiry_hour WHERE stage = 'arrived'").scalar()
        since = f"the store's inquiries begin {first}" if first else "the store holds no inquiries yet"
        raise BaselineMissing(f"baseline {baseline.label} holds no inbound inquiries ({since}): choose a period "
                              f"with data, or {IMPORT_HINT}")
    raise BaselineMissing(f"baseline {baseline.label} holds no inbound inquiries: {IMPORT_HINT}")


def store_baseline(store: EmbeddedStore | ServerStore, name: str, counts: BaselineCounts, source: str,
                   days: int) -> str:
    """Insert an import of `name`; the newest import of a name is the one compared with. Returns its id."""
    import_id = uuid.uuid4().hex
    keys = sorted(counts.counts)
    now = datetime.now(timezone.utc)
    period = counts.period or (None, None)
    table = pa.table({
        "name": [name] * len(keys),
        "import_id": [import_id] * len(keys),
        "imported_at": pa.array([now] * len(keys), pa.timestamp("ms", tz="UTC")),
        "source": [source] * len(keys),
        "period_from": pa.array([period[0]] * len(keys), pa.date32()),
        "period_to": pa.array([period[1]] * len(keys), pa.date32()),
        "days": pa.array([days] * len(keys), pa.uint16()),
        "task": [k[0] for k in keys],
        "channel": [k[1] for k in keys],
        "direction": [k[2] for k in keys],
        "inquiries": pa.array([counts.counts[k] for k in keys], pa.float64()),
    })
    store.insert_arrow("baseline_counts", table)
    return import_id

"""The spike detector's edges: its ClickHouse reads and writes, the alerts it publishes, its gauges.

pipeline/app.py calls `prepare` (load what the baseline and new sites need from ClickHouse,
before the batch's own insert), `observe` (pure, pipeline/spike.py) and `publish` (store the
alerts in walk_in_alerts, then produce them to the alerts topic) for each batch, and `tick`
from a timer. Only the agent loads from the store: a load running beside an insert could
miss that insert's arrivals, or count them twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import date

import pyarrow as pa

from pipeline import metrics
from pipeline.sink import ClickHouseSink
from pipeline.spike import Arrival, SpikeAlert, SpikeDetector
from pipeline.steering import Steering

logger = logging.getLogger(__name__)

ALERTS_TABLE = "walk_in_alerts"
_ARRIVALS = "channel = 'walk_in' AND stage = 'arrived' AND direction = 'inbound'"
_TS = pa.timestamp("ms", tz="UTC")
ALERT_COLUMNS = pa.schema([
    ("alert_id", pa.string()), ("status", pa.string()), ("municipality", pa.string()), ("site", pa.string()),
    ("count", pa.uint32()), ("peak_count", pa.uint32()), ("expected", pa.float64()), ("ratio", pa.float64()),
    ("window_minutes", pa.uint16()), ("window_start", _TS), ("window_end", _TS), ("threshold_ratio", pa.float64()),
    ("min_count", pa.uint32()), ("baseline_weeks", pa.uint8()), ("baseline_weeks_used", pa.uint8()),
    ("fired_at", _TS), ("resolved_at", _TS), ("emitted_at", _TS),
])


class SpikeSink(ClickHouseSink):
    """The worker's sink, plus the spike detector's reads and the alert table."""

    def walk_in_minutes(self, spans: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
        """(site, minute epoch seconds, arrivals) from the inquiry_minute rollup in [start, end) spans."""
        if not spans:
            return []
        table = self.store.query_arrow(
            f"SELECT site, toUInt32(toUnixTimestamp(minute)) AS m, toUInt64(sum(events)) AS n "
            f"FROM {self.store.database}.inquiry_minute WHERE {_ARRIVALS} AND site != '' "
            f"AND arrayExists((a, b) -> minute >= toDateTime(a, 'UTC') AND minute < toDateTime(b, 'UTC'), "
            f"{{starts:Array(UInt32)}}, {{ends:Array(UInt32)}}) GROUP BY site, m",
            parameters={"starts": [a for a, _ in spans], "ends": [b for _, b in spans]},
        )
        return list(zip(*(table.column(c).to_pylist() for c in ("site", "m", "n"))))

    def window_arrivals(self, site: str, after: float, until: float) -> list[tuple[float, str]]:
        """(occurred_at epoch seconds, event id) of a site's stored arrivals in (after, until]."""
        table = self.store.query_arrow(
            f"SELECT toUnixTimestamp64Milli(occurred_at) AS ms, toString(event_id) AS id "
            f"FROM {self.store.database}.inquiry_events WHERE {_ARRIVALS} AND site = {{site:String}} "
            f"AND occurred_at > fromUnixTimestamp64Milli({{after:Int64}}, 'UTC') "
            f"AND occurred_at <= fromUnixTimestamp64Milli({{until:Int64}}, 'UTC')",
            parameters={"site": site, "after": round(after * 1000), "until": round(until * 1000)},
        )
        return [(ms / 1000, event_id) for ms, event_id in zip(table.column("ms").to_pylist(), table.column("id").to_pylist())]

    def last_alert(self, site: str) -> SpikeAlert | None:
        """The site's latest alert: if it is a firing one, a worker before us left the spike open."""
        table = self.store.query_arrow(
            f"SELECT * FROM {self.store.database}.{ALERTS_TABLE} FINAL WHERE site = {{site:String}} "
            f"ORDER BY fired_at DESC, status = 'resolved' DESC LIMIT 1",
            parameters={"site": site},
        )
        rows = table.to_pylist()
        return SpikeAlert.model_validate(rows[0]) if rows else None

    async def load_days(self, spans: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
        return await self._retrying(self.walk_in_minutes, spans)

    async def load_site(self, site: str, after: float, until: float) -> tuple[list[tuple[float, str]], SpikeAlert | None]:
        recent = await self._retrying(self.window_arrivals, site, after, until)
        return recent, await self._retrying(self.last_alert, site)

    async def write_alerts(self, alerts: list[SpikeAlert]) -> None:
        if not alerts:
            return
        rows = [a.model_dump(exclude={"schema_version", "kind"}) for a in alerts]
        token = "alerts:" + ",".join(f"{a.alert_id}/{a.status}/{a.emitted_at.timestamp()}" for a in alerts)
        await self._retrying(self.store.insert_arrow, ALERTS_TABLE, pa.Table.from_pylist(rows, ALERT_COLUMNS), token)


class SpikeMonitor:
    """Runs the detector inside the worker: loads, observes, publishes, shows."""

    def __init__(self, steering: Steering, sink: SpikeSink, send: Callable[[SpikeAlert], Awaitable[None]],
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.detector = SpikeDetector(steering)
        self.baseline = self.detector.baseline
        self.sink = sink
        self.send = send
        self.wall_clock = wall_clock
        self.window_seconds = steering.spike.window_minutes * 60
        self._partitions: set[int] | None = None  # inquiries partitions assigned; None before the first

    def _spans(self, days: list[date]) -> list[tuple[int, int]]:
        """Contiguous runs of local days as UTC [start, end) epoch spans: one OR clause each."""
        spans: list[tuple[int, int]] = []
        for day in sorted(days):
            start, end = self.baseline.day_bounds(day)
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def preload_now(self) -> None:
        """At worker start: the baseline days live traffic needs today, read synchronously
        before any batch or timer runs (so no insert can interleave)."""
        days = self.baseline.missing(self.baseline.days_needed([self.wall_clock()]))
        rows = self.sink.walk_in_minutes(self._spans(days))
        self._install(days, rows)

    def _install(self, days: list[date], rows: list[tuple[str, int, int]]) -> None:
        by_day: dict[date, list[tuple[str, int, int]]] = {day: [] for day in days}
        for site, minute, count in rows:
            day = self.baseline.local_day(minute)
            if day in by_day:
                by_day[day].append((site, minute, count))
        for day, day_rows in by_day.items():
            self.baseline.install(day, day_rows)

    async def prepare(self, arrivals: list[Arrival]) -> None:
        """Before the batch is inserted: load the baseline days its arrivals need and start the
        sites seen for the first time from the store (their window, an open spike)."""
        if not arrivals:
            return
        days = self.baseline.missing(self.baseline.days_needed({a.at for a in arrivals}))
        if days:
            self._install(days, await self.sink.load_days(self._spans(days)))
        for site, first in {a.site: a for a in reversed(arrivals)}.items():
            if not self.detector.knows(site):
                recent, last = await self.sink.load_site(site, first.at - self.window_seconds, first.at)
                self.detector.seed(site, first.municipality, first.partition, recent, last)

    def observe(self, arrivals: list[Arrival]) -> list[SpikeAlert]:
        now = self.wall_clock()
        alerts = [alert for arrival in arrivals for alert in self.detector.observe(arrival, now)]
        self.baseline.trim()
        return alerts

    async def tick(self) -> list[SpikeAlert]:
        """Timer: move the clocks on by wall time (module doc of pipeline/spike.py) and publish."""
        alerts = self.detector.tick(self.wall_clock())
        await self.publish(alerts)
        return alerts

    async def publish(self, alerts: list[SpikeAlert]) -> None:
        """Store, then produce: a worker that dies between the two re-decides the same alert
        (same alert_id) from the redelivered batch, or finds it open in the store."""
        await self.sink.write_alerts(alerts)
        for alert in alerts:
            logger.warning("walk-in spike %s at %s: %d arrivals in %d min, expected %s",
                           alert.status, alert.site, alert.count, alert.window_minutes, alert.expected)
            await self.send(alert)
        self.show()

    def show(self) -> None:
        for reading in self.detector.readings():
            metrics.WALK_IN_ARRIVALS.labels(reading.site).set(reading.count)
            metrics.WALK_IN_EXPECTED.labels(reading.site).set(math.nan if reading.expected is None else reading.expected)
            metrics.WALK_IN_SPIKE.labels(reading.site).set(1 if reading.spiking else 0)

    def forget(self, partitions: set[int]) -> None:
        """After a rebalance: drop the sites now read elsewhere; and if partitions came from
        another worker, the baseline too (that worker stored arrivals we never added); both
        are loaded again when needed. The first assignment keeps what start-up loaded."""
        gained = partitions - self._partitions if self._partitions is not None else set()
        self._partitions = set(partitions)
        for site in self.detector.drop_sites_outside(partitions):
            for gauge in (metrics.WALK_IN_ARRIVALS, metrics.WALK_IN_EXPECTED, metrics.WALK_IN_SPIKE):
                try:
                    gauge.remove(site)
                except KeyError:
                    pass
        if gained:
            self.baseline.forget()

"""The spike detector's edges: its ClickHouse reads and writes, the alerts it publishes, its gauges.

pipeline/worker/app.py calls `prepare` (load what the baseline and new sites need from ClickHouse,
before the batch's own insert), `observe` (pure, pipeline/worker/spike.py) and `publish` (store the
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

from pipeline.ground import metrics
from pipeline.ground.steering import Steering
from pipeline.sinks.alerts import AlertWriter
from pipeline.store.clickhouse import EmbeddedStore, ServerStore
from pipeline.store.queries import query_text
from pipeline.store.serial import SerialStore
from pipeline.worker.spike import Arrival, SpikeDetector
from schemas.alert import SpikeAlert

logger = logging.getLogger(__name__)

def walk_in_minutes(store: EmbeddedStore | ServerStore, spans: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """(site, minute epoch seconds, arrivals) from the inquiry_minute rollup in [start, end) spans."""
    if not spans:
        return []
    table = store.query_arrow(query_text("spike_walk_in_minutes", store.database),
                              parameters={"starts": [a for a, _ in spans], "ends": [b for _, b in spans]})
    return list(zip(*(table.column(c).to_pylist() for c in ("site", "m", "n"))))


def window_arrivals(store: EmbeddedStore | ServerStore, site: str, after: float,
                    until: float) -> list[tuple[float, str]]:
    """(occurred_at epoch seconds, event id) of a site's stored arrivals in (after, until]."""
    table = store.query_arrow(query_text("spike_window_arrivals", store.database),
                              parameters={"site": site, "after": round(after * 1000), "until": round(until * 1000)})
    return [(ms / 1000, event_id) for ms, event_id in zip(table.column("ms").to_pylist(), table.column("id").to_pylist())]


def last_alert(store: EmbeddedStore | ServerStore, site: str) -> SpikeAlert | None:
    """The site's latest alert: if it is a firing one, a worker before us left the spike open."""
    rows = store.query_arrow(query_text("spike_last_alert", store.database), parameters={"site": site}).to_pylist()
    return SpikeAlert.model_validate(rows[0]) if rows else None


class SpikeMonitor:
    """Runs the detector inside the worker: loads, observes, publishes, shows."""

    def __init__(self, steering: Steering, shared: SerialStore, alerts: AlertWriter, send: Callable[[SpikeAlert], Awaitable[None]],
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.detector = SpikeDetector(steering)
        self.baseline = self.detector.baseline
        self.shared = shared
        self.alerts = alerts
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
        rows = walk_in_minutes(self.shared.store, self._spans(days))
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
            self._install(days, await self.shared.retrying(walk_in_minutes, self.shared.store, self._spans(days)))
        for site, first in {a.site: a for a in reversed(arrivals)}.items():
            if not self.detector.knows(site):
                recent = await self.shared.retrying(window_arrivals, self.shared.store, site, first.at - self.window_seconds,
                                                    first.at)
                last = await self.shared.retrying(last_alert, self.shared.store, site)
                self.detector.seed(site, first.municipality, first.partition, recent, last)

    def observe(self, arrivals: list[Arrival]) -> list[SpikeAlert]:
        now = self.wall_clock()
        alerts = [alert for arrival in arrivals for alert in self.detector.observe(arrival, now)]
        self.baseline.trim()
        return alerts

    async def tick(self) -> list[SpikeAlert]:
        """Timer: move the clocks on by wall time (module doc of pipeline/worker/spike.py) and publish."""
        alerts = self.detector.tick(self.wall_clock())
        await self.publish(alerts)
        return alerts

    async def publish(self, alerts: list[SpikeAlert]) -> None:
        """Store, then produce: a worker that dies between the two re-decides the same alert
        (same alert_id) from the redelivered batch, or finds it open in the store."""
        await self.alerts.write(alerts)
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

"""Walk-in spike detection: arrivals per site in a sliding window against a seasonal baseline.

The worker feeds every walk-in arrival it reads (channel walk_in, stage arrived, direction
inbound) into a SpikeDetector and publishes what comes out: a `firing` SpikeAlert when a
site gets far busier than usual, a `resolved` one when it calms down. Pure arithmetic over
plain data; Kafka and ClickHouse stay in pipeline/worker/spike_monitor.py and pipeline/worker/app.py.

Time. The window slides with *event time*: each site has a clock, the newest arrival's
occurred_at seen for that site, so replaying a past week detects exactly what live
operation would have (and a site's clock is its own: partitions, and so sites, are read
at different paces). Only arrivals move the clock: a ticket export writes a visit's
answered and closed events beside its arrival, up to half an hour ahead of it. With no
arrivals the clock would stop and an open spike never resolve, so a timer (`tick`) moves
every clock on by the *wall* time passed since the clock last moved: live, a quiet site
resolves about 15 minutes after its last ticket; in a replay the timer adds only the few
seconds between batches. Arrivals older than a window behind the clock are late: stored
and in the baseline, but not counted in the window.

Baseline. Expected arrivals for the window ending at t are the mean, over the previous
`baseline_weeks` weeks, of what arrived on the same weekday at the same local time of day
(a week earlier in Europe/Copenhagen wall-clock time, so DST weeks compare like with like).
Each week contributes its arrivals per open minute over the window's `window_minutes`
whole minutes (those ending with the minute of t) and spike.spread_minutes either side, times
`window_minutes`: one week's quarter hour is a handful of tickets, and a mean of four
handfuls is noisy enough to page on chance; an hour around the same time is steady, and
counting open minutes only keeps the opening quarter hour from being diluted by the closed
minutes before it. Weeks are left out of the mean, not counted as zero, when that day was
a public holiday or closing day (`Steering.closed_day`), when the site was closed at that
time (`Steering.is_open`), or when the store holds no arrival at the site that whole day
(no data is not zero: the pipeline was not running, or the site did not exist yet). No
week left: the expected count is unknown (None) and nothing fires; a new site or an empty
store must not page on every busy quarter hour. Fewer weeks than spike.min_baseline_weeks
(default 2) fire nothing either: with one week, a site's ordinary Tuesday afternoon paged as
a spike in 2 of 10 simulated months (19 tickets against 5.6 expected from that single week).

Firing and resolving. A spike fires when count >= min_count and count >= ratio x expected
(the site's rule from the steering file), and the count is one that Poisson arrivals at the
expected rate reach with a chance below spike.max_chance (default 1 in 100 000). The rule alone pages on
chance at a small site (12 tickets in a quarter hour where 5 are usual happens about once
in 180 windows, and the window slides all day). A real spike passes both tests together: the
simulated ones, at four times the usual rate, fire 1-4 minutes in, as the rule alone would.
Expected == 0 (valid weeks, but nobody came) fires on min_count alone, and the alert's ratio
is None. An open spike resolves when the count drops below spike.resolve_fraction (default 75 %) of the
current firing threshold max(min_count, ratio x expected), or of min_count while the
expected count is unknown (past closing time): the gap keeps a count hovering at the
threshold from firing and resolving on every ticket.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ground.steering import Steering
from pipeline.ground.throttle import ThrottledLog
from schemas.alert import SpikeAlert, alert_id

WALK_IN = "walk_in"
logger = logging.getLogger(__name__)
_future = ThrottledLog(logger)

_MINUTE = 60
FUTURE_TOLERANCE_SECONDS = 300  # a machine clock a few minutes fast still counts


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


# --------------------------------------------------------------------------- arrivals


@dataclass(frozen=True, slots=True)
class Arrival:
    """One walk-in arrival as the detector sees it."""

    site: str
    municipality: str
    partition: int
    at: float  # occurred_at, epoch seconds
    event_id: str
    stored: bool = True  # False: a duplicate the store already holds (it is in the baseline already)


def walk_in_arrivals(events: pa.Table, stored: pa.Table | None = None) -> list[Arrival]:
    """The walk-in arrivals in a decoded batch, in topic order; `stored` marks those that are
    also in `stored` (the events this batch inserts: the rest are duplicates)."""
    chosen = _arrivals_only(events)
    if chosen.num_rows == 0:
        return []
    fresh = set(_arrivals_only(stored).column("event_id").to_pylist()) if stored is not None else None
    millis = pc.cast(chosen.column("occurred_at"), pa.int64()).to_pylist()
    return [
        Arrival(site, municipality, partition, ms / 1000, event_id, fresh is None or event_id in fresh)
        for site, municipality, partition, ms, event_id in zip(
            chosen.column("site").to_pylist(), chosen.column("municipality").to_pylist(),
            chosen.column("partition").to_pylist(), millis, chosen.column("event_id").to_pylist())
    ]


def _arrivals_only(events: pa.Table) -> pa.Table:
    if events.num_rows == 0:
        return events
    mask = pc.and_(pc.and_(pc.equal(events.column("channel"), WALK_IN), pc.equal(events.column("stage"), "arrived")),
                   pc.and_(pc.equal(events.column("direction"), "inbound"), pc.not_equal(events.column("site"), "")))
    return events.filter(mask)


# --------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class Expected:
    value: float
    weeks_used: int


class MinuteBaseline:
    """Walk-in arrivals per site per UTC minute, for the local days loaded so far.

    A day is loaded whole from the store (`install`) the first time a baseline needs it,
    then kept current with every arrival the worker stores (`add`); the least recently
    needed days are dropped beyond `max_days`, to be loaded again if they come back.
    """

    def __init__(self, steering: Steering, max_days: int | None = None) -> None:
        self.steering = steering
        self.window = steering.spike.window_minutes
        self.weeks = steering.spike.baseline_weeks
        self.max_days = max_days or 14 * (self.weeks + 1)
        self._days: OrderedDict[date, None] = OrderedDict()
        self._counts: dict[str, dict[int, int]] = {}
        self._day_totals: dict[tuple[str, date], int] = {}
        self._open: dict[tuple[str, date], list[tuple[int, int]]] = {}

    # -- which days

    def local_day(self, epoch: float) -> date:
        return datetime.fromtimestamp(epoch, self.steering.zone).date()

    def day_bounds(self, day: date) -> tuple[int, int]:
        """UTC epoch seconds of the local day's first instant and of the next day's (23 or 25 h on DST days)."""
        zone = self.steering.zone
        start = datetime.combine(day, time(0), tzinfo=zone).timestamp()
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).timestamp()
        return int(start), int(end)

    def days_needed(self, moments: Iterable[float]) -> list[date]:
        """Local days a baseline for windows ending at `moments` reads: the same weekday in each
        baseline week, and the days either side (a window and its spread may cross midnight)."""
        needed: set[date] = set()
        for day in {self.local_day(m) for m in moments}:
            for k in range(1, self.weeks + 1):
                for shift in (-1, 0, 1):
                    needed.add(day - timedelta(weeks=k) + timedelta(days=shift))
        return sorted(needed)

    def missing(self, days: Iterable[date]) -> list[date]:
        """Days not loaded yet; marks the loaded ones as recently needed."""
        out = []
        for day in days:
            if day in self._days:
                self._days.move_to_end(day)
            else:
                out.append(day)
        return out

    def is_loaded(self, day: date) -> bool:
        return day in self._days

    # -- filling

    def install(self, day: date, rows: Iterable[tuple[str, int, int]]) -> None:
        """A day as the store holds it: (site, minute epoch seconds, arrivals) rows."""
        if day in self._days:
            return
        self._days[day] = None
        for site, minute, count in rows:
            per_site = self._counts.setdefault(site, {})
            per_site[minute] = per_site.get(minute, 0) + count
            self._day_totals[(site, day)] = self._day_totals.get((site, day), 0) + count

    def add(self, site: str, at: float) -> None:
        """An arrival the worker stored: counted if its day is loaded (else the store has it)."""
        day = self.local_day(at)
        if day not in self._days:
            return
        minute = int(at // _MINUTE) * _MINUTE
        per_site = self._counts.setdefault(site, {})
        per_site[minute] = per_site.get(minute, 0) + 1
        self._day_totals[(site, day)] = self._day_totals.get((site, day), 0) + 1

    def trim(self) -> None:
        """Drop the least recently needed days beyond max_days (between batches only)."""
        while len(self._days) > self.max_days:
            day, _ = self._days.popitem(last=False)
            start, end = self.day_bounds(day)
            for site, per_site in self._counts.items():
                for minute in [m for m in per_site if start <= m < end]:
                    del per_site[minute]
                self._day_totals.pop((site, day), None)
            self._open.clear()

    def forget(self) -> None:
        """Drop everything, e.g. when partitions (and so sites) move between workers."""
        self._days.clear()
        self._counts.clear()
        self._day_totals.clear()
        self._open.clear()

    # -- reading

    def _open_minutes(self, site: str, day: date) -> list[tuple[int, int]]:
        """The site's open hours on a local day as UTC epoch [start, end) spans (cached)."""
        spans = self._open.get((site, day))
        if spans is None:
            zone = self.steering.zone
            if self.steering.closed_day(day):
                spans = []
            elif WALK_IN not in self.steering.opening_hours:
                spans = [self.day_bounds(day)]  # a channel without hours is always open
            else:
                hours = self.steering.opening_hours[WALK_IN].for_site(site).on(day.weekday())  # type: ignore[index]
                spans = [(int(datetime.combine(day, opens, tzinfo=zone).timestamp()),
                          int(datetime.combine(day, closes, tzinfo=zone).timestamp())) for opens, closes in hours]
            self._open[(site, day)] = spans
        return spans

    def expected(self, site: str, at: float) -> Expected | None:
        """Mean arrivals in the window ending at `at`, over the valid baseline weeks (module doc):
        each week's rate per open minute in the window's minutes and spike.spread_minutes either side."""
        zone = self.steering.zone
        local = datetime.fromtimestamp(at, zone).replace(tzinfo=None)
        per_site = self._counts.get(site, {})
        total, used = 0.0, 0
        for k in range(1, self.weeks + 1):
            then = (local - timedelta(weeks=k)).replace(tzinfo=zone)
            day = then.date()
            if self.steering.closed_day(day) or not self.steering.is_open(WALK_IN, site, then):
                continue
            if not self._day_totals.get((site, day)):
                continue  # not loaded, or no data that day: unknown, not zero
            last = int(then.timestamp() // _MINUTE) * _MINUTE
            spread = self.steering.spike.spread_minutes
            first, last = last - (self.window - 1 + spread) * _MINUTE, last + spread * _MINUTE
            arrivals = minutes = 0
            for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
                for opens, closes in self._open_minutes(site, d):
                    start = max(first, -(-opens // _MINUTE) * _MINUTE)
                    for minute in range(start, min(last + _MINUTE, closes), _MINUTE):
                        arrivals += per_site.get(minute, 0)
                        minutes += 1
            if minutes:
                total += arrivals / minutes * self.window
                used += 1
        return Expected(total / used, used) if used else None


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean): how likely a count this high is by chance alone.
    Summed upwards from `count` in log space, so large means do not underflow."""
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if count <= mean:
        return 1.0 - poisson_tail_below(count, mean)
    term = math.exp(-mean + count * math.log(mean) - math.lgamma(count + 1))
    total, i = 0.0, count
    while term > total * 1e-16:
        total += term
        i += 1
        term *= mean / i
    return total


def poisson_tail_below(count: int, mean: float) -> float:
    """P(X < count) for X ~ Poisson(mean), for count <= mean (few terms, no underflow there)."""
    return sum(math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1)) for i in range(count))


# --------------------------------------------------------------------------- detector


@dataclass
class _OpenSpike:
    alert_id: str
    fired_at: float
    peak_count: int


@dataclass
class SiteState:
    """One site's window, clock and open spike."""

    site: str
    municipality: str
    partition: int
    clock: float = -math.inf
    wall_at_clock: float = 0.0
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (occurred_at, event_id), sorted
    ids: set[str] = field(default_factory=set)
    open: _OpenSpike | None = None

    @property
    def count(self) -> int:
        return len(self.arrivals)


@dataclass(frozen=True)
class SiteReading:
    """What /metrics shows for a site."""

    site: str
    count: int
    expected: float | None
    spiking: bool


class SpikeDetector:
    """Sites' windows and open spikes; returns the alerts each arrival or tick causes."""

    def __init__(self, steering: Steering, baseline: MinuteBaseline | None = None) -> None:
        self.steering = steering
        self.window_seconds = steering.spike.window_minutes * _MINUTE
        self.baseline = baseline or MinuteBaseline(steering)
        self.sites: dict[str, SiteState] = {}

    def knows(self, site: str) -> bool:
        return site in self.sites

    def seed(self, site: str, municipality: str, partition: int, recent: Iterable[tuple[float, str]] = (),
             open_alert: SpikeAlert | None = None) -> None:
        """Start a site from what the store holds: the arrivals of its current window and, if the
        last alert for it was a firing one, the spike it left open (a restarted worker resolves it)."""
        state = SiteState(site, municipality, partition)
        for at, event_id in sorted(recent):
            if event_id not in state.ids:
                state.arrivals.append((at, event_id))
                state.ids.add(event_id)
        if open_alert is not None and open_alert.status == "firing":
            state.open = _OpenSpike(open_alert.alert_id, open_alert.fired_at.timestamp(), open_alert.peak_count)
        self.sites[site] = state

    def observe(self, arrival: Arrival, wall_now: float) -> list[SpikeAlert]:
        """Count one arrival (in topic order) and say whether the site's spike state changed.

        An arrival dated more than FUTURE_TOLERANCE ahead of the wall clock (a ticket machine
        with a wrong clock or year) is left out: it would move the site's clock ahead and make
        every real arrival look late until wall time caught up."""
        if arrival.at > wall_now + FUTURE_TOLERANCE_SECONDS:
            # A wrong clock dates every ticket ahead: a few warnings, then a count a minute.
            _future.warning(arrival.site, "walk-in arrival at %s dated %.0f s in the future: not counted for spikes",
                            arrival.site, arrival.at - wall_now)
            return []
        if arrival.stored:
            self.baseline.add(arrival.site, arrival.at)
        state = self.sites.get(arrival.site)
        if state is None:
            self.seed(arrival.site, arrival.municipality, arrival.partition)
            state = self.sites[arrival.site]
        state.municipality, state.partition = arrival.municipality, arrival.partition
        if arrival.at > state.clock:
            state.clock, state.wall_at_clock = arrival.at, wall_now
            self._evict(state)
        if arrival.at > state.clock - self.window_seconds and arrival.event_id not in state.ids:
            bisect.insort(state.arrivals, (arrival.at, arrival.event_id))
            state.ids.add(arrival.event_id)
        return self._evaluate(state, wall_now)

    def clocks_at(self, wall_now: float) -> dict[str, float]:
        """Each site's clock moved on by the wall time passed since it last moved."""
        return {site: s.clock + max(0.0, wall_now - s.wall_at_clock) for site, s in self.sites.items()}

    def tick(self, wall_now: float) -> list[SpikeAlert]:
        """Advance every clock by wall time passed (see module doc) and resolve what calmed down."""
        alerts: list[SpikeAlert] = []
        for site, clock in self.clocks_at(wall_now).items():
            state = self.sites[site]
            if state.clock == -math.inf:
                continue  # seeded from the store, no arrival seen yet: no clock to move on
            state.clock, state.wall_at_clock = clock, wall_now
            self._evict(state)
            alerts += self._evaluate(state, wall_now)
        return alerts

    def readings(self) -> list[SiteReading]:
        out = []
        for state in self.sites.values():
            expected = self.baseline.expected(state.site, state.clock) if state.clock > -math.inf else None
            out.append(SiteReading(state.site, state.count, expected.value if expected else None,
                                   state.open is not None))
        return out

    def drop_sites_outside(self, partitions: set[int]) -> list[str]:
        """Forget sites whose partition this worker no longer reads (their new owner takes over)."""
        gone = [site for site, state in self.sites.items() if state.partition not in partitions]
        for site in gone:
            del self.sites[site]
        return gone

    # -- internals

    def _evict(self, state: SiteState) -> None:
        cutoff = state.clock - self.window_seconds
        drop = bisect.bisect_right(state.arrivals, (cutoff, "\uffff"))
        if drop:
            for _, event_id in state.arrivals[:drop]:
                state.ids.discard(event_id)
            del state.arrivals[:drop]

    def _evaluate(self, state: SiteState, wall_now: float) -> list[SpikeAlert]:
        rule = self.steering.spike.rule(state.site)
        count = state.count
        if state.open is None:
            if count < rule.min_count:
                return []  # the cheap case: no baseline lookup
            expected = self.baseline.expected(state.site, state.clock)
            if expected is None or count < rule.ratio * expected.value:
                return []
            if expected.weeks_used < self.steering.spike.min_baseline_weeks:
                return []  # one week's count is too noisy a yardstick to page on
            if poisson_tail(count, expected.value) >= self.steering.spike.max_chance:
                return []  # over the ratio, but a count a quiet site reaches by chance now and then
            state.open = _OpenSpike(alert_id(state.municipality, state.site, state.clock), state.clock, count)
            return [self._alert(state, "firing", count, expected, wall_now)]
        state.open.peak_count = max(state.open.peak_count, count)
        expected = self.baseline.expected(state.site, state.clock)
        threshold = max(rule.min_count, rule.ratio * expected.value) if expected else rule.min_count
        if count >= self.steering.spike.resolve_fraction * threshold:
            return []
        alert = self._alert(state, "resolved", count, expected, wall_now)
        state.open = None
        return [alert]

    def _alert(self, state: SiteState, status: Literal["firing", "resolved"], count: int,
               expected: Expected | None, wall_now: float) -> SpikeAlert:
        assert state.open is not None
        rule = self.steering.spike.rule(state.site)
        spike = self.steering.spike
        return SpikeAlert(
            alert_id=state.open.alert_id,
            status=status,
            municipality=state.municipality,
            site=state.site,
            count=count,
            peak_count=state.open.peak_count,
            expected=round(expected.value, 3) if expected else None,
            ratio=round(count / expected.value, 3) if expected and expected.value > 0 else None,
            window_minutes=spike.window_minutes,
            window_start=_utc(state.clock - self.window_seconds),
            window_end=_utc(state.clock),
            threshold_ratio=rule.ratio,
            min_count=rule.min_count,
            baseline_weeks=spike.baseline_weeks,
            baseline_weeks_used=expected.weeks_used if expected else 0,
            fired_at=_utc(state.open.fired_at),
            resolved_at=_utc(state.clock) if status == "resolved" else None,
            emitted_at=_utc(wall_now),
        )

"""Spike arithmetic without Kafka or ClickHouse: window, seasonal baseline, firing, resolving."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.ground.settings import Settings
from pipeline.ground.steering import SpikeConfig, Steering, load_steering
from pipeline.simulated.municipality import simulate
from pipeline.simulated.walkins import SPIKE_HOUR, SPIKE_SITE
from pipeline.worker.spike import Arrival, MinuteBaseline, SpikeDetector, poisson_tail, walk_in_arrivals
from schemas.wire import Message, decode_messages

TZ = ZoneInfo("Europe/Copenhagen")
SITE = "Rådhuset"
# The shipped steering file leaves these at their defaults.
_DEFAULTS = SpikeConfig()
MAX_CHANCE, RESOLVE_FRACTION, SPREAD_MINUTES = _DEFAULTS.max_chance, _DEFAULTS.resolve_fraction, _DEFAULTS.spread_minutes


@pytest.fixture(scope="module")
def steering() -> Steering:
    return load_steering(Settings().steering.file)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ).timestamp()


def loaded(steering: Steering, days: list[date]) -> MinuteBaseline:
    baseline = MinuteBaseline(steering)
    for day in days:
        baseline.install(day, [])
    return baseline


def uniform(baseline: MinuteBaseline, site: str, day: date, per_minute: int, hours: tuple[int, int] = (10, 15)) -> None:
    """`per_minute` arrivals in every minute of [hours) on `day`."""
    for minute in range((hours[1] - hours[0]) * 60):
        for i in range(per_minute):
            baseline.add(site, at(day, hours[0]) + minute * 60 + i)


class Feed:
    """Arrivals for one detector, ids made up in order."""

    def __init__(self, detector: SpikeDetector, site: str = SITE) -> None:
        self.detector, self.site, self.n = detector, site, 0

    def __call__(self, moment: float, wall: float | None = None, stored: bool = True) -> list:
        """One arrival; by default it happens live (wall clock = its time)."""
        self.n += 1
        return self.detector.observe(Arrival(self.site, "751", 0, moment, f"{self.n:032x}", stored),
                                     moment if wall is None else wall)

    def burst(self, start: float, count: int, every: float) -> list:
        return [alert for i in range(count) for alert in self(start + i * every)]


# --------------------------------------------------------------------------- baseline


def test_expected_is_the_mean_of_the_same_weekday_and_time_over_the_baseline_weeks(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    weeks = [thursday - timedelta(weeks=k) for k in range(1, steering.spike.baseline_weeks + 1)]
    baseline = loaded(steering, weeks)
    for k, day in enumerate(weeks, start=1):
        uniform(baseline, SITE, day, per_minute=k)  # 1, 2, 3, 4 a minute: mean 2.5
    expected = baseline.expected(SITE, at(thursday, 11, 30))
    mean_rate = sum(range(1, len(weeks) + 1)) / len(weeks)
    assert expected is not None and expected.weeks_used == len(weeks)
    assert expected.value == pytest.approx(mean_rate * steering.spike.window_minutes)


def test_public_holiday_in_the_baseline_weeks_does_not_lower_the_expected_count(steering: Steering) -> None:
    spike_day = date(2026, 5, 21)  # the Thursday after Ascension Day 2026-05-14
    weeks = [spike_day - timedelta(weeks=k) for k in range(1, steering.spike.baseline_weeks + 1)]
    assert any(steering.closed_day(d) for d in weeks), "no holiday in the baseline weeks: nothing tested"
    baseline = loaded(steering, weeks)
    for day in weeks:
        uniform(baseline, SITE, day, per_minute=2)  # even on the holiday: a ticket machine left on
    expected = baseline.expected(SITE, at(spike_day, 11))
    assert expected is not None
    assert expected.weeks_used == len(weeks) - 1
    assert expected.value == pytest.approx(2 * steering.spike.window_minutes)


def test_a_week_without_data_is_left_out_not_counted_as_zero(steering: Steering) -> None:
    monday = date(2026, 11, 23)
    weeks = [monday - timedelta(weeks=k) for k in range(1, 5)]
    baseline = loaded(steering, weeks)
    for day in weeks[:2]:
        uniform(baseline, SITE, day, per_minute=1)
    expected = baseline.expected(SITE, at(monday, 12))
    assert expected is not None and expected.weeks_used == 2
    assert expected.value == pytest.approx(steering.spike.window_minutes)


def test_no_baseline_week_left_means_unknown_and_nothing_fires(steering: Steering) -> None:
    detector = SpikeDetector(steering, loaded(steering, []))
    feed = Feed(detector)
    alerts = feed.burst(at(date(2026, 11, 26), 11), 200, every=1.0)
    assert alerts == []
    assert detector.readings()[0].expected is None and detector.readings()[0].count == 200


def test_closed_slots_are_skipped_and_closed_minutes_do_not_dilute_the_opening(steering: Steering) -> None:
    friday = date(2026, 11, 27)  # walk-in closes 13:00 on Fridays
    weeks = [friday - timedelta(weeks=k) for k in range(1, 5)]
    baseline = loaded(steering, weeks)
    for day in weeks:
        uniform(baseline, SITE, day, per_minute=1, hours=(10, 13))
    assert baseline.expected(SITE, at(friday, 13, 30)) is None  # closed at that time in every week
    opening = baseline.expected(SITE, at(friday, 10, 5))
    assert opening is not None
    # Only the open minutes (10:00 onwards) enter the rate: still one a minute.
    assert opening.value == pytest.approx(steering.spike.window_minutes)


def test_a_dst_week_compares_the_same_local_time_of_day(steering: Steering) -> None:
    monday = date(2026, 3, 30)  # clocks went forward on Sunday 2026-03-29
    weeks = [monday - timedelta(weeks=k) for k in range(1, 5)]
    baseline = loaded(steering, weeks)
    for day in weeks:  # busy 11:00-12:00 local only, quiet 10:00-11:00 and 12:00-15:00
        uniform(baseline, SITE, day, per_minute=4, hours=(11, 12))
    assert datetime(2026, 3, 23, 11, tzinfo=TZ).utcoffset() != datetime(2026, 3, 30, 11, tzinfo=TZ).utcoffset()
    inside = baseline.expected(SITE, at(monday, 11, 50))
    assert inside is not None
    # 11:50 local: the window and spread reach 11:06-12:20 local, 54 busy minutes of 75.
    spread, window = SPREAD_MINUTES, steering.spike.window_minutes
    first_minute = 50 - (window - 1) - spread  # minutes after 11:00 (negative: before 11:00)
    busy_minutes = sum(1 for m in range(first_minute, 50 + spread + 1) if 0 <= m < 60)
    assert inside.value == pytest.approx(4 * busy_minutes / (window + 2 * spread) * window)


def test_days_needed_cover_each_baseline_weekday_and_its_neighbours(steering: Steering) -> None:
    baseline = MinuteBaseline(steering)
    needed = baseline.days_needed([at(date(2026, 11, 26), 11)])
    weeks = steering.spike.baseline_weeks
    assert len(needed) == 3 * weeks
    assert min(needed) == date(2026, 11, 26) - timedelta(weeks=weeks, days=1)
    assert max(needed) == date(2026, 11, 26) - timedelta(weeks=1) + timedelta(days=1)


def test_unloaded_days_are_not_counted_and_trim_forgets_the_least_recently_needed(steering: Steering) -> None:
    baseline = MinuteBaseline(steering, max_days=2)
    d1, d2, d3 = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)
    baseline.add(SITE, at(d1, 11))  # not loaded: the store will have it
    for day in (d1, d2, d3):
        baseline.install(day, [(SITE, int(at(day, 11)), 5)])
    baseline.missing([d1])  # needed again: most recent
    baseline.trim()
    assert baseline.is_loaded(d1) and baseline.is_loaded(d3) and not baseline.is_loaded(d2)
    expected = baseline.expected(SITE, at(date(2026, 11, 23), 11))
    assert expected is not None and expected.weeks_used == 2  # d1 and d3; d2 forgotten


# --------------------------------------------------------------------------- firing and resolving


def ordinary(steering: Steering, day: date, per_minute: int = 1) -> MinuteBaseline:
    weeks = [day - timedelta(weeks=k) for k in range(1, steering.spike.baseline_weeks + 1)]
    baseline = loaded(steering, weeks)
    for week in weeks:
        uniform(baseline, SITE, week, per_minute=per_minute, hours=(10, 17))
    return baseline


def test_spike_fires_on_the_arrival_that_crosses_the_threshold_and_resolves_when_it_falls_back(
    steering: Steering,
) -> None:
    thursday = date(2026, 11, 26)
    detector = SpikeDetector(steering, ordinary(steering, thursday))
    feed = Feed(detector)
    rule, window = steering.spike.rule(SITE), steering.spike.window_minutes
    expected = window  # one a minute
    assert feed.burst(at(thursday, 10, 30), window, every=60.0) == []  # an ordinary quarter hour
    alerts = feed.burst(at(thursday, 10, 45), 200, every=2.0)  # thirty a minute
    firing = [a for a in alerts if a.status == "firing"]
    assert len(firing) == 1 and len(alerts) == 1
    alert = firing[0]

    def fires(count: int) -> bool:
        return count >= rule.min_count and count >= rule.ratio * expected and poisson_tail(count, expected) < MAX_CHANCE

    assert fires(alert.count) and not fires(alert.count - 1)  # the very arrival that crossed
    assert alert.expected == pytest.approx(expected)
    assert alert.ratio == pytest.approx(alert.count / expected, abs=1e-3)
    assert alert.window_end - alert.window_start == timedelta(minutes=window)
    assert alert.fired_at == alert.window_end and alert.resolved_at is None
    assert (alert.site, alert.municipality, alert.threshold_ratio, alert.min_count) == (SITE, "751", rule.ratio,
                                                                                        rule.min_count)
    assert detector.readings()[0].spiking

    # Back to one a minute: resolves once the window holds fewer than 75 % of the threshold.
    burst_end = at(thursday, 10, 45) + 199 * 2.0
    alerts = feed.burst(burst_end + 60, 40, every=60.0)
    assert [a.status for a in alerts] == ["resolved"]
    resolved = alerts[0]
    assert resolved.alert_id == alert.alert_id and resolved.peak_count >= alert.count
    assert resolved.count < RESOLVE_FRACTION * max(rule.min_count, rule.ratio * expected)
    assert not detector.readings()[0].spiking


@pytest.mark.parametrize(("weeks", "fires"), [(1, False), (2, True)])
def test_one_baseline_week_is_too_few_to_page_on(weeks: int, fires: bool, steering: Steering) -> None:
    """A site's second week has one week to compare with: its chance quarter hours paged as
    spikes; from min_baseline_weeks (2) on, the same burst fires."""
    thursday = date(2026, 11, 26)
    baseline_weeks = [thursday - timedelta(weeks=k) for k in range(1, weeks + 1)]
    baseline = loaded(steering, baseline_weeks)
    for week in baseline_weeks:
        uniform(baseline, SITE, week, per_minute=1, hours=(10, 17))
    feed = Feed(SpikeDetector(steering, baseline))
    alerts = feed.burst(at(thursday, 10, 45), 200, every=2.0)
    assert [a.status for a in alerts if a.status == "firing"] == (["firing"] if fires else [])
    assert steering.spike.min_baseline_weeks == 2


def test_hysteresis_a_count_just_below_the_threshold_does_not_resolve(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    detector = SpikeDetector(steering, ordinary(steering, thursday))
    feed = Feed(detector)
    fired = feed.burst(at(thursday, 11), 120, every=5.0)  # twelve a minute
    assert [a.status for a in fired] == ["firing"]
    threshold = max(steering.spike.rule(SITE).min_count, steering.spike.rule(SITE).ratio * steering.spike.window_minutes)
    # Slow down to just under the threshold but above 75 % of it: still open.
    every = steering.spike.window_minutes * 60 / (0.9 * threshold)
    start = at(thursday, 11) + 120 * 5.0
    assert feed.burst(start, 40, every=every) == []
    assert detector.readings()[0].spiking


def test_expected_zero_fires_on_min_count_alone_with_no_ratio(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    weeks = [thursday - timedelta(weeks=k) for k in range(1, 5)]
    baseline = loaded(steering, weeks)
    for week in weeks:  # data those days, but nobody came around 14:00
        uniform(baseline, SITE, week, per_minute=1, hours=(10, 12))
    detector = SpikeDetector(steering, baseline)
    rule = steering.spike.rule(SITE)
    alerts = Feed(detector).burst(at(thursday, 14), rule.min_count, every=10.0)
    assert [a.status for a in alerts] == ["firing"]
    assert alerts[0].count == rule.min_count and alerts[0].expected == 0 and alerts[0].ratio is None


def test_below_min_count_nothing_fires_however_high_the_ratio(steering: Steering) -> None:
    thursday, site = date(2026, 11, 26), "Hovedbiblioteket"
    weeks = [thursday - timedelta(weeks=k) for k in range(1, 5)]
    baseline = loaded(steering, weeks)
    for week in weeks:  # data those days, nobody around 14:00: expected 0, any count is "infinitely" many
        uniform(baseline, site, week, per_minute=1, hours=(10, 12))
    rule = steering.spike.rule(site)
    feed = Feed(SpikeDetector(steering, baseline), site)
    assert feed.burst(at(thursday, 14), rule.min_count - 1, every=1.0) == []
    assert [a.status for a in feed(at(thursday, 14, 1))] == ["firing"]


def test_wall_clock_ticks_resolve_a_spike_when_no_tickets_come(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    detector = SpikeDetector(steering, ordinary(steering, thursday))
    feed = Feed(detector)
    wall = at(thursday, 20)  # replayed in the evening: the wall clock is hours past the events
    for i in range(150):
        feed(at(thursday, 11) + i * 2.0, wall=wall)
    assert detector.readings()[0].spiking
    assert detector.tick(wall + 60) == []  # a minute of silence: the window still holds the burst
    resolved = detector.tick(wall + steering.spike.window_minutes * 60 + 1)
    assert [a.status for a in resolved] == ["resolved"]
    assert resolved[0].count == 0
    assert resolved[0].resolved_at == datetime.fromtimestamp(at(thursday, 11) + 149 * 2.0, timezone.utc) + timedelta(
        minutes=steering.spike.window_minutes, seconds=1)


def test_duplicates_and_late_arrivals_do_not_count_in_the_window(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    detector = SpikeDetector(steering, ordinary(steering, thursday))
    arrival, wall = Arrival(SITE, "751", 0, at(thursday, 11), "a" * 32), at(thursday, 20)
    detector.observe(arrival, wall)
    detector.observe(arrival, wall)  # redelivered after a restart
    detector.observe(Arrival(SITE, "751", 0, at(thursday, 10, 40), "b" * 32), wall)  # a window behind the clock
    assert detector.readings()[0].count == 1


def test_a_restarted_worker_resolves_the_spike_its_predecessor_left_open(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    before = SpikeDetector(steering, ordinary(steering, thursday))
    fired = Feed(before).burst(at(thursday, 11), 150, every=2.0)
    assert [a.status for a in fired] == ["firing"]
    after = SpikeDetector(steering, ordinary(steering, thursday))
    after.seed(SITE, "751", 0, recent=[], open_alert=fired[0])
    alerts = Feed(after).burst(at(thursday, 11, 30), 20, every=60.0)
    assert [(a.status, a.alert_id) for a in alerts] == [("resolved", fired[0].alert_id)]


def test_a_timer_tick_between_seeding_and_the_first_arrival_is_harmless(steering: Steering) -> None:
    """A restarted worker seeds a site with an open spike before any arrival of it comes in;
    the 5 s timer may tick in between (it once raised OverflowError and stopped the worker)."""
    thursday = date(2026, 11, 26)
    fired = Feed(SpikeDetector(steering, ordinary(steering, thursday))).burst(at(thursday, 11), 150, every=2.0)
    after = SpikeDetector(steering, ordinary(steering, thursday))
    after.seed(SITE, "751", 0, recent=[(at(thursday, 11, 10), "c" * 32)], open_alert=fired[0])
    assert after.tick(at(thursday, 11, 11)) == []
    alerts = Feed(after).burst(at(thursday, 11, 30), 20, every=60.0)
    assert [(a.status, a.alert_id) for a in alerts] == [("resolved", fired[0].alert_id)]


def test_an_arrival_dated_in_the_future_does_not_silence_the_site(steering: Steering) -> None:
    thursday = date(2026, 11, 26)
    detector = SpikeDetector(steering, ordinary(steering, thursday))
    wall = at(thursday, 11)
    assert detector.observe(Arrival(SITE, "751", 0, wall + 365 * 86400, "f" * 32), wall) == []
    fired = Feed(detector).burst(at(thursday, 11), 150, every=2.0)
    assert [a.status for a in fired] == ["firing"]


def test_rebalance_drops_only_sites_of_partitions_read_elsewhere(steering: Steering) -> None:
    detector = SpikeDetector(steering, loaded(steering, []))
    wall = at(date(2026, 11, 26), 20)
    detector.observe(Arrival("A", "751", 1, at(date(2026, 11, 26), 11), "a" * 32), wall)
    detector.observe(Arrival("B", "751", 2, at(date(2026, 11, 26), 11), "b" * 32), wall)
    assert detector.drop_sites_outside({2}) == ["A"]
    assert [r.site for r in detector.readings()] == ["B"]


@given(st.integers(min_value=0, max_value=120), st.floats(min_value=0.01, max_value=100))
@hsettings(max_examples=200, deadline=None)
def test_poisson_tail_matches_the_plain_sum(count: int, mean: float) -> None:
    plain = 1.0 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(count))
    assert poisson_tail(count, mean) == pytest.approx(max(plain, 0.0), abs=1e-12, rel=1e-6)


# --------------------------------------------------------------------------- arrivals from a batch


def test_only_inbound_walk_in_arrivals_with_a_site_reach_the_detector() -> None:
    def event(n: int, **fields: str) -> bytes:
        base = {"event_id": f"{n:032x}", "occurred_at": "2026-11-26T10:00:00.000Z", "municipality": "751",
                "channel": "walk_in", "direction": "inbound", "stage": "arrived", "site": SITE,
                "source": {"system": "tickets"}}
        return orjson.dumps({**base, **fields})

    lines = [event(1), event(2, stage="answered"), event(3, channel="phone", site=""), event(4, direction="outbound"),
             event(5, site=""), event(6)]
    decoded = decode_messages([Message(b"\n".join(lines), partition=3)])
    fresh = decoded.events.filter(pa.array([eid != f"{6:032x}" for eid in decoded.events.column("event_id").to_pylist()]))
    arrivals = walk_in_arrivals(decoded.events, fresh)
    assert [(a.event_id[-1], a.partition, a.stored) for a in arrivals] == [("1", 3, True), ("6", 3, False)]
    assert arrivals[0].at == datetime(2026, 11, 26, 10, tzinfo=timezone.utc).timestamp()


# --------------------------------------------------------------------------- the simulator's spike option


def test_simulator_can_leave_the_spike_out_or_put_it_on_a_chosen_day(tmp_path: Path) -> None:
    quiet = simulate(tmp_path / "quiet", days=3, seed=2, start=date(2026, 5, 19), spike=False)
    assert quiet.spike is None
    placed = simulate(tmp_path / "placed", days=3, seed=2, start=date(2026, 5, 19), spike=date(2026, 5, 21))
    assert placed.spike is not None and placed.spike.day == date(2026, 5, 21) and placed.spike.site == SPIKE_SITE
    assert placed.spike.local_start.hour == SPIKE_HOUR
    on_day = {w.site: w.tickets for w in placed.walk_in if w.day == date(2026, 5, 21)}
    quiet_day = {w.site: w.tickets for w in quiet.walk_in if w.day == date(2026, 5, 21)}
    assert on_day[SPIKE_SITE] > quiet_day[SPIKE_SITE] + placed.spike.arrivals // 2
    with pytest.raises(ValueError, match="2026-05-23 is not an open day"):
        simulate(tmp_path / "bad", days=7, seed=2, start=date(2026, 5, 18), spike=date(2026, 5, 23))

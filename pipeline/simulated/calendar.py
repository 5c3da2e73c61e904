"""The simulated municipality's calendar and demand: opening hours, how arrivals spread over
weekdays and hours, and Poisson arrival times in local time (Europe/Copenhagen, DST included)."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

TIMEZONE = "Europe/Copenhagen"


TZ = ZoneInfo(TIMEZONE)


# Opening hours per weekday (Monday = 0), local time. Weekends and public holidays closed.
PHONE_HOURS: dict[int, tuple[time, time]] = {
    0: (time(9), time(15)),
    1: (time(9), time(15)),
    2: (time(9), time(15)),
    3: (time(9), time(17)),
    4: (time(9), time(13)),
}


WALK_IN_HOURS: dict[int, tuple[time, time]] = {
    0: (time(10), time(15)),
    1: (time(10), time(15)),
    2: (time(10), time(15)),
    3: (time(10), time(17, 30)),
    4: (time(10), time(13)),
}


# Demand: Monday busiest, a morning peak, a second small bump on Thursday afternoon.
WEEKDAY_DEMAND = {0: 1.35, 1: 1.05, 2: 0.95, 3: 1.0, 4: 0.85}


PHONE_HOUR_DEMAND = {9: 1.3, 10: 1.4, 11: 1.2, 12: 0.9, 13: 0.85, 14: 0.75, 15: 0.65, 16: 0.6}


WALK_IN_HOUR_DEMAND = {10: 1.2, 11: 1.3, 12: 1.0, 13: 0.9, 14: 0.8, 15: 0.75, 16: 0.85, 17: 0.7}


def default_start(today: date) -> date:
    """The Monday of the week before `today`'s week: the last full week, a counting week."""
    return today - timedelta(days=today.weekday() + 7)


def open_days(days: list[date]) -> list[date]:
    """Those of `days` with opening hours that are no Danish public holiday: staff are at work."""
    closed = holidays.Denmark(years=sorted({d.year for d in days}))
    return [d for d in days if d.weekday() in PHONE_HOURS and d not in closed]


def local_epoch(day: date, clock: time) -> int:
    return int(datetime.combine(day, clock, tzinfo=TZ).timestamp())


def poisson_count(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the means here are small)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def poisson_times(rng: random.Random, start: float, end: float, per_hour: float) -> list[float]:
    """Arrival instants of a Poisson process with `per_hour` arrivals in [start, end)."""
    out: list[float] = []
    if per_hour <= 0:
        return out
    rate = per_hour / 3600.0
    t = start + rng.expovariate(rate)
    while t < end:
        out.append(t)
        t += rng.expovariate(rate)
    return out


def opening_segments(day: date, opens: time, closes: time) -> list[tuple[int, int, int]]:
    """(local hour, start epoch, end epoch) for each clock hour (or part) of the opening hours."""
    out = []
    cur = datetime.combine(day, opens)
    end = datetime.combine(day, closes)  # opening hours never run past midnight
    while cur < end:
        nxt = min(cur.replace(minute=0, second=0) + timedelta(hours=1), end)
        out.append((cur.hour, local_epoch(day, cur.time()), local_epoch(day, nxt.time())))
        cur = nxt
    return out


def mean_load(hours: dict[int, tuple[time, time]], hour_demand: dict[int, float]) -> float:
    """Mean weekday x hour demand factor over an open week, weighted by open minutes."""
    total = minutes = 0.0
    for wd, (opens, closes) in hours.items():
        for h in range(opens.hour, closes.hour + (1 if closes.minute else 0)):
            lo = max(opens.hour * 60 + opens.minute, h * 60)
            hi = min(closes.hour * 60 + closes.minute, (h + 1) * 60)
            total += WEEKDAY_DEMAND[wd] * hour_demand[h] * (hi - lo)
            minutes += hi - lo
    return total / minutes


def utc_offset(day: date) -> int:
    """Seconds east of UTC at noon; no DST change falls inside opening hours."""
    offset = datetime.combine(day, time(12), tzinfo=TZ).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())

"""The ticket machine: walk-ins at the citizen service centres, as its daily export records them.

Files written into `out_dir`: `tickets-YYYY-MM-DD.csv`, one export per open day,
`;`-separated, local time. The last one carries three malformed rows on purpose.

Each visitor draws a ticket for a service, waits for the first free counter and is served,
sent on, or gone when called; long queues send more people home. Each ticket is counted under
the task and department the municipality means by its service (catalogue.py). One site can
have a spike: four times its busiest normal hour, answered by extra counters after a while.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pipeline.simulated.calendar import (
    TZ,
    WALK_IN_HOUR_DEMAND,
    WALK_IN_HOURS,
    WEEKDAY_DEMAND,
    local_epoch,
    opening_segments,
    poisson_times,
    utc_offset,
)
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.truth import SourceTally, Spike, StageTotals, WalkInStats

TICKET_SYSTEM = "tickets"
TICKET_HEADER = "ticket;service;site;issued_at;called_at;finished_at;counter;outcome"
TICKET_OUTCOMES = ("served", "no_show", "transferred", "removed")
SERVED_OUTCOMES, GAVE_UP_OUTCOMES = ("served", "transferred"), ("no_show", "removed")

# Ticket service -> (share, ticket letter). `Andet` (anything else) has no task on purpose (catalogue.py).
TICKET_SERVICES: dict[str, tuple[float, str]] = {
    "Pas": (0.32, "A"),
    "Kørekort": (0.18, "B"),
    "Sundhedskort": (0.12, "C"),
    "Flytning": (0.08, "D"),
    "Pension": (0.08, "E"),
    "Jobcenter": (0.12, "F"),
    "Andet": (0.10, "G"),
}
UNMAPPED_SERVICE = "Andet"
# Site -> (tickets per hour at demand factor 1, counters open).
SITES: dict[str, tuple[float, int]] = {
    "Rådhuset": (55.0, 9),
    "Borgerservice Syd": (30.0, 6),
    "Hovedbiblioteket": (20.0, 4),
}
SPIKE_SITE = "Rådhuset"
SPIKE_HOUR = 11
SPIKE_FACTOR = 4.0  # times the busiest weekday's normal rate for that hour at that site
SPIKE_EXTRA_COUNTERS = 6  # the duty lead opens more counters ...
SPIKE_RESPONSE_SECONDS = 20 * 60  # ... twenty minutes into the spike


@dataclass(slots=True)
class Ticket:
    ticket: str
    service: str
    site: str
    issued: int  # UTC epoch seconds
    called: int | None
    finished: int | None
    counter: str
    outcome: str


class TicketMachine:
    """Tickets of each open day at every site, drawn from the run's shared random stream, with the
    events the ticket connector will make of them counted in `tally`."""

    def __init__(self, rng: random.Random, tally: SourceTally) -> None:
        self.rng = rng
        self.tally = tally
        self.by_day: list[tuple[date, list[Ticket]]] = []  # per open day so far

    def day(self, day: date, spike: bool) -> list[Ticket]:
        """The tickets of one open day at every site, in order of issue, with the spike at SPIKE_SITE's
        SPIKE_HOUR when `spike`; kept for `write`, their events tallied."""
        tickets = self._draw(day, (SPIKE_SITE, SPIKE_HOUR) if spike else None)
        self.by_day.append((day, tickets))
        for ticket in tickets:
            _ticket_events(ticket, *meaning("ticket_service", ticket.service), self.tally)
        return tickets

    def _draw(self, day: date, spike: tuple[str, int] | None) -> list[Ticket]:
        rng = self.rng
        opens, closes = WALK_IN_HOURS[day.weekday()]
        services = list(TICKET_SERVICES)
        weights = [share for share, _ in TICKET_SERVICES.values()]
        tickets: list[Ticket] = []
        for site, (per_hour, n_counters) in SITES.items():
            arrivals: list[int] = []
            for hour, seg_start, seg_end in opening_segments(day, opens, closes):
                if spike == (site, hour):
                    rate = SPIKE_FACTOR * _busiest_rate(site, hour)
                else:
                    rate = per_hour * WEEKDAY_DEMAND[day.weekday()] * WALK_IN_HOUR_DEMAND[hour]
                arrivals.extend(int(t) for t in poisson_times(rng, seg_start, seg_end, rate))
            counters = [local_epoch(day, opens)] * n_counters
            if spike and spike[0] == site:
                extra_from = local_epoch(day, time(spike[1])) + SPIKE_RESPONSE_SECONDS
                counters += [extra_from] * SPIKE_EXTRA_COUNTERS
            numbers: Counter[str] = Counter()
            for issued in arrivals:
                service = rng.choices(services, weights)[0]
                letter = TICKET_SERVICES[service][1]
                numbers[letter] += 1
                ticket = f"{letter}{numbers[letter]:03d}"
                idx = min(range(len(counters)), key=counters.__getitem__)
                # A long queue sends people home before they are called: more no-shows.
                expected_wait = max(0, counters[idx] - issued)
                p_no_show = 0.05 + min(0.25, 0.25 * expected_wait / 7200)
                r = rng.random()
                outcome = (
                    "removed" if r < 0.02
                    else "no_show" if r < 0.02 + p_no_show
                    else "transferred" if r < 0.05 + p_no_show
                    else "served"
                )
                if outcome == "removed":
                    tickets.append(Ticket(ticket, service, site, issued, None, None, "", outcome))
                    continue
                called = max(issued, counters[idx]) + rng.randint(0, 20)
                if outcome == "no_show":
                    busy = rng.randint(60, 120)  # the clerk calls again, then moves on
                    counters[idx] = called + busy
                    tickets.append(Ticket(ticket, service, site, issued, called, None, str(idx + 1), outcome))
                    continue
                if outcome == "transferred":
                    duration = rng.randint(90, 300)
                else:
                    duration = int(min(1500, max(60, rng.lognormvariate(math.log(300), 0.5))))
                finished = called + duration
                counters[idx] = finished + rng.randint(10, 40)
                tickets.append(Ticket(ticket, service, site, issued, called, finished, str(idx + 1), outcome))
        site_order = {s: i for i, s in enumerate(SITES)}
        tickets.sort(key=lambda t: (t.issued, site_order[t.site], t.ticket))
        return tickets

    def write(self, out_dir: Path) -> None:
        """One export per open day so far; the last gets the malformed rows."""
        tally = self.tally
        for i, (day, tickets) in enumerate(self.by_day):
            offset = utc_offset(day)
            rows = [
                ";".join((t.ticket, t.service, t.site, _local(t.issued, offset), _local(t.called, offset),
                          _local(t.finished, offset), t.counter, t.outcome))
                for t in tickets
            ]
            name = f"tickets-{day.isoformat()}.csv"
            if i == len(self.by_day) - 1:
                bad = _malformed_ticket_rows(day)
                for j, row in enumerate(bad):
                    position = min(len(rows), (j + 1) * len(rows) // 4)
                    rows.insert(position, row)
                tally.rejected_at += [f"{name}:{number}" for number, row in enumerate(rows, start=2) if row in bad]
            (out_dir / name).write_text("\n".join([TICKET_HEADER, *rows]) + "\n", encoding="utf-8", newline="\n")
            tally.files.append(name)
            tally.records += 1 + len(rows)
            tally.skipped["header"] += 1


def _busiest_rate(site: str, hour: int) -> float:
    return SITES[site][0] * max(WEEKDAY_DEMAND.values()) * WALK_IN_HOUR_DEMAND[hour]


def spike_truth(day: date, tickets: list[Ticket]) -> Spike:
    """The spike of a day drawn with one: arrivals at SPIKE_SITE in SPIKE_HOUR against its normal rate."""
    start, end = local_epoch(day, time(SPIKE_HOUR)), local_epoch(day, time(SPIKE_HOUR + 1))
    return Spike(
        site=SPIKE_SITE,
        day=day,
        local_start=datetime.combine(day, time(SPIKE_HOUR), tzinfo=TZ),
        local_end=datetime.combine(day, time(SPIKE_HOUR + 1), tzinfo=TZ),
        arrivals=sum(1 for t in tickets if t.site == SPIKE_SITE and start <= t.issued < end),
        normal_per_hour=_busiest_rate(SPIKE_SITE, SPIKE_HOUR),
    )


def _malformed_ticket_rows(day: date) -> list[str]:
    d = day.isoformat()
    return [
        f"X901;Pas;Rådhuset;{d} 10:15:00;{d} 10:20:00",  # wrong column count
        f"X902;Pas;Rådhuset;{d} 25:61:00;{d} 10:20:00;{d} 10:25:00;1;served",  # bad timestamp
        f"X903;Pas;Rådhuset;{d} 10:16:00;{d} 10:21:00;{d} 10:27:00;2;lost",  # unknown outcome
    ]


def walk_in_stats(day: date, tickets: list[Ticket]) -> list[WalkInStats]:
    """Each site's queue KPIs on `day`, from that day's tickets."""
    return [_site_stats(day, site, [t for t in tickets if t.site == site]) for site in SITES]


def walk_in_totals(tickets: list[Ticket]) -> StageTotals:
    """Events per stage the ticket connector should emit for `tickets`."""
    return StageTotals(
        arrived=len(tickets),
        answered=sum(1 for t in tickets if t.outcome in SERVED_OUTCOMES),
        closed=sum(1 for t in tickets if t.outcome in SERVED_OUTCOMES),
        abandoned=sum(1 for t in tickets if t.outcome in GAVE_UP_OUTCOMES),
    )


def _site_stats(day: date, site: str, tickets: list[Ticket]) -> WalkInStats:
    waits = [t.called - t.issued for t in tickets if t.called is not None]
    served_waits = [t.called - t.issued for t in tickets if t.called is not None and t.finished is not None]
    by = Counter(t.outcome for t in tickets)
    return WalkInStats(
        day=day,
        site=site,
        tickets=len(tickets),
        served=by["served"],
        no_shows=by["no_show"],
        removed=by["removed"],
        transferred=by["transferred"],
        average_wait_seconds=sum(waits) / len(waits) if waits else None,
        answered_average_wait_seconds=sum(served_waits) / len(served_waits) if served_waits else None,
    )


def _local(epoch: int | None, offset: int) -> str:
    if epoch is None:
        return ""
    return (datetime(1970, 1, 1) + timedelta(seconds=epoch + offset)).strftime("%Y-%m-%d %H:%M:%S")


def _ticket_events(ticket: Ticket, task: str, department: str, tally: SourceTally) -> None:
    """The events the ticket connector emits for one row: issued, called (answered), finished (closed;
    a transfer is not resolved), or given up when called in vain (no-show) or at issue (removed)."""
    t, site = ticket, ticket.site
    inquiry = f"{site}|{t.ticket}|{t.issued}"
    tally.event(t.issued, "walk_in", "inbound", "arrived", task, department, site, queue=t.service, inquiry=inquiry)
    tally.stay("walk_in", site, t.issued, t.called if t.called is not None else t.issued)
    if t.outcome in SERVED_OUTCOMES:
        assert t.called is not None and t.finished is not None
        tally.event(t.called, "walk_in", "inbound", "answered", task, department, site, queue=t.service,
                    wait=t.called - t.issued, inquiry=inquiry)
        tally.event(t.finished, "walk_in", "inbound", "closed", task, department, site, queue=t.service,
                    handle=t.finished - t.called, resolved=False if t.outcome == "transferred" else None, inquiry=inquiry)
    else:  # no_show, removed
        gave_up = t.called if t.called is not None else t.issued
        tally.event(gave_up, "walk_in", "inbound", "abandoned", task, department, site, queue=t.service,
                    wait=gave_up - t.issued, inquiry=inquiry)



"""A simulated municipality: phone queue and ticket-machine logs, with the answers known.

It stands where the real PBX and ticket machine stand in the dataflow: it writes the
files the Asterisk and ticket connectors read, and beside them `ground_truth.json`,
computed from its own in-memory model, that pipeline tests compare their results with.

Files written into `out_dir`:

- `queue_log` and, for a run of more than one open day, `queue_log-<YYYYMMDD>.gz`:
  an Asterisk queue_log rotated before the last open day (the plain file is the "live"
  one and holds that day; the gzip file, named after the first day of the run, holds
  every earlier day). The plain file carries six malformed lines on purpose.
- `tickets-YYYY-MM-DD.csv`: one ticket-machine export per open day, `;`-separated,
  local time. The last one carries three malformed rows on purpose.
- `ground_truth.json`: `GroundTruth.model_dump(mode="json")`.

Determinism: one `random.Random(seed)` drives everything, in a fixed order; nothing reads
the clock except `start=None`, which means `default_start(date.today())`.
"""

from __future__ import annotations

import bisect
import gzip
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field

from connectors.mapping import MappingRules, load_mapping
from connectors.privacy import normalise_phone_number
from schemas import UNCLASSIFIED

TIMEZONE = "Europe/Copenhagen"
TZ = ZoneInfo(TIMEZONE)
SERVICE_LEVEL_SECONDS = 20
DEFAULT_MAPPING_FILE = Path(__file__).resolve().parent.parent / "deploy" / "mapping.yaml"
GROUND_TRUTH_FILE = "ground_truth.json"
QUEUE_LOG_FILE = "queue_log"
TICKET_HEADER = "ticket;service;site;issued_at;called_at;finished_at;counter;outcome"
TICKET_OUTCOMES = ("served", "no_show", "transferred", "removed")

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
PHONE_CALLS_PER_HOUR = 300.0  # at demand factor 1: about 10,000 calls in an ordinary week

# Queue name -> share of calls. `omstilling` (switchboard) is deliberately unmapped.
PHONE_QUEUES: dict[str, float] = {
    "pas": 0.15,
    "koerekort": 0.08,
    "sundhedskort": 0.07,
    "flytning": 0.07,
    "pension": 0.10,
    "boligstoette": 0.07,
    "jobcenter": 0.15,
    "pladsanvisning": 0.08,
    "byggesag": 0.07,
    "affald": 0.08,
    "omstilling": 0.08,
}
UNMAPPED_QUEUE = "omstilling"
# Agent pools: which queues a team answers, and the first extension of the team.
AGENT_TEAMS: dict[str, tuple[tuple[str, ...], int]] = {
    "borgerservice": (("pas", "koerekort", "sundhedskort", "flytning", "pension", "boligstoette", "omstilling"), 2001),
    "jobcenter": (("jobcenter",), 3001),
    "pladsanvisning": (("pladsanvisning",), 4001),
    "teknik": (("byggesag", "affald"), 5001),
}
QUEUE_TIMEOUT_SECONDS = 600  # EXITWITHTIMEOUT after ten minutes in the queue

# Ticket service -> (share, ticket letter). `Andet` is deliberately unmapped.
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

# Danish mobile prefixes only: numbers starting 2-5 never occur inside the 10-digit epochs
# (17xx..18xx) that fill the logs, so a privacy test can grep for them without false hits.
PHONE_PREFIXES = ("20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "40", "41", "42", "50", "51", "52", "53")


# --------------------------------------------------------------------------- ground truth


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InquiryCount(_Model):
    """Inbound inquiries counted at arrival, in the same dimensions the pipeline aggregates."""

    day: date = Field(description="Local (Europe/Copenhagen) date of arrival.")
    channel: Literal["phone", "walk_in"]
    task: str = Field(description="KLE code as deploy/mapping.yaml maps it, or 'unclassified'.")
    department: str = Field(description="Department as mapped; empty when unclassified.")
    site: str = Field(description="Walk-in site; empty for phone.")
    count: int


class PhoneStats(_Model):
    """Queue KPIs with the BRIEF's definitions; rates are None when their denominator is 0."""

    offered: int = Field(description="ENTERQUEUE lines.")
    answered: int = Field(description="CONNECT lines.")
    abandoned: int = Field(description="ABANDON + EXITWITHTIMEOUT + EXITWITHKEY + EXITEMPTY lines.")
    transferred: int = Field(description="BLINDTRANSFER lines.")
    service_level: float | None = Field(description="answered with holdtime <= 20 s / (answered + abandoned).")
    abandonment_rate: float | None = Field(description="abandoned / (answered + abandoned).")
    average_speed_of_answer: float | None = Field(description="Mean holdtime of answered calls, seconds.")
    average_handle_time: float | None = Field(description="Mean calltime of COMPLETE*/BLINDTRANSFER, seconds.")


class PhoneTruth(_Model):
    by_day: dict[date, PhoneStats] = Field(description="Open days only, keyed by local date.")
    overall: PhoneStats


class WalkInStats(_Model):
    day: date
    site: str
    tickets: int = Field(description="Tickets issued (every valid row, any outcome).")
    served: int
    no_shows: int
    removed: int
    transferred: int
    average_wait_seconds: float | None = Field(description="Mean called_at - issued_at over rows with called_at.")


class Spike(_Model):
    site: str
    day: date
    local_start: datetime = Field(description="Aware local time (ISO 8601 with UTC offset).")
    local_end: datetime
    arrivals: int = Field(description="Tickets issued at the site in [local_start, local_end).")
    normal_per_hour: float = Field(description="The busiest weekday's normal rate for that hour at that site.")


class StageTotals(_Model):
    arrived: int
    answered: int
    closed: int
    abandoned: int


class PersonalData(_Model):
    phone_numbers: list[str] = Field(
        description="Every distinct caller number written (as written, and its 8-digit form), sorted. "
        "Channel names such as Local/2004@from-internal/n are internal extensions, not listed."
    )


class GroundTruth(_Model):
    """What the simulated logs contain, known without parsing them."""

    municipality: str
    seed: int
    start: date
    days: int
    timezone: str = TIMEZONE
    service_level_seconds: int = SERVICE_LEVEL_SECONDS
    inquiries: list[InquiryCount]
    phone: PhoneTruth
    walk_in: list[WalkInStats]
    spike: Spike | None = Field(description="None when the run has no open day.")
    malformed: dict[str, int] = Field(description="Lines/rows written malformed on purpose, per file kind.")
    personal_data: PersonalData
    totals: dict[Literal["phone", "walk_in"], StageTotals] = Field(
        description="Events per stage a connector should emit for the valid records."
    )
    files: list[str] = Field(description="Files written into out_dir, except ground_truth.json.")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=False)

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- model


@dataclass(slots=True)
class _Call:
    callid: str
    queue: str
    enter: int  # UTC epoch seconds
    callerid: str
    outcome: str  # ENTERQUEUE-closing verb: COMPLETECALLER, COMPLETEAGENT, BLINDTRANSFER, ABANDON, ...
    hold: int = 0  # holdtime for answered, waittime for abandoned
    talk: int = 0
    agent: str = ""
    origposition: int = 1


@dataclass(slots=True)
class _Ticket:
    ticket: str
    service: str
    site: str
    issued: int  # UTC epoch seconds
    called: int | None
    finished: int | None
    counter: str
    outcome: str


@dataclass(slots=True)
class _Agent:
    name: str
    free_at: int
    pause: tuple[int, int] | None


@dataclass
class _Lines:
    """queue_log lines of one day, sorted by (epoch, order written)."""

    items: list[tuple[int, int, bytes]] = field(default_factory=list)

    def add(self, epoch: int, *fields: object) -> None:
        text = "|".join([str(epoch), *(str(f) for f in fields)])
        self.items.append((epoch, len(self.items), text.encode()))

    def sorted(self) -> list[tuple[int, bytes]]:
        return [(e, line) for e, _, line in sorted(self.items)]


def default_start(today: date) -> date:
    """The Monday of the week before `today`'s week: the last full week, a counting week."""
    return today - timedelta(days=today.weekday() + 7)


def _epoch(day: date, clock: time) -> int:
    return int(datetime.combine(day, clock, tzinfo=TZ).timestamp())


def _poisson_times(rng: random.Random, start: int, end: int, per_hour: float) -> list[float]:
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


def _segments(day: date, opens: time, closes: time) -> list[tuple[int, int, int]]:
    """(local hour, start epoch, end epoch) for each clock hour (or part) of the opening hours."""
    out = []
    cur = datetime.combine(day, opens)
    end = datetime.combine(day, closes)  # opening hours never run past midnight
    while cur < end:
        nxt = min(cur.replace(minute=0, second=0) + timedelta(hours=1), end)
        out.append((cur.hour, _epoch(day, cur.time()), _epoch(day, nxt.time())))
        cur = nxt
    return out


class _Simulator:
    def __init__(self, seed: int, start: date, days: int, mapping: MappingRules) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.days = [start + timedelta(days=i) for i in range(days)]
        self.mapping = mapping
        years = sorted({d.year for d in self.days})
        self.holidays = holidays.Denmark(years=years)
        self.open_days = [d for d in self.days if d.weekday() in PHONE_HOURS and d not in self.holidays]
        self.uid = self.rng.randint(1000, 9000)  # channel counter: the part after the dot in unique ids
        self.numbers_seen: list[str] = []  # 8-digit numbers that called earlier in the run
        self.written_numbers: set[str] = set()
        self.mean_phone_load = _mean_load(PHONE_HOURS, PHONE_HOUR_DEMAND)

    # ----------------------------------------------------------------- phone

    def _next_uid(self, epoch: int) -> str:
        self.uid += 1
        return f"{epoch}.{self.uid}"

    def _caller(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.05:
            return ""  # anonymous
        if r < 0.07:
            return f"Local/{rng.randint(2001, 2099)}@from-internal/n"
        if self.numbers_seen and rng.random() < 0.15 / 0.93:
            number = rng.choice(self.numbers_seen)
        else:
            number = rng.choice(PHONE_PREFIXES) + f"{rng.randint(0, 999999):06d}"
            self.numbers_seen.append(number)
        written = "+45" + number if rng.random() < 0.30 else number
        self.written_numbers.add(written)
        return written

    def _team_size(self, queues: tuple[str, ...]) -> int:
        share = sum(PHONE_QUEUES[q] for q in queues)
        peak = PHONE_CALLS_PER_HOUR * max(WEEKDAY_DEMAND.values()) * max(PHONE_HOUR_DEMAND.values()) * share
        erlangs = peak * 260 / 3600  # ~260 s mean handle time
        return math.ceil(erlangs * 1.25) + 2

    def phone_day(self, day: date) -> tuple[list[_Call], _Lines]:
        rng = self.rng
        lines = _Lines()
        opens, closes = PHONE_HOURS[day.weekday()]
        open_epoch = _epoch(day, opens)
        close_epoch = _epoch(day, closes)

        # Housekeeping at opening: queues start, agents log in and join their queues.
        lines.add(open_epoch, "NONE", "NONE", "NONE", "QUEUESTART", "")
        teams: dict[str, list[_Agent]] = {}
        queue_team: dict[str, str] = {}
        for team, (queues, first_ext) in AGENT_TEAMS.items():
            agents = []
            for i in range(self._team_size(queues)):
                name = f"SIP/{first_ext + i}"
                pause = None
                if rng.random() < 0.5:  # lunch break, if it fits in the day
                    p_start = _epoch(day, time(11)) + rng.randrange(0, 90 * 60, 60)
                    p_end = p_start + 30 * 60
                    if p_end <= close_epoch:
                        pause = (p_start, p_end)
                agents.append(_Agent(name, open_epoch, pause))
                lines.add(open_epoch, "NONE", "NONE", name, "AGENTLOGIN", f"{name}-{rng.randrange(16**8):08x}")
                for q in queues:
                    lines.add(open_epoch, "NONE", q, name, "ADDMEMBER", "")
                if pause:
                    lines.add(pause[0], "NONE", "NONE", name, "PAUSE", "Frokost")
                    lines.add(pause[1], "NONE", "NONE", name, "UNPAUSE", "Frokost")
            teams[team] = agents
            for q in queues:
                queue_team[q] = team

        # Arrivals: a Poisson process per clock hour, queue chosen by share.
        queue_names = list(PHONE_QUEUES)
        queue_weights = list(PHONE_QUEUES.values())
        arrivals: list[tuple[int, str, float]] = []
        for hour, seg_start, seg_end in _segments(day, opens, closes):
            load = WEEKDAY_DEMAND[day.weekday()] * PHONE_HOUR_DEMAND[hour]
            for t in _poisson_times(rng, seg_start, seg_end, PHONE_CALLS_PER_HOUR * load):
                arrivals.append((int(t), rng.choices(queue_names, queue_weights)[0], load / self.mean_phone_load))

        waiting: dict[str, list[int]] = {q: [] for q in PHONE_QUEUES}  # leave times of calls in queue
        calls: list[_Call] = []
        for enter, queue, load in arrivals:
            in_queue = waiting[queue]
            del in_queue[: bisect.bisect_right(in_queue, enter)]
            origposition = len(in_queue) + 1
            call = _Call(self._next_uid(enter), queue, enter, self._caller(), "", origposition=origposition)
            lines.add(enter, call.callid, queue, "NONE", "ENTERQUEUE", "", call.callerid, origposition)

            p_abandon = min(0.22, max(0.04, 0.10 * load))
            r = rng.random()
            if r < p_abandon:
                leave = self._abandon(call, lines, in_queue, load, teams[queue_team[queue]])
            else:
                leave = self._answer(call, lines, load, teams[queue_team[queue]])
            bisect.insort(in_queue, leave)
            calls.append(call)
        return calls, lines

    def _abandon(self, call: _Call, lines: _Lines, in_queue: list[int], load: float, agents: list[_Agent]) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.72:
            call.outcome = "ABANDON"
            call.hold = int(5 + rng.expovariate(1 / (70 * load)))
            call.hold = min(call.hold, QUEUE_TIMEOUT_SECONDS - 1)
        elif r < 0.86:
            call.outcome = "EXITWITHKEY"
            call.hold = int(10 + rng.expovariate(1 / 60))
            call.hold = min(call.hold, QUEUE_TIMEOUT_SECONDS - 1)
        else:
            call.outcome = "EXITWITHTIMEOUT"
            call.hold = QUEUE_TIMEOUT_SECONDS
        leave = call.enter + call.hold
        position = len(in_queue) - bisect.bisect_right(in_queue, leave) + 1
        if call.hold >= 20 and rng.random() < 0.3:
            lines.add(call.enter + rng.randint(1, call.hold - 16), call.callid, call.queue, rng.choice(agents).name, "RINGNOANSWER", 15000)
        if call.outcome == "EXITWITHKEY":
            lines.add(leave, call.callid, call.queue, "NONE", "EXITWITHKEY", rng.choice("10"), position, call.origposition, call.hold)
        else:
            lines.add(leave, call.callid, call.queue, "NONE", call.outcome, position, call.origposition, call.hold)
        return leave

    def _answer(self, call: _Call, lines: _Lines, load: float, agents: list[_Agent]) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.62:
            wait = rng.expovariate(1 / 6)
        elif r < 0.91:
            wait = 10 + rng.expovariate(1 / 25)
        else:
            wait = 45 + rng.expovariate(1 / 130)
        wait = min(int(wait * load), QUEUE_TIMEOUT_SECONDS - 60)
        transfer = rng.random() < 0.03
        if transfer:
            talk = rng.randint(60, 180)
        else:
            talk = int(min(900, max(60, rng.lognormvariate(math.log(230), 0.55))))
        ringtime = rng.randint(1, 6)

        # Longest-idle agent who is free and whose lunch break the call does not cut into.
        def earliest_start(agent: _Agent) -> tuple[int, int]:
            start = max(call.enter + wait, agent.free_at)
            if agent.pause and start < agent.pause[1] and start + talk > agent.pause[0]:
                start = agent.pause[1]
            return start, agent.free_at

        best = min(agents, key=earliest_start)
        connect = earliest_start(best)[0]
        best.free_at = connect + talk + rng.randint(5, 30)  # wrap-up before the next call

        call.agent = best.name
        call.hold = connect - call.enter
        call.talk = talk
        if call.hold >= 16 + ringtime and rng.random() < 0.12:
            other = rng.choice(agents).name
            lines.add(connect - ringtime - rng.randint(0, call.hold - 16 - ringtime), call.callid, call.queue, other, "RINGNOANSWER", 15000)
        lines.add(connect, call.callid, call.queue, best.name, "CONNECT", call.hold, self._next_uid(connect - ringtime), ringtime)
        end = connect + talk
        if transfer:
            call.outcome = "BLINDTRANSFER"
            exten = rng.choice(("4100", "4200", "4300"))
            lines.add(end, call.callid, call.queue, best.name, "BLINDTRANSFER", exten, "from-internal", call.hold, talk, call.origposition)
        else:
            call.outcome = "COMPLETECALLER" if rng.random() < 0.55 else "COMPLETEAGENT"
            lines.add(end, call.callid, call.queue, best.name, call.outcome, call.hold, talk, call.origposition)
        return connect

    # ----------------------------------------------------------------- walk-ins

    def walk_in_day(self, day: date, spike: tuple[str, int] | None) -> list[_Ticket]:
        rng = self.rng
        opens, closes = WALK_IN_HOURS[day.weekday()]
        services = list(TICKET_SERVICES)
        weights = [share for share, _ in TICKET_SERVICES.values()]
        tickets: list[_Ticket] = []
        for site, (per_hour, n_counters) in SITES.items():
            arrivals: list[int] = []
            for hour, seg_start, seg_end in _segments(day, opens, closes):
                if spike == (site, hour):
                    rate = SPIKE_FACTOR * _busiest_rate(site, hour)
                else:
                    rate = per_hour * WEEKDAY_DEMAND[day.weekday()] * WALK_IN_HOUR_DEMAND[hour]
                arrivals.extend(int(t) for t in _poisson_times(rng, seg_start, seg_end, rate))
            counters = [_epoch(day, opens)] * n_counters
            if spike and spike[0] == site:
                extra_from = _epoch(day, time(spike[1])) + SPIKE_RESPONSE_SECONDS
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
                    tickets.append(_Ticket(ticket, service, site, issued, None, None, "", outcome))
                    continue
                called = max(issued, counters[idx]) + rng.randint(0, 20)
                if outcome == "no_show":
                    busy = rng.randint(60, 120)  # the clerk calls again, then moves on
                    counters[idx] = called + busy
                    tickets.append(_Ticket(ticket, service, site, issued, called, None, str(idx + 1), outcome))
                    continue
                if outcome == "transferred":
                    duration = rng.randint(90, 300)
                else:
                    duration = int(min(1500, max(60, rng.lognormvariate(math.log(300), 0.5))))
                finished = called + duration
                counters[idx] = finished + rng.randint(10, 40)
                tickets.append(_Ticket(ticket, service, site, issued, called, finished, str(idx + 1), outcome))
        site_order = {s: i for i, s in enumerate(SITES)}
        tickets.sort(key=lambda t: (t.issued, site_order[t.site], t.ticket))
        return tickets


def _mean_load(hours: dict[int, tuple[time, time]], hour_demand: dict[int, float]) -> float:
    """Mean weekday x hour demand factor over an open week, weighted by open minutes."""
    total = minutes = 0.0
    for wd, (opens, closes) in hours.items():
        for h in range(opens.hour, closes.hour + (1 if closes.minute else 0)):
            lo = max(opens.hour * 60 + opens.minute, h * 60)
            hi = min(closes.hour * 60 + closes.minute, (h + 1) * 60)
            total += WEEKDAY_DEMAND[wd] * hour_demand[h] * (hi - lo)
            minutes += hi - lo
    return total / minutes


def _busiest_rate(site: str, hour: int) -> float:
    return SITES[site][0] * max(WEEKDAY_DEMAND.values()) * WALK_IN_HOUR_DEMAND[hour]


# --------------------------------------------------------------------------- malformed input


MALFORMED_CALLER = "Jens Jensen <+4529876543>"
MALFORMED_CALLER_NUMBERS = ("+4529876543", "29876543")


def _malformed_queue_log(
    body: list[tuple[int, bytes]], fresh_uids: tuple[str, str], fallback_epoch: int
) -> tuple[list[bytes], int]:
    """Insert six malformed lines into a day's lines. The bad-timestamp ENTERQUEUE carries
    MALFORMED_CALLER (a number and a name), so privacy tests see personal data reach the
    dead-letter path and can check it is stripped there."""
    lines = [line for _, line in body]
    epochs = [e for e, _ in body] or [fallback_epoch]
    n = len(lines)

    def at(frac: float) -> tuple[int, str]:
        i = int(n * frac)
        return i, str(epochs[min(i, len(epochs) - 1)])

    inserts: list[tuple[int, bytes]] = []
    i, e = at(0.2)
    inserts.append((i, f"{e}|abc".encode()))  # too few fields
    i, e = at(0.4)
    inserts.append((i, f"{e[:2]}x{e[3:]}|{fresh_uids[0]}|pas|NONE|ENTERQUEUE||{MALFORMED_CALLER}|1".encode()))
    i, e = at(0.6)
    inserts.append((i, f"{e}|{fresh_uids[1]}|pas|NONE|FROBNICATE|1|2|3".encode()))  # unknown verb
    i, _ = at(0.7)
    inserts.append((i, b"\xff\xfe\xc3\x28 queue \xa0\xa1 log \xe2\x28\xa1"))  # invalid UTF-8
    i, _ = at(0.8)
    inserts.append((i, b""))  # empty line
    for i, raw in sorted(inserts, key=lambda x: x[0], reverse=True):
        lines.insert(i, raw)
    # A writer that was cut off mid-line: too few fields and no final newline.
    truncated = str(epochs[-1] + 1)[:6].encode()
    return lines + [truncated], 6


def _malformed_ticket_rows(day: date) -> list[str]:
    d = day.isoformat()
    return [
        f"X901;Pas;Rådhuset;{d} 10:15:00;{d} 10:20:00",  # wrong column count
        f"X902;Pas;Rådhuset;{d} 25:61:00;{d} 10:20:00;{d} 10:25:00;1;served",  # bad timestamp
        f"X903;Pas;Rådhuset;{d} 10:16:00;{d} 10:21:00;{d} 10:27:00;2;lost",  # unknown outcome
    ]


# --------------------------------------------------------------------------- truth


def _phone_stats(calls: list[_Call]) -> PhoneStats:
    answered = [c for c in calls if c.agent]
    abandoned = [c for c in calls if c.outcome in ("ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY")]
    closed = [c for c in calls if c.outcome in ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER")]
    denominator = len(answered) + len(abandoned)
    within = sum(1 for c in answered if c.hold <= SERVICE_LEVEL_SECONDS)
    return PhoneStats(
        offered=len(calls),
        answered=len(answered),
        abandoned=len(abandoned),
        transferred=sum(1 for c in calls if c.outcome == "BLINDTRANSFER"),
        service_level=within / denominator if denominator else None,
        abandonment_rate=len(abandoned) / denominator if denominator else None,
        average_speed_of_answer=sum(c.hold for c in answered) / len(answered) if answered else None,
        average_handle_time=sum(c.talk for c in closed) / len(closed) if closed else None,
    )


def _walk_in_stats(day: date, site: str, tickets: list[_Ticket]) -> WalkInStats:
    waits = [t.called - t.issued for t in tickets if t.called is not None]
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
    )


def _local(epoch: int | None, offset: int) -> str:
    if epoch is None:
        return ""
    return (datetime(1970, 1, 1) + timedelta(seconds=epoch + offset)).strftime("%Y-%m-%d %H:%M:%S")


def _utc_offset(day: date) -> int:
    """Seconds east of UTC at noon; no DST change falls inside opening hours."""
    offset = datetime.combine(day, time(12), tzinfo=TZ).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


# --------------------------------------------------------------------------- entry point


def simulate(
    out_dir: Path,
    days: int = 7,
    seed: int = 1,
    start: date | None = None,
    municipality: str = "751",
    *,
    mapping_file: Path | None = None,
) -> GroundTruth:
    """Write `days` calendar days of phone and walk-in logs from `start` into `out_dir`.

    Returns the ground truth and writes it as `ground_truth.json`. `start=None` means
    `default_start(date.today())`; everything else is a function of (seed, start, days).
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = start or default_start(date.today())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mapping = load_mapping(mapping_file or DEFAULT_MAPPING_FILE)
    sim = _Simulator(seed, start, days, mapping)

    phone_class = {q: mapping.classify("phone_queue", q) for q in PHONE_QUEUES}
    ticket_class = {s: mapping.classify("ticket_service", s) for s in TICKET_SERVICES}
    spike_day = sim.open_days[len(sim.open_days) // 2] if sim.open_days else None

    inquiries: Counter[tuple[date, str, str, str, str]] = Counter()
    phone_by_day: dict[date, PhoneStats] = {}
    all_calls: list[_Call] = []
    walk_in: list[WalkInStats] = []
    all_tickets: list[_Ticket] = []
    day_lines: list[list[tuple[int, bytes]]] = []
    ticket_files: list[tuple[date, list[_Ticket]]] = []
    spike: Spike | None = None

    for day in sim.open_days:
        calls, lines = sim.phone_day(day)
        day_lines.append(lines.sorted())
        phone_by_day[day] = _phone_stats(calls)
        all_calls.extend(calls)
        for c in calls:
            cls = phone_class[c.queue]
            inquiries[(day, "phone", cls.task, cls.department, "")] += 1

        tickets = sim.walk_in_day(day, (SPIKE_SITE, SPIKE_HOUR) if day == spike_day else None)
        ticket_files.append((day, tickets))
        all_tickets.extend(tickets)
        for site in SITES:
            walk_in.append(_walk_in_stats(day, site, [t for t in tickets if t.site == site]))
        for t in tickets:
            cls = ticket_class[t.service]
            inquiries[(day, "walk_in", cls.task, cls.department, t.site)] += 1
        if day == spike_day:
            s0 = _epoch(day, time(SPIKE_HOUR))
            s1 = _epoch(day, time(SPIKE_HOUR + 1))
            spike = Spike(
                site=SPIKE_SITE,
                day=day,
                local_start=datetime.combine(day, time(SPIKE_HOUR), tzinfo=TZ),
                local_end=datetime.combine(day, time(SPIKE_HOUR + 1), tzinfo=TZ),
                arrivals=sum(1 for t in tickets if t.site == SPIKE_SITE and s0 <= t.issued < s1),
                normal_per_hour=_busiest_rate(SPIKE_SITE, SPIKE_HOUR),
            )

    # ---- files: queue_log rotated before the last open day
    files: list[str] = []
    if len(day_lines) > 1:
        rotated = b"".join(line + b"\n" for lines in day_lines[:-1] for _, line in lines)
        name = f"{QUEUE_LOG_FILE}-{start:%Y%m%d}.gz"
        (out_dir / name).write_bytes(gzip.compress(rotated, mtime=0))
        files.append(name)
    live_body = day_lines[-1] if day_lines else []
    last_epoch = live_body[-1][0] if live_body else _epoch(start, time(9))
    fresh_uids = (f"{last_epoch}.{sim.uid + 1}", f"{last_epoch}.{sim.uid + 2}")  # no real call uses these
    live, bad_lines = _malformed_queue_log(live_body, fresh_uids, last_epoch)
    (out_dir / QUEUE_LOG_FILE).write_bytes(b"\n".join(live))
    files.append(QUEUE_LOG_FILE)

    bad_rows = 0
    for i, (day, tickets) in enumerate(ticket_files):
        offset = _utc_offset(day)
        rows = [
            ";".join((t.ticket, t.service, t.site, _local(t.issued, offset), _local(t.called, offset),
                      _local(t.finished, offset), t.counter, t.outcome))
            for t in tickets
        ]
        if i == len(ticket_files) - 1:
            bad = _malformed_ticket_rows(day)
            for j, row in enumerate(bad):
                rows.insert(min(len(rows), (j + 1) * len(rows) // 4), row)
            bad_rows = len(bad)
        name = f"tickets-{day.isoformat()}.csv"
        (out_dir / name).write_text("\n".join([TICKET_HEADER, *rows]) + "\n", encoding="utf-8", newline="\n")
        files.append(name)

    numbers = set(sim.written_numbers) | {normalise_phone_number(n) for n in sim.written_numbers}
    numbers |= set(MALFORMED_CALLER_NUMBERS)
    abandon_verbs = ("ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY")
    truth = GroundTruth(
        municipality=municipality,
        seed=seed,
        start=start,
        days=days,
        inquiries=[
            InquiryCount(day=k[0], channel=k[1], task=k[2], department=k[3] if k[2] != UNCLASSIFIED else "", site=k[4], count=v)
            for k, v in sorted(inquiries.items())
        ],
        phone=PhoneTruth(by_day=phone_by_day, overall=_phone_stats(all_calls)),
        walk_in=walk_in,
        spike=spike,
        malformed={"queue_log": bad_lines, "tickets": bad_rows},
        personal_data=PersonalData(phone_numbers=sorted(numbers)),
        totals={
            "phone": StageTotals(
                arrived=len(all_calls),
                answered=sum(1 for c in all_calls if c.agent),
                closed=sum(1 for c in all_calls if c.outcome in ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER")),
                abandoned=sum(1 for c in all_calls if c.outcome in abandon_verbs),
            ),
            "walk_in": StageTotals(
                arrived=len(all_tickets),
                answered=sum(1 for t in all_tickets if t.outcome in ("served", "transferred")),
                closed=sum(1 for t in all_tickets if t.outcome in ("served", "transferred")),
                abandoned=sum(1 for t in all_tickets if t.outcome in ("no_show", "removed")),
            ),
        },
        files=files,
    )
    (out_dir / GROUND_TRUTH_FILE).write_text(truth.to_json() + "\n", encoding="utf-8")
    return truth

"""The phone queue: an Asterisk PBX's calls over the open days, as its queue_log records them.

Files written into `out_dir`: `queue_log` and, for a run of more than one open day,
`queue_log-<YYYYMMDD>.gz`: the log rotated before the last open day (the plain file is the
"live" one and holds that day; the gzip file, named after the first day of the run, holds
every earlier day). The plain file carries four malformed lines, a blank one and one with an
event the connector does not know, on purpose.

Callers are phone numbers, not the world's citizens: most call once, some call again about
another matter, and one whose matter was not settled calls the same queue back within days,
which is how first-contact resolution is inferred from the data. Each call is counted under
the task and department the municipality means by its queue (catalogue.py), and keyed by the
8-digit number it comes from, however the PBX writes it.
"""

from __future__ import annotations

import bisect
import gzip
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pipeline.simulated.calendar import (
    PHONE_HOUR_DEMAND,
    PHONE_HOURS,
    TZ,
    WEEKDAY_DEMAND,
    local_epoch,
    mean_load,
    opening_segments,
    poisson_count,
    poisson_times,
)
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.truth import SERVICE_LEVEL_SECONDS, PhoneStats, PlantedData, SourceTally, StageTotals
from pipeline.simulated.world import PHONE_PREFIXES

QUEUE_LOG_FILE = "queue_log"
PBX_SYSTEM = "asterisk"  # source.system of the phone events, as connectors.yaml names it

PHONE_CALLS_PER_HOUR = 300.0  # at demand factor 1: about 10,000 calls in an ordinary week

# Queue name -> share of calls. `omstilling` (the switchboard) has no task on purpose (catalogue.py).
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
# Share of a queue's completed calls that really settle the matter. A caller whose matter is not
# settled calls the same queue again within days (CALLBACK_SHARE of them; the rest write, come
# in or give up), which is how first-contact resolution is inferred from the data. Set so that
# what is measured lands where Glostrup measured it: 79 % in Borgerservice, 58 % overall.
PHONE_RESOLVED: dict[str, float] = {
    "pas": 0.93, "koerekort": 0.93, "sundhedskort": 0.95, "flytning": 0.9, "pension": 0.85, "boligstoette": 0.8,
    "jobcenter": 0.1, "pladsanvisning": 0.15, "byggesag": 0.05, "affald": 0.2, "omstilling": 0.5,
}
CALLBACK_SHARE = 0.85
CALLBACK_DAYS = (1, 5)  # calendar days later (a closed day moves it to the next open one: Mondays fill up)
CALLBACK_DELAY_WEIGHTS = (0.35, 0.25, 0.18, 0.12, 0.10)
CALLBACK_RESOLVED = 0.35  # a call back settles a third of what is left; the hard matters take three calls or more
# Callbacks are part of a queue's calls, not on top of them: new matters arrive at this fraction
# of PHONE_CALLS_PER_HOUR so that the total stays what the demand curves say (0.9: answered, not
# transferred and with a number to call from; a chain of calls back is geometric).
_AGAIN = CALLBACK_SHARE * 0.9
_CALLBACKS_PER_CALL = sum(share * (1 - PHONE_RESOLVED[q]) * _AGAIN / (1 - (1 - CALLBACK_RESOLVED) * _AGAIN)
                          for q, share in PHONE_QUEUES.items())
NEW_MATTER_SHARE = 1 / (1 + _CALLBACKS_PER_CALL)
# Agent pools: which queues a team answers, and the first extension of the team.
AGENT_TEAMS: dict[str, tuple[tuple[str, ...], int]] = {
    "borgerservice": (("pas", "koerekort", "sundhedskort", "flytning", "pension", "boligstoette", "omstilling"), 2001),
    "jobcenter": (("jobcenter",), 3001),
    "pladsanvisning": (("pladsanvisning",), 4001),
    "teknik": (("byggesag", "affald"), 5001),
}
QUEUE_TIMEOUT_SECONDS = 600  # EXITWITHTIMEOUT after ten minutes in the queue
ABANDON_VERBS = ("ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY")
CLOSING_VERBS = ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER")


@dataclass(slots=True)
class Call:
    callid: str
    queue: str
    enter: int  # UTC epoch seconds
    callerid: str
    outcome: str  # ENTERQUEUE-closing verb: COMPLETECALLER, COMPLETEAGENT, BLINDTRANSFER, ABANDON, ...
    hold: int = 0  # holdtime for answered, waittime for abandoned
    talk: int = 0
    agent: str = ""
    origposition: int = 1
    number: str | None = None  # the 8-digit number called from; None when withheld or an internal channel


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


class PhoneQueue:
    """Calls of each open day, drawn from the run's shared random stream, with the queue_log lines
    they leave and the events the queue_log connector will make of them counted in `tally`."""

    def __init__(self, rng: random.Random, days: list[date], open_days: list[date], tally: SourceTally) -> None:
        self.rng = rng
        self.days = days
        self.open_days = open_days
        self.tally = tally
        self.uid = self.rng.randint(1000, 9000)  # channel counter: the part after the dot in unique ids
        self.numbers_seen: list[str] = []  # 8-digit numbers that called earlier in the run
        self.callbacks: dict[date, list[tuple[int, str, str, str]]] = {}  # day -> (epoch, written, number, queue)
        self.written_numbers: set[tuple[str, str]] = set()  # (as written, 8-digit number)
        self.mean_phone_load = mean_load(PHONE_HOURS, PHONE_HOUR_DEMAND)
        self.day_lines: list[list[tuple[int, bytes]]] = []  # per open day so far, sorted

    def _next_uid(self, epoch: int) -> str:
        self.uid += 1
        return f"{epoch}.{self.uid}"

    def _callback(self, call: Call) -> None:
        """A caller whose matter was not settled: calls the same queue again on a later open day."""
        rng = self.rng
        delay = rng.choices(range(CALLBACK_DAYS[0], CALLBACK_DAYS[1] + 1), CALLBACK_DELAY_WEIGHTS)[0]
        wanted = datetime.fromtimestamp(call.enter, TZ).date() + timedelta(days=delay)
        day = next((d for d in self.open_days if d >= wanted), None)
        if day is None:
            return
        opens, closes = PHONE_HOURS[day.weekday()]
        at = rng.randrange(local_epoch(day, opens), local_epoch(day, closes) - 600)
        if at - call.enter < 7 * 86400 - 3600:
            self.callbacks.setdefault(day, []).append((at, call.callerid, call.number, call.queue))

    def _callbacks_from_before(self, day: date, opens: time, closes: time, fresh: int) -> None:
        """Callers whose first call was before the run: a log starts mid-stream, so its first days get
        the callbacks of days it does not hold, fewer each day as the run's own take over."""
        rng = self.rng
        offset = (day - self.days[0]).days
        before = sum(CALLBACK_DELAY_WEIGHTS[offset:])  # of the calls back due today, those of days before the run
        if not before:
            return
        for queue, share in PHONE_QUEUES.items():
            first = share * (1 - PHONE_RESOLVED[queue]) * _AGAIN
            mean = fresh * first / (1 - (1 - CALLBACK_RESOLVED) * _AGAIN) * before
            for _ in range(poisson_count(rng, mean)):
                number = rng.choice(PHONE_PREFIXES) + f"{rng.randint(0, 999999):06d}"
                self.numbers_seen.append(number)
                written = "+45" + number if rng.random() < 0.30 else number
                self.written_numbers.add((written, number))
                at = rng.randrange(local_epoch(day, opens), local_epoch(day, closes) - 600)
                self.callbacks.setdefault(day, []).append((at, written, number, queue))

    def _caller(self) -> tuple[str, str | None]:
        """A new call's caller id as the PBX writes it, and the number it is (None: none to call back)."""
        rng = self.rng
        r = rng.random()
        if r < 0.05:
            return "", None  # anonymous
        if r < 0.07:
            return f"Local/{rng.randint(2001, 2099)}@from-internal/n", None
        if self.numbers_seen and rng.random() < 0.06 / 0.93:  # about another matter; calls back come on top
            number = rng.choice(self.numbers_seen)
        else:
            number = rng.choice(PHONE_PREFIXES) + f"{rng.randint(0, 999999):06d}"
            self.numbers_seen.append(number)
        written = "+45" + number if rng.random() < 0.30 else number
        self.written_numbers.add((written, number))
        return written, number

    def _team_size(self, queues: tuple[str, ...]) -> int:
        share = sum(PHONE_QUEUES[q] for q in queues)
        peak = PHONE_CALLS_PER_HOUR * max(WEEKDAY_DEMAND.values()) * max(PHONE_HOUR_DEMAND.values()) * share
        erlangs = peak * 260 / 3600  # ~260 s mean handle time
        return math.ceil(erlangs * 1.25) + 2

    def day(self, day: date) -> list[Call]:
        """The calls of one open day, in order of arrival; their lines are kept for `write`, their events tallied."""
        rng = self.rng
        lines = _Lines()
        opens, closes = PHONE_HOURS[day.weekday()]
        open_epoch = local_epoch(day, opens)
        close_epoch = local_epoch(day, closes)

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
                    p_start = local_epoch(day, time(11)) + rng.randrange(0, 90 * 60, 60)
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
        # (enter, queue, load, caller id as written, number): a new matter's caller is drawn when it calls.
        arrivals: list[tuple[int, str, float, str, str]] = []
        for hour, seg_start, seg_end in opening_segments(day, opens, closes):
            load = WEEKDAY_DEMAND[day.weekday()] * PHONE_HOUR_DEMAND[hour]
            for t in poisson_times(rng, seg_start, seg_end, PHONE_CALLS_PER_HOUR * NEW_MATTER_SHARE * load):
                arrivals.append((int(t), rng.choices(queue_names, queue_weights)[0], load / self.mean_phone_load, "", ""))
        self._callbacks_from_before(day, opens, closes, len(arrivals))
        for at, written, number, queue in self.callbacks.pop(day, []):
            hour = datetime.fromtimestamp(at, TZ).hour
            load = WEEKDAY_DEMAND[day.weekday()] * PHONE_HOUR_DEMAND.get(hour, 1.0)
            arrivals.append((at, queue, load / self.mean_phone_load, written, number))
        arrivals.sort()

        waiting: dict[str, list[int]] = {q: [] for q in PHONE_QUEUES}  # leave times of calls in queue
        calls: list[Call] = []
        for enter, queue, load, written, number in arrivals:
            in_queue = waiting[queue]
            del in_queue[: bisect.bisect_right(in_queue, enter)]
            origposition = len(in_queue) + 1
            callid = self._next_uid(enter)
            callerid, caller = (written, number) if written else self._caller()  # a call back, or a new matter
            call = Call(callid, queue, enter, callerid, "", origposition=origposition, number=caller)
            lines.add(enter, call.callid, queue, "NONE", "ENTERQUEUE", "", call.callerid, origposition)

            p_abandon = min(0.22, max(0.04, 0.10 * load))
            r = rng.random()
            if r < p_abandon:
                leave = self._abandon(call, lines, in_queue, load, teams[queue_team[queue]])
            else:
                leave = self._answer(call, lines, load, teams[queue_team[queue]])
                settled = CALLBACK_RESOLVED if written else PHONE_RESOLVED[queue]
                if (call.outcome != "BLINDTRANSFER" and call.number
                        and rng.random() > settled and rng.random() < CALLBACK_SHARE):
                    self._callback(call)
            bisect.insort(in_queue, leave)
            calls.append(call)
        self.day_lines.append(lines.sorted())
        for call in calls:
            _call_events(call, *meaning("phone_queue", call.queue), self.tally)
        return calls

    def _abandon(self, call: Call, lines: _Lines, in_queue: list[int], load: float, agents: list[_Agent]) -> int:
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

    def _answer(self, call: Call, lines: _Lines, load: float, agents: list[_Agent]) -> int:
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

    def write(self, out_dir: Path, planted: PlantedData) -> None:
        """The queue_log of the open days so far, rotated before the last, with the malformed lines; every
        number written, and the malformed line's caller, planted."""
        tally, start = self.tally, self.days[0]
        if len(self.day_lines) > 1:
            rotated = [line for lines in self.day_lines[:-1] for _, line in lines]
            name = f"{QUEUE_LOG_FILE}-{start:%Y%m%d}.gz"
            (out_dir / name).write_bytes(gzip.compress(b"".join(line + b"\n" for line in rotated), mtime=0))
            tally.files.append(name)
            tally.records += len(rotated)
            tally.skipped.update(_housekeeping(rotated))
        live_body = self.day_lines[-1] if self.day_lines else []
        last_epoch = live_body[-1][0] if live_body else local_epoch(start, time(9))
        fresh_uids = (f"{last_epoch}.{self.uid + 1}", f"{last_epoch}.{self.uid + 2}")  # no real call uses these
        live, bad_lines = _malformed_queue_log(live_body, fresh_uids, last_epoch)
        (out_dir / QUEUE_LOG_FILE).write_bytes(b"\n".join(live))
        tally.files.append(QUEUE_LOG_FILE)
        tally.records += len(live)
        # A blank line is no record at all, and an event the connector does not know (a dialler's,
        # QueueMetrics') is skipped by name: both are counted skips, not rejections.
        for number in bad_lines:
            raw = live[number - 1]
            if not raw.strip():
                tally.skipped["blank line"] += 1
            elif b"|FROBNICATE|" in raw:
                tally.skipped["unknown event FROBNICATE"] += 1
            else:
                tally.rejected_at.append(f"{QUEUE_LOG_FILE}:{number}")
        tally.skipped.update(_housekeeping([line for _, line in live_body]))

        for written, number in self.written_numbers:
            planted.phone(written, number)
        for written in MALFORMED_CALLER_NUMBERS:
            planted.phone(written, MALFORMED_CALLER_NUMBER)
        planted.names.add(MALFORMED_CALLER_NAME)


MALFORMED_CALLER_NAME, MALFORMED_CALLER_NUMBER = "Jens Jensen", "29876543"
MALFORMED_CALLER = f"{MALFORMED_CALLER_NAME} <+45{MALFORMED_CALLER_NUMBER}>"
MALFORMED_CALLER_NUMBERS = (f"+45{MALFORMED_CALLER_NUMBER}", MALFORMED_CALLER_NUMBER)  # as written in the line, and plain


def _malformed_queue_log(
    body: list[tuple[int, bytes]], fresh_uids: tuple[str, str], fallback_epoch: int
) -> tuple[list[bytes], list[int]]:
    """Insert four malformed lines, a blank one and one with an unknown event into a day's
    lines; returns the lines and the 1-based line numbers of all six. The bad-timestamp ENTERQUEUE carries MALFORMED_CALLER (a
    number and a name), so privacy tests see personal data reach the dead-letter path and
    can check it is stripped there."""
    lines: list[tuple[bytes, bool]] = [(line, False) for _, line in body]
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
        lines.insert(i, (raw, True))
    # A writer that was cut off mid-line: too few fields and no final newline.
    lines.append((str(epochs[-1] + 1)[:6].encode(), True))
    return [raw for raw, _ in lines], [number for number, (_, bad) in enumerate(lines, start=1) if bad]


def phone_stats(calls: list[Call]) -> PhoneStats:
    """Queue KPIs of `calls` with the BRIEF's definitions."""
    answered = [c for c in calls if c.agent]
    abandoned = [c for c in calls if c.outcome in ABANDON_VERBS]
    closed = [c for c in calls if c.outcome in CLOSING_VERBS]
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


def phone_totals(calls: list[Call]) -> StageTotals:
    """Events per stage the queue_log connector should emit for `calls`."""
    return StageTotals(
        arrived=len(calls),
        answered=sum(1 for c in calls if c.agent),
        closed=sum(1 for c in calls if c.outcome in CLOSING_VERBS),
        abandoned=sum(1 for c in calls if c.outcome in ABANDON_VERBS),
    )


def _call_events(call: Call, task: str, department: str, tally: SourceTally) -> None:
    """The events the queue_log connector emits for one call, each at its own line's time: ENTERQUEUE
    (keyed by the number called from, if there is one), CONNECT after the hold time, COMPLETE* or
    BLINDTRANSFER after the talk time (a transfer is not resolved), or the line that gave up."""
    queue, inquiry = call.queue, f"{call.callid}|{call.queue}"
    tally.event(call.enter, "phone", "inbound", "arrived", task, department, queue=queue,
                requester=call.number, inquiry=inquiry)
    left = call.enter + call.hold
    tally.stay("phone", queue, call.enter, left)
    if call.agent:  # every answered call ends COMPLETE* or BLINDTRANSFER
        tally.event(left, "phone", "inbound", "answered", task, department, queue=queue, wait=call.hold, inquiry=inquiry)
        tally.event(left + call.talk, "phone", "inbound", "closed", task, department, queue=queue, wait=call.hold,
                    handle=call.talk, resolved=False if call.outcome == "BLINDTRANSFER" else None, inquiry=inquiry)
    else:
        tally.event(left, "phone", "inbound", "abandoned", task, department, queue=queue, wait=call.hold, inquiry=inquiry)


def _housekeeping(lines: list[bytes]) -> Counter[str]:
    """Skip reasons of valid queue_log lines that are no stage of a call (the connector's words)."""
    verbs: Counter[str] = Counter()
    for line in lines:
        verb = line.split(b"|", 5)[4].decode()
        if verb not in _CALL_VERBS:
            verbs[f"housekeeping {verb}"] += 1
    return verbs


_CALL_VERBS = frozenset({
    "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER",
    "ABANDON", "EXITWITHKEY", "EXITWITHTIMEOUT", "EXITEMPTY",
})  # fmt: skip



"""A simulated municipality: every source format kanalpuls reads, with the answers known.

It stands where the real systems stand in the dataflow: it writes the files each connector
reads (the phone queue and ticket machine here, the shared mailboxes, website, case-system
exports, IMAP mailboxes and HTTP clients in pipeline/simulated/), and beside them
`ground_truth.json`, counted from its own in-memory model while writing, that pipeline
tests compare their results with. Personal data (CPR numbers, names, e-mail and IP
addresses, phone numbers) is planted on purpose and every planted value is listed.

Files written into `out_dir` (paths relative to it):

- `queue_log` and, for a run of more than one open day, `queue_log-<YYYYMMDD>.gz`:
  an Asterisk queue_log rotated before the last open day (the plain file is the "live"
  one and holds that day; the gzip file, named after the first day of the run, holds
  every earlier day). The plain file carries four malformed lines, a blank one and one
  with an event the connector does not know, on purpose.
- `tickets-YYYY-MM-DD.csv`: one ticket-machine export per open day, `;`-separated,
  local time. The last one carries three malformed rows on purpose.
- `exchange/EXCH01/MSGTRK<YYYYMMDD>00-1.LOG`, `exchange/EXCH02/...`: Exchange message
  tracking logs of two servers, one file per server and UTC day; four malformed rows.
- `web/www.access.log` (nginx combined) and `web/selvbetjening.access.json` (nginx JSON):
  the website and the self-service form platform; three malformed lines in each.
- `exports/henvendelser-YYYY-MM-DD.csv`: the case system's KOMHEN export (letters and
  Digital Post, in and out), one per calendar day; four malformed rows in the last.
- `exports/chat.jsonl`: the chat system's export, one conversation per line, with the
  requester's name; three malformed lines.
- `imap/<mailbox address>/<INBOX|Sent>/NNNN.eml`: RFC 5322 messages to APPEND to an IMAP
  server, numbered in date order per folder; on the last day three the connector must
  reject (unreadable Date, no Date, From without address), one without Message-ID, one
  delivered twice; a reply also filed in INBOX and delivery reports from MAILER-DAEMON.
- `http_events.ndjson`: valid InquiryEvents as a form system, a chat system and Social
  Service's contact-centre platform would POST to /v1/events; `http_events_invalid.ndjson`:
  seven invalid ones, to POST one by one. The contact centre (pipeline/simulated/http.py) is
  the one phone and walk-in source that registers "had been on the website first": its IVR
  and its reception's check-in screen ask. It has queues and a site of its own, apart from
  the queue_log's and the ticket machine's, so nothing is counted twice.
- `connectors.yaml`: a `kanalpuls run --config` file (absolute paths) reading every file
  above except imap/ and http_events*; the one file that names `out_dir`.
  `connector_configs(out_dir)` gives the same as validated config objects.
- `ground_truth.json`: `GroundTruth.model_dump(mode="json")`. What each event carries is
  counted as the connector will emit it (each stage at its own time, registrations, contact
  keys); requesters appear only as opaque ids.

Determinism: one `random.Random(seed)` drives the phone queue and tickets in a fixed order,
and one `random.Random(f"{seed}:<source>")` each other source; nothing reads the clock
except `start=None`, which means `default_start(date.today())`.
"""

from __future__ import annotations

import bisect
import gzip
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import holidays
import yaml
from pydantic import BaseModel

from connectors.asterisk_queue_log import AsteriskQueueLogConfig
from connectors.channel_export import KOMHEN_COLUMNS, ChannelExportColumns, ChannelExportConfig, ExportFormat
from connectors.exchange_tracking import ExchangeTrackingConfig
from connectors.mapping import MappingRules, load_mapping
from connectors.ticket_export import TicketExportConfig
from connectors.web_access_log import AccessLogFormat, WebAccessLogConfig
from pipeline.simulated.calendar import (
    PHONE_HOUR_DEMAND,
    PHONE_HOURS,
    TZ,
    WALK_IN_HOUR_DEMAND,
    WALK_IN_HOURS,
    WEEKDAY_DEMAND,
    default_start,
    local_epoch,
    mean_load,
    opening_segments,
    poisson_count,
    poisson_times,
    utc_offset,
)
from pipeline.simulated.exchange import EXCHANGE_MAILBOXES, EXCHANGE_SYSTEM, Exchange
from pipeline.simulated.exports import CASE_SYSTEM, CHAT_FILE, CHAT_SYSTEM, Exports
from pipeline.simulated.http import CHAT_PLATFORM, CONTACT_CENTRE, FORM_PLATFORM, write_http
from pipeline.simulated.imap import IMAP_SYSTEM, Imap
from pipeline.simulated.truth import (
    REGISTRATIONS,
    SERVICE_LEVEL_SECONDS,
    SOURCES,
    EventCount,
    FirstContactCandidate,
    FirstContactCount,
    GroundTruth,
    HourCount,
    InquiryCount,
    KeyedArrival,
    PhoneStats,
    PhoneTruth,
    PlantedData,
    QueueDay,
    SourceTally,
    Spike,
    StageTotals,
    WaitingCount,
    WalkInStats,
    phone_identifier,
)
from pipeline.simulated.web import FORMS_LOG, FORMS_SYSTEM, WWW_LOG, WWW_SYSTEM, Web
from pipeline.simulated.world import PHONE_PREFIXES, World
from schemas import UNCLASSIFIED

DEFAULT_MAPPING_FILE = Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml"
GROUND_TRUTH_FILE = "ground_truth.json"
QUEUE_LOG_FILE = "queue_log"
PBX_SYSTEM = "asterisk"  # source.system of the phone events, as connectors.yaml names it
TICKET_SYSTEM = "tickets"
TICKET_HEADER = "ticket;service;site;issued_at;called_at;finished_at;counter;outcome"
TICKET_OUTCOMES = ("served", "no_show", "transferred", "removed")

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
# Local moments on each open day at which ground truth counts who is waiting (kpi_waiting): mid-morning,
# inside the spike hour, and mid-afternoon (on a Friday after closing: who is still left in the queue).
WAITING_MOMENTS = (time(10, 30), time(11, 40), time(14, 20))

# --------------------------------------------------------------------------- ground truth


# --------------------------------------------------------------------------- counting while writing


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
        self.callbacks: dict[date, list[tuple[int, str, str]]] = {}  # day -> (epoch, number as written, queue)
        self.written_numbers: set[str] = set()
        self.mean_phone_load = mean_load(PHONE_HOURS, PHONE_HOUR_DEMAND)

    # ----------------------------------------------------------------- phone

    def _next_uid(self, epoch: int) -> str:
        self.uid += 1
        return f"{epoch}.{self.uid}"

    def _callback(self, call: _Call) -> None:
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
            self.callbacks.setdefault(day, []).append((at, call.callerid, call.queue))

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
                self.written_numbers.add(written)
                at = rng.randrange(local_epoch(day, opens), local_epoch(day, closes) - 600)
                self.callbacks.setdefault(day, []).append((at, written, queue))

    def _caller(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.05:
            return ""  # anonymous
        if r < 0.07:
            return f"Local/{rng.randint(2001, 2099)}@from-internal/n"
        if self.numbers_seen and rng.random() < 0.06 / 0.93:  # about another matter; calls back come on top
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
        arrivals: list[tuple[int, str, float]] = []
        for hour, seg_start, seg_end in opening_segments(day, opens, closes):
            load = WEEKDAY_DEMAND[day.weekday()] * PHONE_HOUR_DEMAND[hour]
            for t in poisson_times(rng, seg_start, seg_end, PHONE_CALLS_PER_HOUR * NEW_MATTER_SHARE * load):
                arrivals.append((int(t), rng.choices(queue_names, queue_weights)[0], load / self.mean_phone_load, ""))
        self._callbacks_from_before(day, opens, closes, len(arrivals))
        for at, number, queue in self.callbacks.pop(day, []):
            hour = datetime.fromtimestamp(at, TZ).hour
            load = WEEKDAY_DEMAND[day.weekday()] * PHONE_HOUR_DEMAND.get(hour, 1.0)
            arrivals.append((at, queue, load / self.mean_phone_load, number))
        arrivals.sort()

        waiting: dict[str, list[int]] = {q: [] for q in PHONE_QUEUES}  # leave times of calls in queue
        calls: list[_Call] = []
        for enter, queue, load, number in arrivals:
            in_queue = waiting[queue]
            del in_queue[: bisect.bisect_right(in_queue, enter)]
            origposition = len(in_queue) + 1
            call = _Call(self._next_uid(enter), queue, enter, number or self._caller(), "", origposition=origposition)
            lines.add(enter, call.callid, queue, "NONE", "ENTERQUEUE", "", call.callerid, origposition)

            p_abandon = min(0.22, max(0.04, 0.10 * load))
            r = rng.random()
            if r < p_abandon:
                leave = self._abandon(call, lines, in_queue, load, teams[queue_team[queue]])
            else:
                leave = self._answer(call, lines, load, teams[queue_team[queue]])
                settled = CALLBACK_RESOLVED if number else PHONE_RESOLVED[queue]
                if (call.outcome != "BLINDTRANSFER" and phone_identifier(call.callerid)
                        and rng.random() > settled and rng.random() < CALLBACK_SHARE):
                    self._callback(call)
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


def _busiest_rate(site: str, hour: int) -> float:
    return SITES[site][0] * max(WEEKDAY_DEMAND.values()) * WALK_IN_HOUR_DEMAND[hour]


# --------------------------------------------------------------------------- malformed input


MALFORMED_CALLER_NAME = "Jens Jensen"
MALFORMED_CALLER = f"{MALFORMED_CALLER_NAME} <+4529876543>"
MALFORMED_CALLER_NUMBERS = ("+4529876543", "29876543")


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


# --------------------------------------------------------------------------- entry point


# Names of files a run writes and globs read: an earlier run's leftovers are removed first.
STALE_PATTERNS = (
    "queue_log-*.gz", "tickets-*.csv", "exchange/*/MSGTRK*.LOG", "exports/henvendelser-*.csv", "imap/*/*/*.eml",
)
RUN_FILE = "connectors.yaml"


def simulate(
    out_dir: Path,
    days: int = 7,
    seed: int = 1,
    start: date | None = None,
    municipality: str = "751",
    *,
    mapping_file: Path | None = None,
    spike: bool | date = True,
) -> GroundTruth:
    """Write `days` calendar days of every source's files from `start` into `out_dir`.

    Returns the ground truth and writes it as `ground_truth.json`. `start=None` means
    `default_start(date.today())`; everything else is a function of (seed, start, days, spike).
    `spike` places the walk-in spike (SPIKE_SITE, SPIKE_HOUR): True on the middle open day,
    a date on that open day (so a test can put it after a public holiday), False nowhere
    (GroundTruth.spike is then None: the quiet run a spike detector must stay silent on).
    """
    # The other channels build on this module's helpers and models, so they are imported here.
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = start or default_start(date.today())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in STALE_PATTERNS:
        for stale in out_dir.glob(pattern):
            stale.unlink()
    mapping = load_mapping(mapping_file or DEFAULT_MAPPING_FILE)
    sim = _Simulator(seed, start, days, mapping)
    planted = PlantedData()
    phone_tally = SourceTally("asterisk_queue_log", [PBX_SYSTEM])
    ticket_tally = SourceTally("ticket_export", [TICKET_SYSTEM])

    phone_class = {q: mapping.classify("phone_queue", q) for q in PHONE_QUEUES}
    ticket_class = {s: mapping.classify("ticket_service", s) for s in TICKET_SERVICES}
    spike_day = _spike_day(spike, sim.open_days)

    inquiries: Counter[tuple[date, str, str, str, str]] = Counter()
    phone_by_day: dict[date, PhoneStats] = {}
    all_calls: list[_Call] = []
    walk_in: list[WalkInStats] = []
    all_tickets: list[_Ticket] = []
    day_lines: list[list[tuple[int, bytes]]] = []
    ticket_files: list[tuple[date, list[_Ticket]]] = []
    spike_truth: Spike | None = None

    for day in sim.open_days:
        calls, lines = sim.phone_day(day)
        day_lines.append(lines.sorted())
        phone_by_day[day] = _phone_stats(calls)
        all_calls.extend(calls)
        for c in calls:
            cls = phone_class[c.queue]
            inquiries[(day, "phone", cls.task, cls.department, "")] += 1
            _call_events(c, cls.task, cls.department, phone_tally)

        tickets = sim.walk_in_day(day, (SPIKE_SITE, SPIKE_HOUR) if day == spike_day else None)
        ticket_files.append((day, tickets))
        all_tickets.extend(tickets)
        for site in SITES:
            walk_in.append(_walk_in_stats(day, site, [t for t in tickets if t.site == site]))
        for t in tickets:
            cls = ticket_class[t.service]
            inquiries[(day, "walk_in", cls.task, cls.department, t.site)] += 1
            _ticket_events(t, cls.task, cls.department, ticket_tally)
        if day == spike_day:
            s0 = local_epoch(day, time(SPIKE_HOUR))
            s1 = local_epoch(day, time(SPIKE_HOUR + 1))
            spike_truth = Spike(
                site=SPIKE_SITE,
                day=day,
                local_start=datetime.combine(day, time(SPIKE_HOUR), tzinfo=TZ),
                local_end=datetime.combine(day, time(SPIKE_HOUR + 1), tzinfo=TZ),
                arrivals=sum(1 for t in tickets if t.site == SPIKE_SITE and s0 <= t.issued < s1),
                normal_per_hour=_busiest_rate(SPIKE_SITE, SPIKE_HOUR),
            )

    # ---- files: queue_log rotated before the last open day
    if len(day_lines) > 1:
        rotated = [line for lines in day_lines[:-1] for _, line in lines]
        name = f"{QUEUE_LOG_FILE}-{start:%Y%m%d}.gz"
        (out_dir / name).write_bytes(gzip.compress(b"".join(line + b"\n" for line in rotated), mtime=0))
        phone_tally.files.append(name)
        phone_tally.records += len(rotated)
        phone_tally.skipped.update(_housekeeping(rotated))
    live_body = day_lines[-1] if day_lines else []
    last_epoch = live_body[-1][0] if live_body else local_epoch(start, time(9))
    fresh_uids = (f"{last_epoch}.{sim.uid + 1}", f"{last_epoch}.{sim.uid + 2}")  # no real call uses these
    live, bad_lines = _malformed_queue_log(live_body, fresh_uids, last_epoch)
    (out_dir / QUEUE_LOG_FILE).write_bytes(b"\n".join(live))
    phone_tally.files.append(QUEUE_LOG_FILE)
    phone_tally.records += len(live)
    # A blank line is no record at all, and an event the connector does not know (a dialler's,
    # QueueMetrics') is skipped by name: both are counted skips, not rejections.
    for number in bad_lines:
        raw = live[number - 1]
        if not raw.strip():
            phone_tally.skipped["blank line"] += 1
        elif b"|FROBNICATE|" in raw:
            phone_tally.skipped["unknown event FROBNICATE"] += 1
        else:
            phone_tally.rejected_at.append(f"{QUEUE_LOG_FILE}:{number}")
    phone_tally.skipped.update(_housekeeping([line for _, line in live_body]))

    for i, (day, tickets) in enumerate(ticket_files):
        offset = utc_offset(day)
        rows = [
            ";".join((t.ticket, t.service, t.site, _local(t.issued, offset), _local(t.called, offset),
                      _local(t.finished, offset), t.counter, t.outcome))
            for t in tickets
        ]
        name = f"tickets-{day.isoformat()}.csv"
        if i == len(ticket_files) - 1:
            bad = _malformed_ticket_rows(day)
            for j, row in enumerate(bad):
                position = min(len(rows), (j + 1) * len(rows) // 4)
                rows.insert(position, row)
            ticket_tally.rejected_at += [f"{name}:{number}" for number, row in enumerate(rows, start=2) if row in bad]
        (out_dir / name).write_text("\n".join([TICKET_HEADER, *rows]) + "\n", encoding="utf-8", newline="\n")
        ticket_tally.files.append(name)
        ticket_tally.records += 1 + len(rows)
        ticket_tally.skipped["header"] += 1

    for number in sim.written_numbers:
        planted.phone(number)
    for number in MALFORMED_CALLER_NUMBERS:
        planted.phone(number)
    planted.names.add(MALFORMED_CALLER_NAME)

    # ---- every other source, over the same days and citizens
    world = World(
        out_dir=out_dir, seed=seed, days=sim.days, open_days=frozenset(sim.open_days), mapping=mapping,
        municipality=municipality, planted=planted,
    )
    tallies: dict[str, SourceTally] = {"queue_log": phone_tally, "tickets": ticket_tally, **write_other_sources(world)}
    (out_dir / RUN_FILE).write_text(_run_file(out_dir), encoding="utf-8")

    abandon_verbs = ("ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY")
    sources = {name: tallies[name].truth() for name in SOURCES}
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
        spike=spike_truth,
        malformed={name: source.rejected for name, source in sources.items()},
        personal_data=planted.model(),
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
        events=[
            EventCount(source=name, day=k[0], channel=k[1], direction=k[2], stage=k[3], task=k[4], department=k[5],
                       site=k[6], count=n, **{r: tallies[name].registered[(k, r)] for r in REGISTRATIONS})
            for name in SOURCES
            for k, n in sorted(tallies[name].events.items())
        ],
        arrivals_by_hour=[
            HourCount(source=name, day=day, hour=hour, channel=channel, count=n)
            for name in SOURCES
            for (day, hour, channel), n in sorted(tallies[name].hourly.items())
        ],
        repeat_candidates=_repeat_candidates(tallies),
        **_first_contacts(tallies),
        queues=[
            QueueDay(source=name, day=day, channel=channel, place=place, **asdict(sums))
            for name in SOURCES
            for (day, channel, place), sums in sorted(tallies[name].queues.items())
        ],
        waiting=_waiting(tallies, sim.open_days),
        sources=sources,
        imap_mailboxes=world.imap_mailboxes,
        files=[*(f for name in SOURCES for f in tallies[name].files), RUN_FILE],
    )
    (out_dir / GROUND_TRUTH_FILE).write_text(truth.to_json() + "\n", encoding="utf-8")
    return truth


def _repeat_candidates(tallies: dict[str, SourceTally]) -> list[KeyedArrival]:
    """Keyed inbound inquiries of every (identifier, task) that occurs more than once, in time order,
    the identifiers replaced by opaque ids numbered in order of first appearance."""
    arrivals = [(at, name, identifier, channel, task)
                for name in SOURCES for at, identifier, channel, task in tallies[name].keyed]
    per_task = Counter((identifier, task) for _, _, identifier, _, task in arrivals)
    ids: dict[str, str] = {}
    out = []
    for at, name, identifier, channel, task in sorted(a for a in arrivals if per_task[(a[2], a[4])] > 1):
        requester = ids.setdefault(identifier, f"r{len(ids) + 1}")
        out.append(KeyedArrival(source=name, requester=requester, at=at, channel=channel, task=task))
    return out


def _first_contacts(tallies: dict[str, SourceTally]) -> dict[str, list[Any]]:
    """first_contacts and first_contact_candidates of ground truth, from every source's inquiries."""
    keyed = Counter((identifier, task) for name in SOURCES for _, identifier, _, task in tallies[name].keyed)
    ids: dict[str, str] = {}
    for at, name, identifier, channel, task in sorted(
            (at, name, identifier, channel, task) for name in SOURCES for at, identifier, channel, task
            in tallies[name].keyed if keyed[(identifier, task)] > 1):
        ids.setdefault(identifier, f"r{len(ids) + 1}")  # numbered as _repeat_candidates numbers them
    counts: dict[tuple[str, date, str, str], Counter[str]] = {}
    candidates = []
    for name in SOURCES:
        for record in tallies[name].inquiries.values():
            if record.arrived is None or not record.served:
                continue
            day = record.arrived.astimezone(TZ).date()
            row = counts.setdefault((name, day, record.channel, record.department), Counter())
            row["served"] += 1
            if record.flags:
                row["registered"] += 1
                row["registered_resolved"] += max(record.flags)[1]
            elif not record.identifier:
                row["unknown"] += 1
            elif keyed[(record.identifier, record.task)] > 1:
                candidates.append(FirstContactCandidate(
                    source=name, at=record.arrived, channel=record.channel, task=record.task,
                    department=record.department, requester=ids[record.identifier]))
            else:
                row["inferred_alone"] += 1
    return {
        "first_contacts": [FirstContactCount(source=n, day=d, channel=c, department=dep, **row)  # type: ignore[arg-type]
                           for (n, d, c, dep), row in sorted(counts.items())],
        "first_contact_candidates": sorted(candidates, key=lambda c: (c.at, c.source, c.requester)),
    }


def _waiting(tallies: dict[str, SourceTally], open_days: list[date]) -> list[WaitingCount]:
    """Calls and tickets of each source waiting at WAITING_MOMENTS of each open day, per place with
    an arrival that day before the moment."""
    out = []
    for name in SOURCES:
        by_day: dict[date, list[tuple[str, str, int, int]]] = {}
        for stay in tallies[name].stays:
            by_day.setdefault(datetime.fromtimestamp(stay[2], TZ).date(), []).append(stay)
        for day in open_days:
            for moment in WAITING_MOMENTS:
                at = local_epoch(day, moment)
                waiting: Counter[tuple[str, str]] = Counter()
                for channel, place, joined, left in by_day.get(day, []):
                    if joined < at:
                        waiting[(channel, place)] += left >= at  # still there: neither answered nor gone
                out += [WaitingCount(source=name, at=datetime.combine(day, moment, tzinfo=TZ), channel=channel,
                                     place=place, waiting=n)
                        for (channel, place), n in sorted(waiting.items())]
    return out


def _spike_day(spike: bool | date, open_days: list[date]) -> date | None:
    """The open day the walk-in spike falls on, or None for a run without one."""
    if spike is False or not open_days:
        return None
    if spike is True:
        return open_days[len(open_days) // 2]
    if spike not in open_days:
        raise ValueError(
            f"spike day {spike.isoformat()} is not an open day of the run "
            f"({open_days[0].isoformat()}..{open_days[-1].isoformat()}, weekends and public holidays closed)"
        )
    return spike


def _call_events(call: _Call, task: str, department: str, tally: SourceTally) -> None:
    """The events the queue_log connector emits for one call, each at its own line's time: ENTERQUEUE
    (keyed by the caller's number, if it is one), CONNECT after the hold time, COMPLETE* or
    BLINDTRANSFER after the talk time (a transfer is not resolved), or the line that gave up."""
    queue, inquiry = call.queue, f"{call.callid}|{call.queue}"
    tally.event(call.enter, "phone", "inbound", "arrived", task, department, queue=queue,
                requester=phone_identifier(call.callerid), inquiry=inquiry)
    left = call.enter + call.hold
    tally.stay("phone", queue, call.enter, left)
    if call.agent:  # every answered call ends COMPLETE* or BLINDTRANSFER
        tally.event(left, "phone", "inbound", "answered", task, department, queue=queue, wait=call.hold, inquiry=inquiry)
        tally.event(left + call.talk, "phone", "inbound", "closed", task, department, queue=queue, wait=call.hold,
                    handle=call.talk, resolved=False if call.outcome == "BLINDTRANSFER" else None, inquiry=inquiry)
    else:
        tally.event(left, "phone", "inbound", "abandoned", task, department, queue=queue, wait=call.hold, inquiry=inquiry)


def _ticket_events(ticket: _Ticket, task: str, department: str, tally: SourceTally) -> None:
    """The events the ticket connector emits for one row: issued, called (answered), finished (closed;
    a transfer is not resolved), or given up when called in vain (no-show) or at issue (removed)."""
    t, site = ticket, ticket.site
    inquiry = f"{site}|{t.ticket}|{t.issued}"
    tally.event(t.issued, "walk_in", "inbound", "arrived", task, department, site, queue=t.service, inquiry=inquiry)
    tally.stay("walk_in", site, t.issued, t.called if t.called is not None else t.issued)
    if t.outcome in ("served", "transferred"):
        assert t.called is not None and t.finished is not None
        tally.event(t.called, "walk_in", "inbound", "answered", task, department, site, queue=t.service,
                    wait=t.called - t.issued, inquiry=inquiry)
        tally.event(t.finished, "walk_in", "inbound", "closed", task, department, site, queue=t.service,
                    handle=t.finished - t.called, resolved=False if t.outcome == "transferred" else None, inquiry=inquiry)
    else:  # no_show, removed
        gave_up = t.called if t.called is not None else t.issued
        tally.event(gave_up, "walk_in", "inbound", "abandoned", task, department, site, queue=t.service,
                    wait=gave_up - t.issued, inquiry=inquiry)


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


def connector_configs(out_dir: Path) -> dict[str, tuple[str, list[str], BaseModel]]:
    """source -> (connector kind, absolute path globs, validated config) for every source a
    file connector reads: what connectors.yaml lists. imap and http are not file sources."""
    base = Path(out_dir).resolve()
    configs: dict[str, tuple[str, list[str], BaseModel]] = {
        "queue_log": ("asterisk_queue_log", [f"{QUEUE_LOG_FILE}-*.gz", QUEUE_LOG_FILE],
                      AsteriskQueueLogConfig(system=PBX_SYSTEM)),
        "tickets": ("ticket_export", ["tickets-*.csv"], TicketExportConfig(system=TICKET_SYSTEM)),
        **other_connector_configs(),
    }
    return {source: (kind, [str(base / p) for p in paths], config) for source, (kind, paths, config) in configs.items()}


def _run_file(out_dir: Path) -> str:
    """`kanalpuls run --config` YAML for the file connectors, with absolute paths (run resolves
    globs against the working directory, not against this file)."""
    base = out_dir.resolve()
    parts = [
        f"# Every file connector for the files `kanalpuls simulate` wrote into {base}:",
        f"#   kanalpuls run --config {base / RUN_FILE}",
        "# Not here: imap/ (APPEND the .eml files to an IMAP server and run the IMAP connector)",
        "# and http_events*.ndjson (POST them to /v1/events). Expected results: ground_truth.json, `sources`.",
        "connectors:",
    ]
    for source, (kind, paths, config) in connector_configs(out_dir).items():
        # The system always, though it may be the default: it names the checkpoint file and every event's source.
        settings = {"system": config.model_dump()["system"], **config.model_dump(mode="json", exclude_defaults=True)}
        entry = {"kind": kind, "paths": paths, "follow": False, "config": settings}
        parts.append(f"  # {source}")
        body = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, width=1000)
        parts.extend(f"  {line}" for line in body.splitlines())
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- the other sources


def write_other_sources(world: World) -> dict[str, SourceTally]:
    """Write every source of this module into world.out_dir; the tallies by source name."""
    tallies = {
        "exchange": SourceTally("exchange_tracking", [EXCHANGE_SYSTEM]),
        "web_combined": SourceTally("web_access_log", [WWW_SYSTEM]),
        "web_json": SourceTally("web_access_log", [FORMS_SYSTEM]),
        "channel_csv": SourceTally("channel_export", [CASE_SYSTEM]),
        "channel_jsonl": SourceTally("channel_export", [CHAT_SYSTEM]),
        "imap": SourceTally("imap_mailbox", [IMAP_SYSTEM]),
        "http": SourceTally("http_ingest", [FORM_PLATFORM, CHAT_PLATFORM, CONTACT_CENTRE]),
    }
    Exchange(world, tallies["exchange"]).write()
    Web(world, tallies["web_combined"], tallies["web_json"]).write()
    Exports(world, tallies["channel_csv"], tallies["channel_jsonl"]).write()
    Imap(world, tallies["imap"]).write()
    write_http(world, tallies["http"])
    return tallies


def other_connector_configs() -> dict[str, tuple[str, list[str], BaseModel]]:
    """source -> (connector kind, path globs relative to out_dir, validated config) for this module's files."""
    komhen = ChannelExportConfig.komhen(
        system=CASE_SYSTEM, columns=KOMHEN_COLUMNS.model_copy(update={"requester_id": "requester_id"})
    )
    chat = ChannelExportConfig(
        system=CHAT_SYSTEM, format=ExportFormat.jsonl,
        columns=ChannelExportColumns(
            id="id", occurred_at="started", channel="channel", task_key="topic", resolved_first_contact="resolved",
            visited_web_first="came_from_web", requester_id="requester_id",
        ),
    )  # fmt: skip
    return {
        "exchange": ("exchange_tracking", ["exchange/*/MSGTRK*.LOG"],
                     ExchangeTrackingConfig(system=EXCHANGE_SYSTEM, shared_mailboxes=list(EXCHANGE_MAILBOXES))),
        "web_combined": ("web_access_log", [WWW_LOG],
                         WebAccessLogConfig(system=WWW_SYSTEM, format=AccessLogFormat.combined)),
        "web_json": ("web_access_log", [FORMS_LOG], WebAccessLogConfig(system=FORMS_SYSTEM, format=AccessLogFormat.json)),
        "channel_csv": ("channel_export", ["exports/henvendelser-*.csv"], komhen),
        "channel_jsonl": ("channel_export", [CHAT_FILE], chat),
    }

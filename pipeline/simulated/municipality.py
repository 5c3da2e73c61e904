"""A simulated municipality: every source format kanalpuls reads, with the answers known.

It stands where the real systems stand in the dataflow: it writes the files each connector
reads (one module per source format, as in connectors/) and beside them `ground_truth.json`,
counted from its own in-memory model while writing, that pipeline tests compare their results
with. Task and department of each inquiry are the municipality's own (catalogue.py), and a
requester is who the world says called or wrote, so a wrong mapping rule or contact key shows
as a difference instead of agreeing with itself. Personal data (CPR numbers, names, e-mail and
IP addresses, phone numbers) is planted on purpose and every planted value is listed.

Files written into `out_dir` (paths relative to it):

- `queue_log`, `queue_log-<YYYYMMDD>.gz`: the Asterisk PBX's queue log (phone.py).
- `tickets-YYYY-MM-DD.csv`: the ticket machine's daily exports (walkins.py).
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

import random
from collections import Counter
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from connectors.asterisk_queue_log import AsteriskQueueLogConfig
from connectors.channel_export import KOMHEN_COLUMNS, ChannelExportColumns, ChannelExportConfig, ExportFormat
from connectors.exchange_tracking import ExchangeTrackingConfig
from connectors.ticket_export import TicketExportConfig
from connectors.web_access_log import AccessLogFormat, WebAccessLogConfig
from pipeline.simulated.calendar import TZ, default_start, local_epoch, open_days
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.exchange import EXCHANGE_MAILBOXES, EXCHANGE_SYSTEM, Exchange
from pipeline.simulated.exports import CASE_SYSTEM, CHAT_FILE, CHAT_SYSTEM, Exports
from pipeline.simulated.http import CHAT_PLATFORM, CONTACT_CENTRE, FORM_PLATFORM, write_http
from pipeline.simulated.imap import IMAP_SYSTEM, Imap
from pipeline.simulated.phone import PBX_SYSTEM, QUEUE_LOG_FILE, Call, PhoneQueue, phone_stats, phone_totals
from pipeline.simulated.truth import (
    REGISTRATIONS,
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
    WaitingCount,
    WalkInStats,
)
from pipeline.simulated.walkins import (
    TICKET_SYSTEM,
    Ticket,
    TicketMachine,
    spike_truth,
    walk_in_stats,
    walk_in_totals,
)
from pipeline.simulated.web import FORMS_LOG, FORMS_SYSTEM, WWW_LOG, WWW_SYSTEM, Web
from pipeline.simulated.world import World
from schemas import UNCLASSIFIED

# The mapping rules written for this municipality: what kanalpuls reads to recover catalogue.py's
# tasks and departments. The simulator never reads them; tests and benchmarks load them from here.
DEFAULT_MAPPING_FILE = Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml"
GROUND_TRUTH_FILE = "ground_truth.json"
# Local moments on each open day at which ground truth counts who is waiting (kpi_waiting): mid-morning,
# inside the spike hour, and mid-afternoon (on a Friday after closing: who is still left in the queue).
WAITING_MOMENTS = (time(10, 30), time(11, 40), time(14, 20))
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
    spike: bool | date = True,
) -> GroundTruth:
    """Write `days` calendar days of every source's files from `start` into `out_dir`.

    Returns the ground truth and writes it as `ground_truth.json`. `start=None` means
    `default_start(date.today())`; everything else is a function of (seed, start, days, spike).
    `spike` places the walk-in spike (SPIKE_SITE, SPIKE_HOUR): True on the middle open day,
    a date on that open day (so a test can put it after a public holiday), False nowhere
    (GroundTruth.spike is then None: the quiet run a spike detector must stay silent on).
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = start or default_start(date.today())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in STALE_PATTERNS:
        for stale in out_dir.glob(pattern):
            stale.unlink()
    run_days = [start + timedelta(days=i) for i in range(days)]
    opened = open_days(run_days)
    planted = PlantedData()
    phone_tally = SourceTally("asterisk_queue_log", [PBX_SYSTEM])
    ticket_tally = SourceTally("ticket_export", [TICKET_SYSTEM])
    rng = random.Random(seed)  # the phone queue and the ticket machine draw from it in turn, day by day
    pbx = PhoneQueue(rng, run_days, opened, phone_tally)
    machine = TicketMachine(rng, ticket_tally)
    spike_day = _spike_day(spike, opened)

    inquiries: Counter[tuple[date, str, str, str, str]] = Counter()
    phone_by_day: dict[date, PhoneStats] = {}
    all_calls: list[Call] = []
    walk_in: list[WalkInStats] = []
    all_tickets: list[Ticket] = []
    spike_found: Spike | None = None
    for day in opened:
        calls = pbx.day(day)
        phone_by_day[day] = phone_stats(calls)
        all_calls.extend(calls)
        for call in calls:
            inquiries[(day, "phone", *meaning("phone_queue", call.queue), "")] += 1
        tickets = machine.day(day, spike=day == spike_day)
        all_tickets.extend(tickets)
        walk_in.extend(walk_in_stats(day, tickets))
        for ticket in tickets:
            inquiries[(day, "walk_in", *meaning("ticket_service", ticket.service), ticket.site)] += 1
        if day == spike_day:
            spike_found = spike_truth(day, tickets)
    pbx.write(out_dir, planted)
    machine.write(out_dir)

    # ---- every other source, over the same days and citizens
    world = World(out_dir=out_dir, seed=seed, days=run_days, open_days=frozenset(opened), municipality=municipality,
                  planted=planted)
    tallies: dict[str, SourceTally] = {"queue_log": phone_tally, "tickets": ticket_tally, **write_other_sources(world)}
    (out_dir / RUN_FILE).write_text(_run_file(out_dir), encoding="utf-8")

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
        phone=PhoneTruth(by_day=phone_by_day, overall=phone_stats(all_calls)),
        walk_in=walk_in,
        spike=spike_found,
        malformed={name: source.rejected for name, source in sources.items()},
        personal_data=planted.model(),
        totals={"phone": phone_totals(all_calls), "walk_in": walk_in_totals(all_tickets)},
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
        waiting=_waiting(tallies, opened),
        sources=sources,
        imap_mailboxes=world.imap_mailboxes,
        files=[*(f for name in SOURCES for f in tallies[name].files), RUN_FILE],
    )
    (out_dir / GROUND_TRUTH_FILE).write_text(truth.to_json() + "\n", encoding="utf-8")
    return truth


def _repeat_candidates(tallies: dict[str, SourceTally]) -> list[KeyedArrival]:
    """Keyed inbound inquiries of every (requester, task) that occurs more than once, in time order,
    the requesters replaced by opaque ids numbered in order of first appearance."""
    arrivals = [(at, name, requester, channel, task)
                for name in SOURCES for at, requester, channel, task in tallies[name].keyed]
    per_task = Counter((requester, task) for _, _, requester, _, task in arrivals)
    ids: dict[str, str] = {}
    out = []
    for at, name, requester, channel, task in sorted(a for a in arrivals if per_task[(a[2], a[4])] > 1):
        opaque = ids.setdefault(requester, f"r{len(ids) + 1}")
        out.append(KeyedArrival(source=name, requester=opaque, at=at, channel=channel, task=task))
    return out


def _first_contacts(tallies: dict[str, SourceTally]) -> dict[str, list[Any]]:
    """first_contacts and first_contact_candidates of ground truth, from every source's inquiries."""
    keyed = Counter((requester, task) for name in SOURCES for _, requester, _, task in tallies[name].keyed)
    ids: dict[str, str] = {}
    for _, _, requester, _, _ in sorted(
            (at, name, requester, channel, task) for name in SOURCES for at, requester, channel, task
            in tallies[name].keyed if keyed[(requester, task)] > 1):
        ids.setdefault(requester, f"r{len(ids) + 1}")  # numbered as _repeat_candidates numbers them
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
            elif not record.requester:
                row["unknown"] += 1
            elif keyed[(record.requester, record.task)] > 1:
                candidates.append(FirstContactCandidate(
                    source=name, at=record.arrived, channel=record.channel, task=record.task,
                    department=record.department, requester=ids[record.requester]))
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

"""What the simulated logs contain, known without parsing them: the ground truth every test and
the demo compare the product against, and the tallies each source writer keeps while it writes.

Ground truth is the world's own account, never the product's: task and department come from
catalogue.py, and a requester is who the world says wrote or called, not a contact key."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from pipeline.simulated.calendar import TIMEZONE, TZ
from schemas import UNCLASSIFIED

SERVICE_LEVEL_SECONDS = 20


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InquiryCount(_Model):
    """Inbound inquiries counted at arrival, in the same dimensions the pipeline aggregates."""

    day: date = Field(description="Local (Europe/Copenhagen) date of arrival.")
    channel: Literal["phone", "walk_in"]
    task: str = Field(description="KLE code the municipality means by the queue or service (catalogue.py), or"
                      " 'unclassified'.")
    department: str = Field(description="Department it means; empty when unclassified.")
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
    average_wait_seconds: float | None = Field(
        description="Mean called_at - issued_at over rows with called_at (no-shows too)."
    )
    answered_average_wait_seconds: float | None = Field(
        description="Mean called_at - issued_at over tickets called and served at a counter (outcome served or"
        " transferred: the connector's `answered` events), what kpi_walk_in reports; None without one."
    )


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


ChannelName = Literal["walk_in", "phone", "email", "letter", "digital_post", "self_service", "chat", "web"]


SourceName = Literal[
    "queue_log", "tickets", "exchange", "web_combined", "web_json", "channel_csv", "channel_jsonl", "imap", "http"
]


# Every source, in the order ground truth lists them.
SOURCES: tuple[str, ...] = (
    "queue_log", "tickets", "exchange", "web_combined", "web_json", "channel_csv", "channel_jsonl", "imap", "http"
)


class EventCount(_Model):
    """Distinct events (by event id) one source should put into ClickHouse, per day and dimensions,
    with the registrations they carry as the connector emits them (counts of `count`; those that
    are 0 are left out of ground_truth.json)."""

    source: SourceName
    day: date = Field(description="Local (Europe/Copenhagen) date of the event's occurred_at.")
    channel: ChannelName
    direction: Literal["inbound", "outbound"]
    stage: Literal["arrived", "answered", "closed", "abandoned"]
    task: str = Field(description="KLE code the municipality means (catalogue.py) or the source states, or"
                      " 'unclassified'.")
    department: str = Field(description="Department it means or the source states; empty when unknown.")
    site: str = Field(description="Walk-in site; empty for every other channel.")
    count: int
    resolved_true: int = Field(0, description="Events with resolved_first_contact=true (an export's 'ja', a"
                               " contact centre's wrap-up code).")
    resolved_false: int = Field(0, description="Events with resolved_first_contact=false (a transferred call or"
                                " ticket, an export's 'nej'). Closed events with neither count as resolved in the views.")
    web_first_true: int = Field(0, description="Events with visited_web_first=true.")
    web_first_false: int = Field(0, description="Events with visited_web_first=false.")
    with_contact_key: int = Field(0, description="Events carrying a contact_key.")

    @model_serializer(mode="wrap")
    def _without_zero_registrations(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data = handler(self)
        return {name: value for name, value in data.items() if value != 0 or name not in REGISTRATIONS}


class HourCount(_Model):
    """Inbound arrivals (web page views included) of one source per local day, local hour and channel:
    demand by weekday x hour. The hour of the event's own time, as the connector emits it."""

    source: SourceName
    day: date
    hour: int = Field(ge=0, le=23, description="Local hour (a DST change's repeated hour counts once, as 2).")
    channel: ChannelName
    count: int


class KeyedArrival(_Model):
    """An inbound inquiry (web page views excluded) whose connector emits a contact_key, by a requester
    who has another such arrival on the same task in the run, from any source: the only arrivals that
    can be, or be followed by, a repeat contact. Every other keyed arrival is only counted
    (EventCount.with_contact_key)."""

    source: SourceName
    requester: str = Field(
        description="Opaque id ('r12') of the requester as the simulated world knows them, however the source"
        " writes it: the number a caller calls from, the address a writer writes from, the CPR number a case is"
        " filed under. Two arrivals should share a contact key exactly when they share this id (one HMAC secret):"
        " one citizen under two kinds of identifier is two requesters (a number and an address; the CPR number"
        " and the form platform's CPR as typed, dash and all). No personal data."
    )
    at: datetime = Field(description="occurred_at as the connector emits it (UTC, milliseconds).")
    channel: ChannelName
    task: str


class FirstContactCount(_Model):
    """Served inbound inquiries of one source by local day of arrival, channel and department, as
    kpi_first_contact_resolution sorts them where no other source can change the answer:
    registered (a flag or a transfer), unknown (no contact key), and keyed ones whose requester
    has no other arrival on the same task in the run (inferred resolved). The keyed rest are
    `FirstContactCandidate`s: whether they came back depends on which sources are read."""

    source: SourceName
    day: date
    channel: ChannelName
    department: str
    served: int = Field(description="Every served inquiry, the candidates among them.")
    registered: int = 0
    registered_resolved: int = 0
    unknown: int = 0
    inferred_alone: int = 0


class FirstContactCandidate(_Model):
    """A served, keyed inquiry without a registered resolution whose requester has another arrival
    on the same task (see repeat_candidates, same opaque ids): resolved unless one of those, from
    the sources read, follows within the follow-up window."""

    source: SourceName
    at: datetime = Field(description="Its arrival, as the connector emits it.")
    channel: ChannelName
    task: str
    department: str
    requester: str


class QueueDay(_Model):
    """What one phone queue or walk-in site of one source did on one local day, as sums, so that any
    scope's queue KPIs (kpi_phone, kpi_walk_in) can be added up. Each stage is counted on its own
    event's day (answered = arrival + wait, closed = answered + handle time, abandoned = when the
    caller or visitor gave up)."""

    source: SourceName
    day: date
    channel: Literal["phone", "walk_in"]
    place: str = Field(description="Queue name (phone, the event's `queue`) or site (walk-in).")
    arrived: int
    answered: int
    abandoned: int = Field(description="Calls that gave up in the queue; tickets not served (no-show, removed).")
    closed: int
    not_resolved: int = Field(description="Closed with resolved_first_contact=false: transferred calls and"
                              " tickets, and closed calls a contact centre registered as not resolved.")
    answered_within_service_level: int = Field(description="Answered after waiting at most service_level_seconds.")
    answered_wait_seconds: float = Field(description="Sum of the wait_seconds of the answered events.")
    closed_handle_seconds: float = Field(description="Sum of the handle_seconds of the closed events.")


class WaitingCount(_Model):
    """Calls in one queue or tickets at one site waiting at a moment: arrived that local day before `at`
    and neither answered nor abandoned before it. Every place with an arrival before `at` is listed,
    zeros too."""

    source: SourceName
    at: datetime = Field(description="Aware local time, whole minutes (WAITING_MOMENTS on each open day).")
    channel: Literal["phone", "walk_in"]
    place: str = Field(description="Queue name (phone) or site (walk-in).")
    waiting: int


class SourceTruth(_Model):
    """What one source's connector should make of the files written for it."""

    connector: str = Field(
        description="Connector kind that reads it; 'imap_mailbox' and 'http_ingest' are not file connectors."
    )
    systems: list[str] = Field(description="source.system of its events (source_system in ClickHouse).")
    files: list[str] = Field(description="Files written for it, relative to out_dir, in reading order.")
    records: int = Field(description="Records the connector reads: lines (headers too), messages, NDJSON lines.")
    events: int = Field(description="Distinct event ids: what ClickHouse holds from this source; sum of its EventCounts.")
    duplicates: int = Field(
        description="Events emitted again with an id already emitted (the same message logged by a second"
        " server, delivered twice): the connector emits events + duplicates, the worker stores events."
    )
    rejected: int = Field(
        description="Records written malformed on purpose: dead letters for file connectors and IMAP, lines"
        " answered 422 for HTTP (posted one per request; nothing reaches Kafka)."
    )
    rejected_at: list[str] = Field(description="'<file>:<line>' of each rejected record; '<file>' for a message.")
    skipped: dict[str, int] = Field(description="Valid records that are no inquiry, by the connector's skip reason.")


class ImapMailbox(_Model):
    address: str = Field(description="Shared mailbox address; the task and department it means are catalogue.py's.")
    folders: dict[str, int] = Field(description="Folder (INBOX inbound, Sent outbound) -> .eml files written.")


class PersonalData(_Model):
    """Every personal value written into the raw files, as written: none may reach ClickHouse or a Kafka
    topic other than a connector's own input."""

    phone_numbers: list[str] = Field(
        description="Every distinct phone number written (as written, and its 8-digit form), sorted. "
        "Channel names such as Local/2004@from-internal/n are internal extensions, not listed."
    )
    cpr_numbers: list[str] = Field(default_factory=list, description="CPR numbers as written (ddmmyy-ssss or ddmmyyssss).")
    names: list[str] = Field(default_factory=list, description="Full names (first and last) of citizens and staff.")
    email_addresses: list[str] = Field(
        default_factory=list, description="Citizens', businesses' and staff's addresses; shared mailboxes are not personal."
    )
    ip_addresses: list[str] = Field(default_factory=list, description="Web clients' IPv4 and IPv6 addresses as written.")

    def values(self) -> list[str]:
        """Every listed value, for a scan that does not care which kind it is."""
        return [*self.phone_numbers, *self.cpr_numbers, *self.names, *self.email_addresses, *self.ip_addresses]


class GroundTruth(_Model):
    """What the simulated logs contain, known without parsing them.

    `inquiries`, `phone`, `walk_in`, `spike` and `totals` describe the phone queue (queue_log)
    and the ticket machine only (`kanalpuls demo` compares its phone KPIs, read through the
    deployed kpi_phone view over every phone queue, with `queues`). Every
    other field describes every source, per source, so that any subset of connectors can be
    compared: see `expected_by_channel` and `expected_inquiries`. Among them are the inputs of
    the KPI views: registrations per event (`events`), demand per hour (`arrivals_by_hour`),
    the requesters who come back (`repeat_candidates`), queue sums (`queues`) and waiting
    snapshots (`waiting`), which include Social Service's contact-centre platform (phone
    queues and a reception with a check-in screen, posting over HTTP).
    """

    municipality: str
    seed: int
    start: date
    days: int
    timezone: str = TIMEZONE
    service_level_seconds: int = SERVICE_LEVEL_SECONDS
    inquiries: list[InquiryCount]
    phone: PhoneTruth
    walk_in: list[WalkInStats]
    spike: Spike | None = Field(description="None when the run has no open day or was simulated with spike=False.")
    malformed: dict[str, int] = Field(description="Records written malformed on purpose, per source.")
    personal_data: PersonalData
    totals: dict[Literal["phone", "walk_in"], StageTotals] = Field(
        description="Events per stage the queue_log and ticket connectors should emit for the valid records."
    )
    events: list[EventCount] = Field(description="Distinct events every source should store, per day and dimensions.")
    arrivals_by_hour: list[HourCount] = Field(description="Inbound arrivals per source, local day, hour and channel.")
    repeat_candidates: list[KeyedArrival] = Field(
        description="Keyed inbound inquiries of requesters with more than one on the same task, in time order.")
    first_contacts: list[FirstContactCount] = Field(
        default_factory=list, description="Served inquiries per source and day whose resolution no source choice changes.")
    first_contact_candidates: list[FirstContactCandidate] = Field(
        default_factory=list, description="Served keyed inquiries whose requester may have come back.")
    queues: list[QueueDay] = Field(description="Phone queues and walk-in sites per source and day, as sums.")
    waiting: list[WaitingCount] = Field(description="Calls and tickets waiting at WAITING_MOMENTS of each open day.")
    sources: dict[SourceName, SourceTruth] = Field(description="Per source: files, records, events, skips, rejections.")
    imap_mailboxes: list[ImapMailbox] = Field(description="The IMAP mailboxes written under imap/.")
    files: list[str] = Field(description="Files written into out_dir, except ground_truth.json, relative to it.")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=False)

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def _chosen(sources: Iterable[str] | None) -> set[str]:
    chosen = set(SOURCES if sources is None else sources)
    unknown = chosen - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}: choose from {', '.join(SOURCES)}")
    return chosen


def expected_by_channel(truth: GroundTruth, sources: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
    """Distinct events per (channel, direction), every stage, that ClickHouse should hold once
    `sources` (default: all of SOURCES) are ingested. Compare with

        SELECT channel, direction, count() FROM <db>.inquiry_events FINAL GROUP BY channel, direction
    """
    chosen = _chosen(sources)
    out: Counter[tuple[str, str]] = Counter()
    for row in truth.events:
        if row.source in chosen:
            out[(row.channel, row.direction)] += row.count
    return dict(out)


def expected_inquiries(truth: GroundTruth, sources: Iterable[str] | None = None) -> dict[tuple[str, ...], int]:
    """Inbound arrivals per (day, channel, task, department, site), as strings, for `sources`: the
    key of pipeline.demo.end_to_end.stored_inquiries (inquiry_minute, stage 'arrived', direction 'inbound')."""
    chosen = _chosen(sources)
    out: Counter[tuple[str, ...]] = Counter()
    for row in truth.events:
        if row.source in chosen and row.stage == "arrived" and row.direction == "inbound":
            out[(row.day.isoformat(), row.channel, row.task, row.department, row.site)] += row.count
    return dict(out)


def expected_event_count(truth: GroundTruth, sources: Iterable[str] | None = None) -> int:
    """Distinct events ClickHouse should hold once `sources` (default all) are ingested."""
    return sum(expected_by_channel(truth, sources).values())


EventKey = tuple[date, str, str, str, str, str, str]  # day, channel, direction, stage, task, department, site


REGISTRATIONS = ("resolved_true", "resolved_false", "web_first_true", "web_first_false", "with_contact_key")


@dataclass
class _QueueSums:
    arrived: int = 0
    answered: int = 0
    abandoned: int = 0
    closed: int = 0
    not_resolved: int = 0
    answered_within_service_level: int = 0
    answered_wait_seconds: float = 0.0
    closed_handle_seconds: float = 0.0


@dataclass
class _InquiryTally:
    """One inbound inquiry as its events tell it: for first-contact resolution."""

    arrived: datetime | None = None
    channel: str = ""
    task: str = ""
    department: str = ""
    requester: str = ""
    stages: list[str] = field(default_factory=list)
    flags: list[tuple[datetime, bool]] = field(default_factory=list)

    @property
    def served(self) -> bool:
        """Closed, registered, or a one-event inquiry off the queue channels (kpi_first_contact_resolution)."""
        return ("closed" in self.stages or bool(self.flags)
                or (len(self.stages) == 1 and self.channel not in ("phone", "walk_in")))


@dataclass
class SourceTally:
    """What one source's connector should make of its files, counted by the writer as it writes them.

    Writers call `event` once per distinct event with what the connector will put into it, and
    `stay` once per call or ticket with when it joined and left its queue. Requesters stay in
    memory: ground truth carries opaque ids (see `repeat_candidates`).
    """

    connector: str
    systems: list[str]
    files: list[str] = field(default_factory=list)
    records: int = 0
    events: Counter[EventKey] = field(default_factory=Counter)
    duplicates: int = 0
    rejected_at: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    registered: Counter[tuple[EventKey, str]] = field(default_factory=Counter)  # (event key, one of REGISTRATIONS)
    hourly: Counter[tuple[date, int, str]] = field(default_factory=Counter)  # inbound arrivals: day, hour, channel
    keyed: list[tuple[datetime, str, str, str]] = field(default_factory=list)  # at, requester, channel, task
    queues: dict[tuple[date, str, str], _QueueSums] = field(default_factory=dict)  # day, channel, place
    stays: list[tuple[str, str, int, int]] = field(default_factory=list)  # channel, place, joined, left (epochs)
    inquiries: dict[str, _InquiryTally] = field(default_factory=dict)  # inbound, by the writer's reference

    def event(
        self, epoch: float, channel: str, direction: str, stage: str, task: str, department: str, site: str = "",
        *, resolved: bool | None = None, web_first: bool | None = None, requester: str | None = None,
        queue: str = "", wait: float | None = None, handle: float | None = None, inquiry: str | None = None,
    ) -> None:
        """One event as the connector emits it: occurred_at `epoch` (cut to milliseconds, as events carry
        it), its resolved_first_contact and visited_web_first, the requester it is keyed by (the world's
        own value: the caller's 8-digit number, the writer's address, the CPR number; None: no key), its
        queue and its wait and handle seconds. `inquiry` names the inquiry the stages of a call or visit
        share; an event without it is an inquiry of its own."""
        at = datetime.fromtimestamp(epoch, UTC)
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        local = at.astimezone(TZ)
        key = (local.date(), channel, direction, stage, task, department if task != UNCLASSIFIED else "", site)
        self.events[key] += 1
        for name, flag in (("resolved", resolved), ("web_first", web_first)):
            if flag is not None:
                self.registered[(key, f"{name}_{'true' if flag else 'false'}")] += 1
        if requester:
            self.registered[(key, "with_contact_key")] += 1
        if direction != "inbound":
            return
        if channel != "web":
            record = self.inquiries.setdefault(inquiry or f"#{len(self.inquiries)}", _InquiryTally())
            record.stages.append(stage)
            record.requester = record.requester or requester or ""
            if resolved is not None:
                record.flags.append((at, resolved))
            if stage == "arrived":
                record.arrived, record.channel, record.task = at, channel, task
                record.department = department if task != UNCLASSIFIED else ""
        if stage == "arrived":
            self.hourly[(local.date(), local.hour, channel)] += 1
            if requester and channel != "web":
                self.keyed.append((at, requester, channel, task))
        if channel in ("phone", "walk_in"):
            sums = self.queues.setdefault((local.date(), channel, site if channel == "walk_in" else queue), _QueueSums())
            if stage == "arrived":
                sums.arrived += 1
            elif stage == "answered":
                sums.answered += 1
                sums.answered_wait_seconds += wait or 0.0
                sums.answered_within_service_level += wait is not None and wait <= SERVICE_LEVEL_SECONDS
            elif stage == "abandoned":
                sums.abandoned += 1
            else:
                sums.closed += 1
                sums.closed_handle_seconds += handle or 0.0
                sums.not_resolved += resolved is False

    def stay(self, channel: str, place: str, joined: int, left: int) -> None:
        """A call or ticket in its queue (place: queue or site) from `joined` until answered or abandoned at `left`."""
        self.stays.append((channel, place, joined, left))

    def truth(self) -> SourceTruth:
        return SourceTruth(
            connector=self.connector,
            systems=self.systems,
            files=self.files,
            records=self.records,
            events=sum(self.events.values()),
            duplicates=self.duplicates,
            rejected=len(self.rejected_at),
            rejected_at=self.rejected_at,
            skipped=dict(sorted(self.skipped.items())),
        )


@dataclass
class PlantedData:
    """Personal values as they are written, collected by every writer."""

    phone_numbers: set[str] = field(default_factory=set)
    cpr_numbers: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    email_addresses: set[str] = field(default_factory=set)
    ip_addresses: set[str] = field(default_factory=set)

    def phone(self, written: str, number: str) -> str:
        """A phone number as written, and the 8-digit number it is."""
        self.phone_numbers.update((written, number))
        return written

    def model(self) -> PersonalData:
        return PersonalData(
            phone_numbers=sorted(self.phone_numbers),
            cpr_numbers=sorted(self.cpr_numbers),
            names=sorted(self.names),
            email_addresses=sorted(self.email_addresses),
            ip_addresses=sorted(self.ip_addresses),
        )


def expected_first_contact(truth: GroundTruth, first: date, last: date, sources: Iterable[str] | None = None,
                           within_days: int = 7) -> dict[tuple[str, str], Counter[str]]:
    """kpi_first_contact_resolution's counts per (channel or '*', department or '*') for inquiries
    arriving in [first, last] once `sources` are read, for a period whose follow-up window has
    passed (nothing pending): served, registered, registered_resolved, inferred,
    inferred_resolved, unknown."""
    chosen = _chosen(sources)
    out: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def add(channel: str, department: str, counts: dict[str, int]) -> None:
        for scope in ((channel, department), (channel, "*"), ("*", department), ("*", "*")):
            out[scope].update(counts)

    for row in truth.first_contacts:
        if row.source in chosen and first <= row.day <= last:
            add(row.channel, row.department, {
                "served": row.served, "registered": row.registered, "registered_resolved": row.registered_resolved,
                "unknown": row.unknown, "inferred": row.inferred_alone, "inferred_resolved": row.inferred_alone})
    later: defaultdict[tuple[str, str], list[datetime]] = defaultdict(list)
    for arrival in truth.repeat_candidates:
        if arrival.source in chosen:
            later[(arrival.requester, arrival.task)].append(arrival.at)
    window = timedelta(days=within_days)
    for c in truth.first_contact_candidates:
        if c.source in chosen and first <= c.at.astimezone(TZ).date() <= last:
            back = any(c.at < at <= c.at + window for at in later[(c.requester, c.task)])
            add(c.channel, c.department, {"inferred": 1, "inferred_resolved": int(not back)})  # served: counted above
    return dict(out)

"""What happened to each inquiry, worked out in Python from the very events stored, by the
rules deploy/clickhouse/060_inquiry_outcome.sql documents: the reference first-contact
resolution (test_kpis.py) and the KOMHEN week (test_reports.py) are checked against."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from schemas import InquiryEvent

TZ = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class Outcome:
    arrival: InquiryEvent  # its task, channel, department, direction, requester, web-first
    served: bool
    abandoned: bool
    kind: str  # registered, inferred, pending, unknown (only where served)
    resolved: bool

    @property
    def inbound(self) -> bool:
        return self.arrival.direction.value == "inbound"


def outcomes(events: list[InquiryEvent], first: date, last: date, within_days: int = 7) -> list[Outcome]:
    """Every inquiry arriving in [first, last] (local days), web page views left out. Served: a
    closed call or visit, a registered resolution, or a one-event inquiry off the queue
    channels; abandoned: an abandoned call or ticket not served. Registered where a source
    flagged it (a transfer flags it not resolved); else inferred from the requester's key
    (resolved unless an inbound arrival by the same key on the same task follows within
    `within_days` x 24 h); registered or inferred, pending while those days reach past the
    newest arrival stored; else unknown."""
    inquiries: defaultdict[str, list[InquiryEvent]] = defaultdict(list)
    for e in events:
        if e.channel.value != "web":
            inquiries[e.inquiry_id or e.event_id].append(e)
    arrivals: defaultdict[tuple[str, str], list[tuple[object, str, str]]] = defaultdict(list)
    for key, parts in inquiries.items():
        for e in parts:
            if e.stage.value == "arrived" and e.contact_key and e.direction.value == "inbound":
                arrivals[(e.contact_key, e.task)].append((e.occurred_at, e.event_id, key))
    came_back = set()
    for times in arrivals.values():
        times.sort()
        for (at, _, key), (later, _, _) in pairwise(times):
            if later - at <= timedelta(days=within_days):  # type: ignore[operator]
                came_back.add(key)
    horizon = max(e.occurred_at for e in events if e.stage.value == "arrived")
    out = []
    for key, parts in inquiries.items():
        arrival = next((e for e in parts if e.stage.value == "arrived"), None)
        if arrival is None or not first <= arrival.occurred_at.astimezone(TZ).date() <= last:
            continue
        stages = {e.stage.value for e in parts}
        flags = [e for e in sorted(parts, key=lambda e: e.occurred_at) if e.resolved_first_contact is not None]
        served = "closed" in stages or bool(flags) or (
            len(parts) == 1 and arrival.channel.value not in ("phone", "walk_in"))
        abandoned = "abandoned" in stages and not served
        keyed = any(e.contact_key for e in parts)
        if (flags or keyed) and arrival.occurred_at + timedelta(days=within_days) > horizon:
            kind, resolved = "pending", False
        elif flags:
            kind, resolved = "registered", bool(flags[-1].resolved_first_contact)
        elif keyed:
            kind, resolved = "inferred", key not in came_back
        else:
            kind, resolved = "unknown", False
        out.append(Outcome(arrival, served, abandoned, kind, resolved))
    return out

"""Events for HTTP ingest (POST /v1/events): what a form platform, a chat system and a contact centre send themselves.

They arrive as InquiryEvents already: keyed, classified, free of personal data. The invalid
file holds events the endpoint must refuse, two of them with personal data in them.

Social Service runs its own cloud contact-centre platform, apart from the Asterisk PBX and the
ticket machine: two phone queues and the check-in screen of its reception, Socialcentret. It
posts every stage of every call and visit. Its IVR asks "Har du kigget på kommunens hjemmeside,
før du ringede? Tast 1 for ja, 2 for nej", and the check-in screen asks the same before it gives
a number: `visited_web_first` on the arrival, where the citizen answered (the only phone and
walk-in source that registers it). Agents and counter staff close each inquiry with a wrap-up
code, resolved at first contact or not (None when they skip it). Calls are keyed by the
caller's number (withheld numbers are not), visits by the mobile number typed for the "your
turn" text message; most callers and visitors are the department's home-care clients, who
call, come by and call again.

Each platform computes its contact keys itself, by the rule kanalpuls documents for its
contract (`contact_key`: HMAC-SHA256 of the identifier, hex, with the shared secret; here the
demo's): the ingest takes no raw identifier. The form platform keys the CPR number as typed,
dash and all, the others the 8-digit number.
"""

from __future__ import annotations

import hmac
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipeline.ground.settings import DEMO_SECRET
from pipeline.simulated.calendar import (
    PHONE_HOUR_DEMAND,
    PHONE_HOURS,
    WALK_IN_HOUR_DEMAND,
    WALK_IN_HOURS,
    WEEKDAY_DEMAND,
    opening_segments,
    poisson_times,
)
from pipeline.simulated.catalogue import TASK_LABELS
from pipeline.simulated.truth import SourceTally
from pipeline.simulated.world import CHAT_HOURS, WEB_HOUR_DEMAND, World
from schemas import InquiryEvent, SourceRef, make_event_id, make_inquiry_id

HTTP_FILE, HTTP_INVALID_FILE = "http_events.ndjson", "http_events_invalid.ndjson"
FORM_PLATFORM, CHAT_PLATFORM, CONTACT_CENTRE = "xflow", "puzzel-chat", "social-contact-centre"
# (form id, task, department, share): an external form platform reports each submitted form.
HTTP_FORMS = (
    ("dagtilbud-optagelse", "28.09.00", "Pladsanvisning", 0.4),
    ("pension-ansoegning", "32.18.00", "Borgerservice", 0.35),
    ("tilmelding-ledig", "23.02.00", "Jobcenter", 0.25),
)
HTTP_CHAT_QUEUES = (("borgerservice", "85.02.00", "Borgerservice", 0.6), ("jobcenter", "23.02.00", "Jobcenter", 0.4))
HTTP_FORMS_PER_HOUR, HTTP_CHATS_PER_HOUR = 1.5, 3.0
# Social Service's contact centre: its task (labelled by the platform itself), queues, reception.
SOCIAL_SERVICE = "Social Service"
SOCIAL_TASK, SOCIAL_TASK_LABEL = "27.36.00", "Personlig og praktisk hjælp og madservice"
CONTACT_CENTRE_QUEUES = (("hjemmepleje", 0.65), ("madservice", 0.35))
RECEPTION_SITE, RECEPTION_COUNTERS = "Socialcentret", 2
CONTACT_CENTRE_CALLS_PER_HOUR, RECEPTION_VISITS_PER_HOUR = 18.0, 5.0  # at demand factor 1, in opening hours
HOME_CARE_CLIENTS = 400  # the first citizens of the world: most callers and visitors, and often back
# IVR / check-in screen answers to "looked on the website first?" and the wrap-up codes: (yes, no, none).
WEB_FIRST_ANSWERS, RESOLVED_CODES = (0.35, 0.40, 0.25), (0.72, 0.20, 0.08)

Post = Callable[..., None]
SHARED_SECRET = DEMO_SECRET.encode()  # the secret the platforms share with kanalpuls, as `kanalpuls demo` runs it


def contact_key(identifier: str) -> str:
    """The contact_key a platform sends for a requester: HMAC-SHA256 hex of the identifier it holds."""
    return hmac.digest(SHARED_SECRET, identifier.encode(), "sha256").hex()


def write_http(world: World, tally: SourceTally) -> None:
    """Events a form platform, a chat system and a contact centre POST themselves: keyed, no personal data."""
    rng = world.rng("http")
    events: list[InquiryEvent] = []

    def event(system: str, reference: str, at: float, channel: str, stage: str, task: str, department: str,
              queue: str, requester: str | None, *, task_label: str | None = None, **extra: Any) -> None:
        """One event as posted; `requester` is the identifier its contact_key is made of (None: no key): who the
        platform knows the requester as, so also who the world counts them as."""
        at = round(at, 3)
        posted = InquiryEvent(
            event_id=make_event_id(system, reference, stage), inquiry_id=make_inquiry_id(system, reference),
            occurred_at=datetime.fromtimestamp(at, UTC),
            municipality=world.municipality, channel=channel, direction="inbound", stage=stage, task=task,
            task_label=TASK_LABELS.get(task, "") if task_label is None else task_label, department=department,
            queue=queue, requester_type="citizen", contact_key=contact_key(requester) if requester else None,
            source=SourceRef(system=system), **extra,
        )
        events.append(posted)
        tally.event(at, channel, "inbound", stage, task, department, posted.site,
                    resolved=posted.resolved_first_contact, web_first=posted.visited_web_first, requester=requester,
                    queue=queue, wait=posted.wait_seconds, handle=posted.handle_seconds, inquiry=f"{system}|{reference}")

    for n, at in enumerate(world.arrivals(rng, HTTP_FORMS_PER_HOUR, WEB_HOUR_DEMAND), start=1):
        form, task, department, _ = rng.choices(HTTP_FORMS, [f[-1] for f in HTTP_FORMS])[0]
        cpr = world.citizen(rng).cpr  # keyed as written, with its dash
        event(FORM_PLATFORM, f"{form}/{n}", at, "self_service", "arrived", task, department, f"xflow/{form}", cpr,
              inquiry_kind="transaction")
    for n, at in enumerate(world.open_arrivals(rng, HTTP_CHATS_PER_HOUR, CHAT_HOURS), start=1):
        queue, task, department, _ = rng.choices(HTTP_CHAT_QUEUES, [q[-1] for q in HTTP_CHAT_QUEUES])[0]
        phone = world.citizen(rng).phone
        reference = f"{queue}/{n}"
        wait = rng.expovariate(1 / 45)
        event(CHAT_PLATFORM, reference, at, "chat", "arrived", task, department, f"chat/{queue}", phone)
        if rng.random() < 0.15:
            event(CHAT_PLATFORM, reference, at + wait, "chat", "abandoned", task, department, f"chat/{queue}", phone,
                  wait_seconds=round(wait, 3))
            continue
        handle = rng.uniform(90, 900)
        event(CHAT_PLATFORM, reference, at + wait, "chat", "answered", task, department, f"chat/{queue}", phone,
              wait_seconds=round(wait, 3))
        event(CHAT_PLATFORM, reference, at + wait + handle, "chat", "closed", task, department, f"chat/{queue}", phone,
              handle_seconds=round(handle, 3), resolved_first_contact=rng.random() < 0.7)
    contact_centre(world, tally, event)
    events.sort(key=lambda e: (e.occurred_at, e.event_id))
    (world.out_dir / HTTP_FILE).write_text("".join(e.model_dump_json() + "\n" for e in events), encoding="utf-8")
    tally.files.append(HTTP_FILE)
    tally.records += len(events)

    citizen = world.citizen(rng)
    day = world.days[-1]
    template = events[0].model_dump(mode="json") if events else {
        "occurred_at": f"{day.isoformat()}T10:00:00.000Z", "municipality": world.municipality,
        "channel": "self_service", "stage": "arrived", "source": {"system": FORM_PLATFORM},
    }
    wrong = [
        {"channel": "fax"},
        {"contact_key": world.email(citizen.email)},  # the raw address, not its HMAC
        {"cpr": world.cpr(citizen.cpr)},  # a field the contract does not have
        {"occurred_at": f"{day.isoformat()}T10:00:00"},  # no time zone
        {"task": "85.6"},
        {"occurred_at": "1999-12-31T22:00:00.000Z"},
    ]
    # Ids of their own: were one accepted by mistake, it would not hide behind a valid event.
    invalid = [json.dumps(template | {"event_id": make_event_id(FORM_PLATFORM, f"invalid/{n}", "arrived")} | change)
               for n, change in enumerate(wrong, start=1)]
    invalid.append(json.dumps(template)[:80])  # cut off: not JSON
    (world.out_dir / HTTP_INVALID_FILE).write_text("".join(line + "\n" for line in invalid), encoding="utf-8")
    tally.files.append(HTTP_INVALID_FILE)
    tally.records += len(invalid)
    tally.rejected_at += [f"{HTTP_INVALID_FILE}:{n}" for n in range(1, len(invalid) + 1)]


# --------------------------------------------------------------------------- Social Service's contact centre


def contact_centre(world: World, tally: SourceTally, post: Post) -> None:
    """Social Service's calls and reception visits on open days, every stage posted with whole-second times."""
    rng = world.rng("contact-centre")  # its own stream: the forms and chats above stay as they were
    clients = world.citizens[:HOME_CARE_CLIENTS]

    def caller(keyed_share: float) -> str | None:
        """The number the platform keys: mostly a home-care client's; None when withheld or not typed."""
        r = rng.random()
        if r >= keyed_share:
            return None
        return (rng.choice(clients) if r < 0.75 * keyed_share else world.citizen(rng)).phone

    def answer(shares: tuple[float, float, float]) -> bool | None:
        return rng.choices((True, False, None), shares)[0]

    queues = [q for q, _ in CONTACT_CENTRE_QUEUES]
    calls = visits = 0
    for day in world.days:
        if day not in world.open_days:
            continue
        demand = WEEKDAY_DEMAND[day.weekday()]
        for hour, start, end in opening_segments(day, *PHONE_HOURS[day.weekday()]):
            for t in poisson_times(rng, start, end, CONTACT_CENTRE_CALLS_PER_HOUR * demand * PHONE_HOUR_DEMAND[hour]):
                calls += 1
                at, queue = int(t), rng.choices(queues, [w for _, w in CONTACT_CENTRE_QUEUES])[0]
                call = (CONTACT_CENTRE, f"{queue}/{calls}")
                number, web_first = caller(0.95), answer(WEB_FIRST_ANSWERS)
                post(*call, at, "phone", "arrived", SOCIAL_TASK, SOCIAL_SERVICE, queue, number,
                     task_label=SOCIAL_TASK_LABEL, visited_web_first=web_first, inquiry_kind="dialogue")
                if rng.random() < 0.08:  # hangs up in the queue
                    wait = int(10 + rng.expovariate(1 / 70))
                    post(*call, at + wait, "phone", "abandoned", SOCIAL_TASK, SOCIAL_SERVICE, queue, None,
                         task_label=SOCIAL_TASK_LABEL, wait_seconds=wait, inquiry_kind="dialogue")
                else:
                    wait = int(rng.expovariate(1 / 30))
                    talk = int(min(1200, max(45, rng.lognormvariate(math.log(240), 0.5))))
                    post(*call, at + wait, "phone", "answered", SOCIAL_TASK, SOCIAL_SERVICE, queue, None,
                         task_label=SOCIAL_TASK_LABEL, wait_seconds=wait, inquiry_kind="dialogue")
                    post(*call, at + wait + talk, "phone", "closed", SOCIAL_TASK, SOCIAL_SERVICE, queue, None,
                         task_label=SOCIAL_TASK_LABEL, handle_seconds=talk, resolved_first_contact=answer(RESOLVED_CODES),
                         inquiry_kind="dialogue")
                tally.stay("phone", queue, at, at + wait)

        counters = [0] * RECEPTION_COUNTERS
        for hour, start, end in opening_segments(day, *WALK_IN_HOURS[day.weekday()]):
            for t in poisson_times(rng, start, end, RECEPTION_VISITS_PER_HOUR * demand * WALK_IN_HOUR_DEMAND[hour]):
                visits += 1
                _visit(post, tally, rng, day.isoformat(), visits, int(t), counters, caller(0.75),
                       answer(WEB_FIRST_ANSWERS), answer(RESOLVED_CODES))


def _visit(post: Post, tally: SourceTally, rng: random.Random, day: str, n: int, issued: int, counters: list[int],
           number: str | None, web_first: bool | None, resolved: bool | None) -> None:
    """One check-in at Socialcentret: called at the first free counter, unless the visitor gives up first."""
    visit = (CONTACT_CENTRE, f"{RECEPTION_SITE}/{day}/{n}")
    common: dict[str, Any] = {"task_label": SOCIAL_TASK_LABEL, "site": RECEPTION_SITE, "inquiry_kind": "dialogue"}
    post(*visit, issued, "walk_in", "arrived", SOCIAL_TASK, SOCIAL_SERVICE, "reception", number,
         visited_web_first=web_first, **common)
    idx = min(range(len(counters)), key=counters.__getitem__)
    called = max(issued, counters[idx]) + rng.randint(0, 30)
    patience = int(rng.expovariate(1 / 1500))
    if issued + patience < called:  # left before being called
        post(*visit, issued + patience, "walk_in", "abandoned", SOCIAL_TASK, SOCIAL_SERVICE, "reception", None,
             wait_seconds=patience, **common)
        tally.stay("walk_in", RECEPTION_SITE, issued, issued + patience)
        return
    duration = int(min(2400, max(120, rng.lognormvariate(math.log(600), 0.5))))
    counters[idx] = called + duration + rng.randint(10, 60)
    post(*visit, called, "walk_in", "answered", SOCIAL_TASK, SOCIAL_SERVICE, "reception", None,
         wait_seconds=called - issued, **common)
    post(*visit, called + duration, "walk_in", "closed", SOCIAL_TASK, SOCIAL_SERVICE, "reception", None,
         handle_seconds=duration, resolved_first_contact=resolved, **common)
    tally.stay("walk_in", RECEPTION_SITE, issued, called)

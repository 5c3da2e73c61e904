"""Events for HTTP ingest (POST /v1/events): what a form platform and a chat system send themselves.

They arrive as InquiryEvents already: keyed, classified, free of personal data. The invalid
file holds events the endpoint must refuse, two of them with personal data in them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.privacy import ContactKeyer
from pipeline.settings import DEMO_SECRET
from pipeline.simulated.world import CHAT_HOURS, WEB_HOUR_DEMAND, World
from pipeline.simulator import SourceTally
from schemas import InquiryEvent, SourceRef, make_event_id

HTTP_FILE, HTTP_INVALID_FILE = "http_events.ndjson", "http_events_invalid.ndjson"
FORM_PLATFORM, CHAT_PLATFORM = "xflow", "puzzel-chat"
# (form id, task, department, share): an external form platform reports each submitted form.
HTTP_FORMS = (
    ("dagtilbud-optagelse", "28.09.00", "Pladsanvisning", 0.4),
    ("pension-ansoegning", "32.18.00", "Borgerservice", 0.35),
    ("tilmelding-ledig", "23.02.00", "Jobcenter", 0.25),
)
HTTP_CHAT_QUEUES = (("borgerservice", "85.02.00", "Borgerservice", 0.6), ("jobcenter", "23.02.00", "Jobcenter", 0.4))
HTTP_FORMS_PER_HOUR, HTTP_CHATS_PER_HOUR = 1.5, 3.0


def write_http(world: World, tally: SourceTally) -> None:
    """Events a form platform and a chat system POST themselves: keyed, no personal data."""
    rng = world.rng("http")
    keyer = ContactKeyer(DEMO_SECRET.encode())  # as kanalpuls keys them with the demo secret: repeat contacts match
    labels = world.mapping.tasks
    events: list[InquiryEvent] = []

    def event(system: str, reference: str, at: float, channel: str, stage: str, task: str, department: str,
              queue: str, key: str | None, **extra: Any) -> None:
        occurred = datetime.fromtimestamp(round(at, 3), UTC)
        events.append(InquiryEvent(
            event_id=make_event_id(system, reference, stage), occurred_at=occurred, municipality=world.municipality,
            channel=channel, direction="inbound", stage=stage, task=task, task_label=labels.get(task, ""),
            department=department, queue=queue, requester_type="citizen", contact_key=key,
            source=SourceRef(system=system), **extra,
        ))
        tally.event(at, channel, "inbound", stage, task, department)

    for n, at in enumerate(world.arrivals(rng, HTTP_FORMS_PER_HOUR, WEB_HOUR_DEMAND), start=1):
        form, task, department, _ = rng.choices(HTTP_FORMS, [f[-1] for f in HTTP_FORMS])[0]
        key = keyer.key(world.citizen(rng).cpr)
        event(FORM_PLATFORM, f"{form}/{n}", at, "self_service", "arrived", task, department, f"xflow/{form}", key,
              inquiry_kind="transaction")
    for n, at in enumerate(world.open_arrivals(rng, HTTP_CHATS_PER_HOUR, CHAT_HOURS), start=1):
        queue, task, department, _ = rng.choices(HTTP_CHAT_QUEUES, [q[-1] for q in HTTP_CHAT_QUEUES])[0]
        key = keyer.key(world.citizen(rng).phone)
        reference = f"{queue}/{n}"
        wait = rng.expovariate(1 / 45)
        event(CHAT_PLATFORM, reference, at, "chat", "arrived", task, department, f"chat/{queue}", key)
        if rng.random() < 0.15:
            event(CHAT_PLATFORM, reference, at + wait, "chat", "abandoned", task, department, f"chat/{queue}", key,
                  wait_seconds=round(wait, 3))
            continue
        handle = rng.uniform(90, 900)
        event(CHAT_PLATFORM, reference, at + wait, "chat", "answered", task, department, f"chat/{queue}", key,
              wait_seconds=round(wait, 3))
        event(CHAT_PLATFORM, reference, at + wait + handle, "chat", "closed", task, department, f"chat/{queue}", key,
              handle_seconds=round(handle, 3), resolved_first_contact=rng.random() < 0.7)
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

"""Plain builders of test data shared by several test modules (no services: those live in conftest.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from schemas import Channel, InquiryEvent, SourceRef, Stage, make_event_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def phone_event(n: int, *, stage: Stage = Stage.arrived, at: datetime = T0, **overrides: Any) -> InquiryEvent:
    """Call number `n` of a Pas queue at `stage`; any field can be overridden."""
    fields: dict[str, Any] = {
        "event_id": make_event_id("pbx", f"call-{n}", stage.value),
        "occurred_at": at,
        "municipality": "751",
        "channel": Channel.phone,
        "stage": stage,
        "task": "85.06.00",
        "task_label": "Pas",
        "department": "Borgerservice",
        "queue": "pas",
        "source": SourceRef(system="pbx", file="queue_log", line=n + 1, offset=n * 80),
    }
    fields.update(overrides)
    return InquiryEvent(**fields)

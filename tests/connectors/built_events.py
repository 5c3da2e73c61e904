"""What every event a parser builds must be: exactly what InquiryEvent's validation makes of it.

Parsers build their events with connectors.base.EventBuilder, which skips the model's
validation for values it can vouch for; their tests run every event they produce through
`assert_as_validated`, so the shortcut cannot drift from the schema unnoticed.
"""

from __future__ import annotations

from schemas import InquiryEvent


def _types(event: InquiryEvent) -> dict[str, type]:
    return {name: type(value) for name, value in event.__dict__.items()} | {
        f"source.{name}": type(value) for name, value in event.source.__dict__.items()
    }


def assert_as_validated(event: InquiryEvent) -> None:
    """`event` equals InquiryEvent's validation of its Python values and of its JSON: every field
    present in declaration order, of the type validation gives it, and the same JSON out.
    (occurred_at serialises as milliseconds, also in Python mode: a dumped event comes back
    with its time cut to them.)"""
    assert type(event) is InquiryEvent
    assert list(event.__dict__) == list(InquiryEvent.model_fields)
    at = event.occurred_at
    on_the_wire = event.model_copy(update={"occurred_at": at.replace(microsecond=at.microsecond // 1000 * 1000)})
    for validated in (
        InquiryEvent.model_validate(event.model_dump()),
        InquiryEvent.model_validate(event.model_dump(mode="json")),
        InquiryEvent.model_validate_json(event.model_dump_json()),
    ):
        assert validated == on_the_wire
        assert _types(validated) == _types(event)
        assert validated.model_dump_json() == event.model_dump_json()
        assert validated.model_dump(mode="json") == event.model_dump(mode="json")
        assert hash(validated) == hash(on_the_wire)
        assert validated.partition_key == event.partition_key

"""EventBuilder (connectors/base.py) builds exactly the events, and raises exactly the errors,
of building the same values with InquiryEvent's full validation."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.base import EventBuilder, Location
from connectors.mapping import Classification
from pipeline.ground.privacy import ContactKeyer
from schemas import Channel, Direction, InquiryEvent, InquiryKind, RequesterType, Stage, make_event_id, make_inquiry_id
from schemas.inquiry import EARLIEST_YEAR, LATEST_YEAR
from tests.connectors.built_events import assert_as_validated

KEYER = ContactKeyer(b"test-secret")
CLASSIFIED = Classification(
    task="85.06.00", task_label="Pas", department="Borgerservice",
    inquiry_kind=InquiryKind.information, requester_type=RequesterType.citizen,
)  # fmt: skip
AT = datetime(2026, 3, 24, 8, 15, 30, tzinfo=timezone.utc)
LOCATION = Location("asterisk-pbx1", "/var/log/asterisk/queue_log", 7, 1234)


def validated(municipality: str, location: Location, reference: str, channel: Channel, stage: Stage,
              occurred_at: datetime, classification: Classification, queue: str, *, namespace: str | None = None,
              department: str | None = None, **optional: object) -> InquiryEvent:
    """The same event built as the connectors did before EventBuilder: every value validated (the
    ids in `namespace` when given, as the Exchange connector did; `department` in place of the
    classification's, as the channel export did with its department column)."""
    ids = location.system if namespace is None else namespace
    fields = classification.event_fields()
    if department is not None:
        fields["department"] = department
    return InquiryEvent(
        event_id=make_event_id(ids, reference, stage.value),
        inquiry_id=make_inquiry_id(ids, reference),
        occurred_at=occurred_at,
        municipality=municipality,
        channel=channel,
        stage=stage,
        **fields,
        queue=queue,
        **optional,
        source={"system": location.system, "file": location.file, "line": location.line, "offset": location.offset},
    )


def _errors(exc: ValidationError) -> list[tuple[object, ...]]:
    return [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]


def assert_builds_as_validated(municipality: str, *args: object, **optional: object) -> InquiryEvent | None:
    """EventBuilder(municipality).event(...) equals the validated event, or raises its very errors."""
    try:
        expected = validated(municipality, *args, **optional)  # type: ignore[arg-type]
    except ValidationError as exc:
        with pytest.raises(ValidationError) as built:
            EventBuilder(municipality).event(*args, **optional)  # type: ignore[arg-type]
        assert _errors(built.value) == _errors(exc)
        return None
    event = EventBuilder(municipality).event(*args, **optional)  # type: ignore[arg-type]
    assert event == expected
    assert event.model_dump_json() == expected.model_dump_json()
    assert {k: type(v) for k, v in event.__dict__.items()} == {k: type(v) for k, v in expected.__dict__.items()}
    return event


def test_an_event_of_trusted_values_is_the_validated_event_and_survives_its_json():
    event = assert_builds_as_validated(
        "751", LOCATION, "1709543520.101|pas", Channel.phone, Stage.closed, AT, CLASSIFIED, "pas",
        wait_seconds=12, handle_seconds=180, resolved_first_contact=False, contact_key=KEYER.key("12345678"),
    )  # fmt: skip
    assert event is not None
    assert event.wait_seconds == 12.0 and type(event.wait_seconds) is float
    assert event.source.line == 7 and event.direction is Direction.inbound
    assert_as_validated(event)


def test_a_local_time_is_converted_to_utc_as_validation_does():
    local = datetime(2026, 3, 24, 9, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    event = assert_builds_as_validated("751", LOCATION, "r", Channel.web, Stage.arrived, local, CLASSIFIED, "/x*")
    assert event is not None and event.occurred_at == AT and event.occurred_at.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "optional",
    [
        {"site": "Borgerservice Rådhuset", "appointment": True},  # a walk-in ticket export
        {"site": "Gellerup", "appointment": False, "wait_seconds": 208.0},
        {"visited_web_first": True, "resolved_first_contact": False, "direction": Direction.outbound},  # an export
        {"department": "Teknik og Miljø"},  # an export's department column in place of the rule's
        {"department": ""},
        {"namespace": "exchange", "contact_key": KEYER.key("jens@example.com")},  # Exchange's organisation
    ],
)
def test_optional_fields_of_exports_and_mailboxes_build_as_validated(optional):
    event = assert_builds_as_validated(
        "751", LOCATION, "A042|2026-03-24", Channel.walk_in, Stage.arrived, AT, CLASSIFIED, "Pas", **optional
    )
    assert event is not None
    assert_as_validated(event)
    for name in ("site", "appointment", "visited_web_first", "department"):
        if name in optional:
            assert getattr(event, name) == optional[name]


def test_namespace_replaces_the_system_in_both_ids_and_not_in_the_source():
    event = EventBuilder("751").event(LOCATION, "m|box|inbound", Channel.email, Stage.arrived, AT, CLASSIFIED,
                                      "box", namespace="exchange")
    assert event.event_id == make_event_id("exchange", "m|box|inbound", "arrived")
    assert event.inquiry_id == make_inquiry_id("exchange", "m|box|inbound")
    assert event.source.system == LOCATION.system


@pytest.mark.parametrize(
    ("optional", "expected"),
    [
        ({"appointment": "yes"}, {"appointment": True}),  # not a bool: validation converts it
        ({"visited_web_first": 0}, {"visited_web_first": False}),
        ({"resolved_first_contact": 1}, {"resolved_first_contact": True}),
    ],
)
def test_a_yes_no_value_that_is_no_bool_is_converted_by_validation(optional, expected):
    event = assert_builds_as_validated("751", LOCATION, "r", Channel.letter, Stage.arrived, AT, CLASSIFIED, "x",
                                       **optional)
    assert event is not None and {name: getattr(event, name) for name in expected} == expected
    assert all(type(getattr(event, name)) is bool for name in expected)


@pytest.mark.parametrize(
    ("municipality", "location", "occurred_at", "optional", "field"),
    [
        ("7510", LOCATION, AT, {}, "municipality"),
        ("", LOCATION, AT, {}, "municipality"),
        ("751", Location("pbx", "f", 0, 0), AT, {}, "source.line"),
        ("751", Location("pbx", "f", 1, -1), AT, {}, "source.offset"),
        ("751", LOCATION, datetime(2100, 1, 1, tzinfo=timezone.utc), {}, "occurred_at"),
        ("751", LOCATION, datetime(1999, 12, 31, 23, tzinfo=timezone.utc), {}, "occurred_at"),
        ("751", LOCATION, datetime(2026, 3, 24, 8, 15), {}, "occurred_at"),  # no time zone
        ("751", LOCATION, AT, {"wait_seconds": -1}, "wait_seconds"),
        ("751", LOCATION, AT, {"handle_seconds": math.nan}, "handle_seconds"),
        ("751", LOCATION, AT, {"site": "s" * 201}, "site"),
        ("751", LOCATION, AT, {"department": "d" * 201}, "department"),
        ("751", LOCATION, AT, {"appointment": "maybe"}, "appointment"),
        ("751", LOCATION, AT, {"visited_web_first": "maybe"}, "visited_web_first"),
    ],
)
def test_a_value_the_parser_cannot_vouch_for_is_rejected_by_validation_naming_the_field(
    municipality, location, occurred_at, optional, field
):
    with pytest.raises(ValidationError) as caught:
        EventBuilder(municipality).event(
            location, "r", Channel.phone, Stage.arrived, occurred_at, CLASSIFIED, "pas", **optional
        )
    assert field in {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


_CLASSIFICATIONS = st.builds(
    Classification,
    task=st.sampled_from(["unclassified", "85.06.00", "02.34.00"]),
    task_label=st.text(max_size=12),
    department=st.text(max_size=12),
    inquiry_kind=st.sampled_from(InquiryKind),
    requester_type=st.sampled_from(RequesterType),
)
# The yes/no fields: what parsers pass, and values validation converts (1, "yes") or refuses.
_FLAGS = st.sampled_from([None, True, False, 1, 0, "yes", "maybe"])
_ZONES = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))])
_DURATIONS = st.one_of(
    st.none(), st.integers(min_value=-3, max_value=10**9), st.integers(min_value=2**52, max_value=2**54), st.just(10**400), st.floats(allow_nan=True, allow_infinity=True)
)


@settings(max_examples=500, deadline=None)
@given(
    municipality=st.one_of(st.just("751"), st.text(alphabet="0123456789a\n", max_size=4)),
    location=st.builds(
        Location, st.text(max_size=10), st.text(max_size=20),
        st.integers(min_value=-1, max_value=10**12), st.integers(min_value=-1, max_value=10**12),
    ),  # fmt: skip
    reference=st.text(max_size=30),
    channel=st.sampled_from(Channel),
    stage=st.sampled_from(Stage),
    occurred_at=st.datetimes(datetime(1995, 1, 1), datetime(2105, 1, 1), timezones=_ZONES),
    classification=_CLASSIFICATIONS,
    queue=st.text(max_size=20),
    wait=_DURATIONS,
    handle=_DURATIONS,
    resolved=_FLAGS,
    contact=st.one_of(st.none(), st.text(min_size=1, max_size=15).map(KEYER.key)),
    direction=st.sampled_from(Direction),
    site=st.one_of(st.text(max_size=12), st.just("s" * 201)),
    appointment=_FLAGS,
    web_first=_FLAGS,
    department=st.one_of(st.none(), st.text(max_size=12), st.just("d" * 201)),
    namespace=st.one_of(st.none(), st.text(max_size=10)),
)
def test_any_values_build_the_validated_event_or_raise_its_errors(
    municipality, location, reference, channel, stage, occurred_at, classification, queue, wait, handle, resolved,
    contact, direction, site, appointment, web_first, department, namespace,
):
    event = assert_builds_as_validated(
        municipality, location, reference, channel, stage, occurred_at, classification, queue,
        wait_seconds=wait, handle_seconds=handle, resolved_first_contact=resolved, contact_key=contact,
        direction=direction, site=site, appointment=appointment, visited_web_first=web_first,
        department=department, namespace=namespace,
    )  # fmt: skip
    # What the model accepts but cannot read back from its JSON (as before EventBuilder): an
    # infinite duration (JSON null), a local time of 2000 that is 1999 in UTC. Parsers make neither.
    if (
        event is not None
        and all(v is None or math.isfinite(v) for v in (wait, handle))
        and EARLIEST_YEAR <= event.occurred_at.year <= LATEST_YEAR
    ):
        assert_as_validated(event)

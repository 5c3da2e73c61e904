"""The event contract: the committed JSON Schema files, ids, timestamps, validation, keys."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import Channel, DeadLetter, InquiryEvent, SourceRef, Stage, make_event_id
from schemas.export import SCHEMA_DIR, json_schema_documents, write_json_schemas

CANONICAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def event(**overrides: Any) -> InquiryEvent:
    fields: dict[str, Any] = {
        "event_id": make_event_id("asterisk-pbx1", "1366720340.303267|pas", "arrived"),
        "occurred_at": datetime(2026, 3, 2, 9, 15, 30, 250_000, tzinfo=timezone.utc),
        "municipality": "751",
        "channel": Channel.phone,
        "stage": Stage.arrived,
        "task": "85.06.00",
        "task_label": "Pas",
        "department": "Borgerservice",
        "queue": "pas",
        "wait_seconds": 42.0,
        "source": SourceRef(system="asterisk-pbx1", file="/var/log/asterisk/queue_log", line=12, offset=811),
    }
    fields.update(overrides)
    return InquiryEvent(**fields)


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/$defs/")
    return root["$defs"][ref.removeprefix("#/$defs/")]


def enum_values(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    return set(resolve(schema, root).get("enum", ()))


# --------------------------------------------------------------------------- schema files


@pytest.mark.parametrize("name", ["inquiry_event.v1.json", "dead_letter.v1.json"])
def test_committed_schema_file_matches_the_model(name: str) -> None:
    committed = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert committed == json_schema_documents()[name], (
        f"schemas/{name} is stale: run `python -m schemas.export` and commit the result"
    )


def test_written_schema_files_are_sorted_pretty_json_with_trailing_newline(tmp_path: Path) -> None:
    written = write_json_schemas(tmp_path)
    assert sorted(p.name for p in written) == ["dead_letter.v1.json", "inquiry_event.v1.json"]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert text == (SCHEMA_DIR / path.name).read_text(encoding="utf-8")


def test_schema_documents_carry_dialect_id_and_title() -> None:
    documents = json_schema_documents()
    for name, document in documents.items():
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"] == f"https://kanalpuls.dk/schemas/{name}"
        assert document["title"] and document["description"]
        assert document["additionalProperties"] is False


def test_occurred_at_is_a_date_time_string_in_the_wire_schema() -> None:
    occurred_at = json_schema_documents()["inquiry_event.v1.json"]["properties"]["occurred_at"]
    assert occurred_at["type"] == "string"
    assert occurred_at["format"] == "date-time"


def test_dead_letter_rejected_at_is_a_date_time_string_in_the_wire_schema() -> None:
    rejected_at = json_schema_documents()["dead_letter.v1.json"]["properties"]["rejected_at"]
    assert (rejected_at["type"], rejected_at["format"]) == ("string", "date-time")


def test_schema_required_fields_and_enums_equal_the_model() -> None:
    # jsonschema is not installed in the venv, so the schema is checked structurally.
    schema = json_schema_documents()["inquiry_event.v1.json"]
    required = {name for name, field in InquiryEvent.model_fields.items() if field.is_required()}
    assert set(schema["required"]) == required == {
        "event_id", "occurred_at", "municipality", "channel", "stage", "source",
    }
    props = schema["properties"]
    assert set(props) == set(InquiryEvent.model_fields)
    for name in ("channel", "direction", "stage", "requester_type", "inquiry_kind"):
        enum_type = InquiryEvent.model_fields[name].annotation
        assert enum_values(props[name], schema) == {member.value for member in enum_type}, name
    source = resolve(props["source"], schema)
    assert set(source["required"]) == {"system"}
    assert source["additionalProperties"] is False


def test_event_satisfies_its_own_schema_structurally() -> None:
    schema = json_schema_documents()["inquiry_event.v1.json"]
    wire = json.loads(event(site="Rådhuset", channel=Channel.walk_in).model_dump_json())
    assert set(schema["required"]) <= set(wire)
    assert set(wire) <= set(schema["properties"])  # additionalProperties: false
    for name, value in wire.items():
        prop = resolve(schema["properties"][name], schema)
        if "enum" in prop:
            assert value in prop["enum"], name
        if "pattern" in prop:
            assert re.search(prop["pattern"], value), name
        if "const" in prop:
            assert value == prop["const"], name
        if prop.get("type") == "string":
            assert isinstance(value, str), name
    for name in ("event_id", "municipality", "task"):
        # patterns in the schema are the model's: a value the schema refuses, the model refuses
        pattern = schema["properties"][name]["pattern"]
        assert not re.search(pattern, "x")
        with pytest.raises(ValidationError):
            event(**{name: "x"})


# --------------------------------------------------------------------------- event id


def test_event_id_is_stable_for_the_same_source_record() -> None:
    first = make_event_id("asterisk-pbx1", "1366720340.303267|pas", "arrived")
    assert first == make_event_id("asterisk-pbx1", "1366720340.303267|pas", "arrived")
    assert re.fullmatch(r"[0-9a-f]{32}", first)


def test_event_id_differs_by_stage_system_and_reference() -> None:
    base = make_event_id("asterisk-pbx1", "1366720340.303267|pas", "arrived")
    assert make_event_id("asterisk-pbx1", "1366720340.303267|pas", "answered") != base
    assert make_event_id("asterisk-pbx2", "1366720340.303267|pas", "arrived") != base
    assert make_event_id("asterisk-pbx1", "1366720340.303268|pas", "arrived") != base


def test_event_id_separator_keeps_fields_apart() -> None:
    # "a|b" + "c" must not collide with "a" + "b|c": the unit separator sits between fields
    assert make_event_id("ab", "c", "arrived") != make_event_id("a", "bc", "arrived")


# --------------------------------------------------------------------------- occurred_at


def test_occurred_at_with_offset_is_stored_as_utc() -> None:
    local = datetime(2026, 6, 1, 10, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=2)))
    got = event(occurred_at=local).occurred_at
    assert got.utcoffset() == timedelta(0)
    assert got == local
    assert (got.hour, got.minute) == (8, 0)


def test_occurred_at_serializes_as_utc_z_with_milliseconds() -> None:
    local = datetime(2026, 6, 1, 10, 0, 5, 123_456, tzinfo=timezone(timedelta(hours=2)))
    wire = json.loads(event(occurred_at=local).model_dump_json())["occurred_at"]
    assert wire == "2026-06-01T08:00:05.123Z"
    assert CANONICAL_TIME.match(wire)


def test_occurred_at_whole_second_still_has_three_millisecond_digits() -> None:
    wire = json.loads(event(occurred_at=datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)).model_dump_json())
    assert wire["occurred_at"] == "2026-01-05T07:00:00.000Z"


def test_occurred_at_offset_string_parses_to_utc() -> None:
    parsed = InquiryEvent.model_validate_json(
        event().model_dump_json().replace("2026-03-02T09:15:30.250Z", "2026-03-02T10:00:00+01:00")
    )
    assert parsed.occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    assert parsed.occurred_at.tzinfo == timezone.utc


def test_naive_occurred_at_is_rejected() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        event(occurred_at=datetime(2026, 3, 2, 9, 0))


def test_event_round_trips_through_json() -> None:
    original = event(contact_key="ab" * 32, site="Rådhuset")
    assert InquiryEvent.model_validate_json(original.model_dump_json()) == original.model_copy(
        update={"occurred_at": original.occurred_at.replace(microsecond=250_000)}
    )


# --------------------------------------------------------------------------- validation


def test_event_is_frozen() -> None:
    e = event()
    with pytest.raises(ValidationError):
        e.task = "85.08.00"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        e.source.line = 13  # type: ignore[misc]


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        event(caller_number="12345678")
    with pytest.raises(ValidationError, match="extra"):
        InquiryEvent.model_validate_json(event().model_dump_json()[:-1] + ',"cpr":"0101901234"}')


@pytest.mark.parametrize("value", ["75", "0751", "abc", "75a", ""])
def test_municipality_must_be_three_digits(value: str) -> None:
    with pytest.raises(ValidationError, match="municipality"):
        event(municipality=value)


@pytest.mark.parametrize("value", ["85.06", "85.06.0", "85-06-00", "Pas", "UNCLASSIFIED", ""])
def test_task_must_be_a_kle_code_or_unclassified(value: str) -> None:
    with pytest.raises(ValidationError, match="task"):
        event(task=value)


def test_unclassified_and_kle_tasks_are_accepted() -> None:
    assert event(task="unclassified").task == "unclassified"
    assert event(task="02.34.00").task == "02.34.00"


@pytest.mark.parametrize("value", ["ab" * 31, "AB" * 32, "g" * 64, "12345678", "ab" * 33])
def test_contact_key_must_be_64_lowercase_hex(value: str) -> None:
    with pytest.raises(ValidationError, match="contact_key"):
        event(contact_key=value)


def test_negative_wait_is_rejected() -> None:
    with pytest.raises(ValidationError, match="wait_seconds"):
        event(wait_seconds=-1.0)


def test_unknown_channel_is_rejected() -> None:
    with pytest.raises(ValidationError, match="channel"):
        event(channel="fax")


# --------------------------------------------------------------------------- partition key


def test_walk_in_at_a_site_is_keyed_by_site() -> None:
    e = event(channel=Channel.walk_in, site="Rådhuset", task="85.06.00")
    assert e.partition_key == "751/site/Rådhuset"
    # every stage of the visit, and every task at the site, share the key: one ordered partition
    assert event(channel=Channel.walk_in, site="Rådhuset", task="85.08.00", stage=Stage.answered).partition_key == (
        e.partition_key
    )


def test_phone_event_is_keyed_by_channel_and_task() -> None:
    e = event(channel=Channel.phone, task="85.06.00")
    assert e.partition_key == "751/phone/85.06.00"
    assert event(channel=Channel.phone, task="85.06.00", stage=Stage.closed).partition_key == e.partition_key
    assert event(channel=Channel.phone, task="unclassified").partition_key == "751/phone/unclassified"


# --------------------------------------------------------------------------- dead letter


def test_dead_letter_rejects_unknown_fields_and_naive_time() -> None:
    letter = {
        "connector": "asterisk_queue_log",
        "source": {"system": "asterisk-pbx1", "file": "queue_log", "line": 3, "offset": 120},
        "reason": "line 3 of queue_log: 4 fields, expected 6-10 separated by |",
        "raw": "1366720340|x|y|z",
        "rejected_at": "2026-03-02T09:00:00Z",
    }
    assert DeadLetter.model_validate(letter).source.line == 3
    with pytest.raises(ValidationError, match="extra"):
        DeadLetter.model_validate({**letter, "payload": "x"})
    with pytest.raises(ValidationError, match="rejected_at"):
        DeadLetter.model_validate({**letter, "rejected_at": "2026-03-02T09:00:00"})

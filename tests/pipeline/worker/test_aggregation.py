"""The worker's arithmetic without Kafka or ClickHouse: decode, drop duplicates, roll up."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sinks.clickhouse import STORE_COLUMNS, to_store_table
from pipeline.worker.aggregation import (
    ROLLUP_DIMENSIONS,
    DedupeIndex,
    add_sums,
    dead_letter_json,
    minute_rollup,
    refused_dead_letter,
    table_updates,
)
from schemas import Channel, InquiryEvent, SourceRef, Stage
from schemas.wire import Message, decode_messages
from tests.factories import T0, phone_event

event = phone_event


def batch(events: list[InquiryEvent]) -> bytes:
    """One Kafka message value as a connector writes it."""
    return b"\n".join(e.model_dump_json().encode() for e in events)


def line(e: InquiryEvent, **changes: Any) -> bytes:
    data = orjson.loads(e.model_dump_json())
    for key, value in changes.items():
        if value is _DROP:
            del data[key]
        else:
            data[key] = value
    return orjson.dumps(data)


_DROP = object()


def decoded(events: list[InquiryEvent], partition: int = 0) -> pa.Table:
    result = decode_messages([Message(batch(events), partition, 0)])
    assert not result.invalid
    return result.events


# --------------------------------------------------------------------------- decoding


def test_canonical_batches_decode_in_order_with_their_partitions() -> None:
    first = [event(n) for n in range(3)]
    second = [event(n) for n in range(3, 5)]
    result = decode_messages([Message(batch(first), 4, 100), Message(batch(second), 1, 7)])
    assert result.invalid == []
    assert result.events.num_rows == 5
    assert result.events.column("partition").to_pylist() == [4, 4, 4, 1, 1]
    assert result.events.column("event_id").to_pylist() == [e.event_id for e in first + second]
    assert result.events.column("occurred_at").to_pylist() == [T0] * 5


def test_decoded_row_carries_every_field_of_the_event() -> None:
    e = event(1, site="Rådhuset", channel=Channel.walk_in, wait_seconds=12.5, handle_seconds=300.0,
              appointment=True, contact_key="ab" * 32, at=T0 + timedelta(milliseconds=123))
    row = decoded([e]).to_pylist()[0]
    assert row["occurred_at"] == T0 + timedelta(milliseconds=123)
    assert (row["channel"], row["site"], row["wait_seconds"], row["handle_seconds"]) == ("walk_in", "Rådhuset", 12.5, 300.0)
    assert (row["appointment"], row["contact_key"], row["task_label"]) == (True, "ab" * 32, "Pas")
    assert row["source"] == {"system": "pbx", "file": "queue_log", "line": 2, "offset": 80}


def test_trailing_newline_and_empty_messages_are_harmless() -> None:
    result = decode_messages([Message(batch([event(1)]) + b"\n", 0, 0), Message(b"", 1, 1), Message(b"\n", 2, 2)])
    assert result.events.num_rows == 1 and result.invalid == []


def test_no_messages_give_an_empty_table_with_a_partition_column() -> None:
    result = decode_messages([])
    assert result.events.num_rows == 0
    assert "partition" in result.events.column_names and "occurred_at" in result.events.column_names


def test_bad_line_goes_to_the_slow_path_and_is_reported_with_its_position() -> None:
    good = event(1)
    offset_form = line(event(2), occurred_at="2026-03-02T10:00:00+01:00")
    missing_municipality = line(event(3), municipality=_DROP)
    messages = [
        Message(batch([good]), partition=2, offset=40),
        Message(offset_form + b"\n" + missing_municipality, partition=5, offset=41),
    ]
    result = decode_messages(messages)

    assert result.events.column("event_id").to_pylist() == [good.event_id, event(2).event_id]
    assert result.events.column("partition").to_pylist() == [2, 5]
    assert result.events.column("occurred_at").to_pylist()[1] == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    assert len(result.invalid) == 1
    bad = result.invalid[0]
    assert (bad.partition, bad.offset, bad.line) == (5, 41, 2)
    assert "municipality" in bad.reason
    assert bad.raw == missing_municipality


def test_broken_json_and_unknown_fields_are_reported_not_decoded() -> None:
    messages = [
        Message(b'{"event_id": "abc"', 0, 1),
        Message(line(event(1), caller="12345678"), 0, 2),
        Message(batch([event(2)]), 0, 3),
    ]
    result = decode_messages(messages)
    assert result.events.column("event_id").to_pylist() == [event(2).event_id]
    assert [(i.offset, i.line) for i in result.invalid] == [(1, 1), (2, 1)]
    assert "caller" in result.invalid[1].reason


def test_offset_form_alone_is_read_as_utc() -> None:
    result = decode_messages([Message(line(event(1), occurred_at="2026-03-02T10:00:00.250+01:00"), 0, 0)])
    assert result.invalid == []
    assert result.events.column("occurred_at").to_pylist() == [datetime(2026, 3, 2, 9, 0, 0, 250_000, tzinfo=timezone.utc)]


@pytest.mark.parametrize(
    "changes",
    [{"channel": "fax"}, {"event_id": "b" * 33}, {"municipality": "7510"}, {"wait_seconds": -3.0}],
    ids=["channel", "event_id", "municipality", "wait_seconds"],
)
def test_values_the_model_refuses_are_reported_not_decoded(changes: dict[str, Any]) -> None:
    result = decode_messages([Message(line(event(1), **changes), 3, 9)])
    assert result.events.num_rows == 0
    assert [(i.partition, i.offset) for i in result.invalid] == [(3, 9)]


def test_naive_occurred_at_is_reported_not_guessed() -> None:
    result = decode_messages([Message(line(event(1), occurred_at="2026-03-02T10:00:00"), 0, 0)])
    assert result.events.num_rows == 0 and len(result.invalid) == 1


def test_omitted_optional_fields_get_the_model_defaults() -> None:
    minimal = {
        "event_id": "c" * 32, "occurred_at": "2026-03-02T09:00:00.000Z", "municipality": "751",
        "channel": "phone", "direction": "inbound", "stage": "arrived", "task": "unclassified",
        "source": {"system": "pbx"},
    }
    row = decode_messages([Message(orjson.dumps(minimal), 0, 0)]).events.to_pylist()[0]
    expected = InquiryEvent.model_validate(minimal)
    assert row["requester_type"] == expected.requester_type.value == "unknown"
    assert row["department"] == expected.department == ""
    assert row["schema_version"] == 1


def test_omitting_a_defaulted_required_column_takes_the_validating_path() -> None:
    minimal = {
        "event_id": "c" * 32, "occurred_at": "2026-03-02T09:00:00.000Z", "municipality": "751",
        "channel": "phone", "stage": "arrived", "source": {"system": "pbx"},
    }
    row = decode_messages([Message(orjson.dumps(minimal), 0, 0)]).events.to_pylist()[0]
    assert (row["direction"], row["task"], row["requester_type"], row["department"]) == (
        "inbound", "unclassified", "unknown", "",
    )


# --------------------------------------------------------------------------- duplicates


class Loader:
    """A stand-in for EventWriter.stored_ids that records which days were asked for."""

    def __init__(self, stored: dict[date, list[str]] | None = None) -> None:
        self.stored = stored or {}
        self.calls: list[date] = []

    def __call__(self, day: date) -> list[str]:
        self.calls.append(day)
        return self.stored.get(day, [])


def test_ids_already_stored_are_dropped() -> None:
    events = [event(n) for n in range(3)]
    index = DedupeIndex(Loader({T0.date(): [events[1].event_id]}))
    assert index.keep_new(decoded(events)).column("event_id").to_pylist() == [events[0].event_id, events[2].event_id]


def test_duplicates_within_one_table_are_dropped() -> None:
    e = event(1)
    index = DedupeIndex(Loader())
    kept = index.keep_new(decoded([e, event(2), e]))
    assert kept.column("event_id").to_pylist() == [e.event_id, event(2).event_id]


def test_ids_seen_in_an_earlier_table_are_dropped() -> None:
    index = DedupeIndex(Loader())
    assert index.keep_new(decoded([event(1), event(2)])).num_rows == 2
    assert index.keep_new(decoded([event(2), event(3)])).column("event_id").to_pylist() == [event(3).event_id]


def test_same_reference_on_another_stage_is_not_a_duplicate() -> None:
    index = DedupeIndex(Loader())
    assert index.keep_new(decoded([event(1), event(1, stage=Stage.answered)])).num_rows == 2


def test_a_day_is_loaded_lazily_and_only_once() -> None:
    loader = Loader()
    index = DedupeIndex(loader)
    assert loader.calls == []
    index.keep_new(decoded([event(1)]))
    index.keep_new(decoded([event(2), event(3, at=T0 + timedelta(days=1))]))
    index.keep_new(decoded([event(4), event(5, at=T0 + timedelta(days=1))]))
    assert Counter(loader.calls) == {T0.date(): 1, T0.date() + timedelta(days=1): 1}


def test_day_is_the_utc_date_of_occurred_at() -> None:
    loader = Loader()
    late = datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc)  # 00:30 on 3 March in Copenhagen
    DedupeIndex(loader).keep_new(decoded([event(1, at=late)]))
    assert loader.calls == [date(2026, 3, 2)]


def test_days_beyond_max_days_are_evicted_and_reloaded() -> None:
    loader = Loader()
    index = DedupeIndex(loader, max_days=2)
    days = [T0 + timedelta(days=i) for i in range(3)]
    first = event(1, at=days[0])
    index.keep_new(decoded([first]))
    index.keep_new(decoded([event(2, at=days[1])]))
    index.keep_new(decoded([event(3, at=days[2])]))  # day 0 is the least recently used: evicted
    assert loader.calls == [d.date() for d in days]
    # the store now has day 0's event; the index learns it again from the loader
    loader.stored[days[0].date()] = [first.event_id]
    assert index.keep_new(decoded([first])).num_rows == 0
    assert loader.calls[-1] == days[0].date() and len(loader.calls) == 4


def test_recently_used_day_is_not_evicted() -> None:
    loader = Loader()
    index = DedupeIndex(loader, max_days=2)
    d0, d1, d2 = (T0 + timedelta(days=i) for i in range(3))
    index.keep_new(decoded([event(1, at=d0)]))
    index.keep_new(decoded([event(2, at=d1)]))
    index.keep_new(decoded([event(3, at=d0)]))  # touches day 0: day 1 becomes least recently used
    index.keep_new(decoded([event(4, at=d2)]))
    index.keep_new(decoded([event(5, at=d0)]))
    assert loader.calls == [d0.date(), d1.date(), d2.date()]


def test_clear_forgets_everything_and_reloads_from_the_store() -> None:
    loader = Loader()
    index = DedupeIndex(loader)
    index.keep_new(decoded([event(1)]))
    index.clear()
    # not stored yet (loader returns nothing): after clear the id counts as new again
    assert index.keep_new(decoded([event(1)])).num_rows == 1
    assert loader.calls == [T0.date(), T0.date()]


def test_empty_table_is_returned_without_loading() -> None:
    loader = Loader()
    assert DedupeIndex(loader).keep_new(decoded([])).num_rows == 0
    assert loader.calls == []


def test_duplicate_within_a_table_spanning_more_days_than_kept_is_dropped() -> None:
    a, b = event(1, at=T0), event(2, at=T0 + timedelta(days=1))
    assert DedupeIndex(Loader(), max_days=1).keep_new(decoded([a, b, a])).num_rows == 2


def test_the_worker_is_told_which_days_of_a_batch_are_not_loaded_yet() -> None:
    """The worker fetches those days' stored ids from the store asynchronously and preloads them."""
    index = DedupeIndex(Loader())
    index.keep_new(decoded([event(1)]))
    next_day = T0 + timedelta(days=1)
    batch = decoded([event(2), event(3, at=next_day), event(4, at=next_day)])
    assert index.missing_days(batch) == [next_day.date()]
    index.preload(next_day.date(), [])
    assert index.missing_days(batch) == []


def test_preloaded_ids_are_dropped_without_asking_the_loader() -> None:
    loader = Loader()
    index = DedupeIndex(loader)
    stored, new = event(1), event(2)
    index.preload(T0.date(), [stored.event_id])
    assert index.keep_new(decoded([stored, new])).column("event_id").to_pylist() == [new.event_id]
    assert loader.calls == []


def test_ids_the_store_refused_count_as_new_when_they_come_again() -> None:
    index = DedupeIndex(Loader())
    refused, stored = event(1), event(2, at=T0 + timedelta(days=1))
    index.keep_new(decoded([refused, stored]))
    index.forget([refused.event_id])
    assert index.keep_new(decoded([refused, stored])).column("event_id").to_pylist() == [refused.event_id]


# --------------------------------------------------------------------------- rollup


def rollup_by_key(events: pa.Table) -> dict[tuple[Any, ...], tuple[int, float, float, int]]:
    return {
        (float(row["minute"]), *(row[d] for d in ROLLUP_DIMENSIONS)):
            (row["events"], row["wait_seconds"], row["handle_seconds"], row["partition"])
        for row in minute_rollup(events).to_pylist()
    }


def test_rollup_counts_and_sums_per_minute_and_dimensions() -> None:
    minute = T0.timestamp()
    events = [
        event(1, at=T0 + timedelta(seconds=5), wait_seconds=10.0),
        event(2, at=T0 + timedelta(seconds=59, milliseconds=999), wait_seconds=20.0),
        event(3, at=T0 + timedelta(seconds=30)),  # no wait: counted, adds nothing to the sum
        event(1, stage=Stage.answered, at=T0 + timedelta(seconds=40), wait_seconds=10.0, handle_seconds=120.0),
        event(4, at=T0 + timedelta(minutes=1), wait_seconds=5.0),
        event(5, at=T0, channel=Channel.walk_in, site="Rådhuset", wait_seconds=60.0),
        event(6, at=T0, channel=Channel.walk_in, site="Bibliotek", wait_seconds=30.0),
        event(7, at=T0, department="Jobcenter", task="23.02.00"),
    ]
    got = rollup_by_key(decoded(events, partition=3))
    base = ("751", "phone", "85.06.00", "Borgerservice", "")
    assert got == {
        (minute, *base, "arrived"): (3, 30.0, 0.0, 3),
        (minute, *base, "answered"): (1, 10.0, 120.0, 3),
        (minute + 60, *base, "arrived"): (1, 5.0, 0.0, 3),
        (minute, "751", "walk_in", "85.06.00", "Borgerservice", "Rådhuset", "arrived"): (1, 60.0, 0.0, 3),
        (minute, "751", "walk_in", "85.06.00", "Borgerservice", "Bibliotek", "arrived"): (1, 30.0, 0.0, 3),
        (minute, "751", "phone", "23.02.00", "Jobcenter", "", "arrived"): (1, 0.0, 0.0, 3),
    }


def test_rollup_key_follows_rollup_dimensions() -> None:
    assert ROLLUP_DIMENSIONS == ("municipality", "channel", "task", "department", "site", "stage")


def test_rollup_keeps_partitions_apart() -> None:
    result = decode_messages([Message(batch([event(1)]), 0, 0), Message(batch([event(2)]), 1, 0)])
    rows = minute_rollup(result.events).to_pylist()
    assert sorted((r["partition"], r["events"]) for r in rows) == [(0, 1), (1, 1)]


def test_rollup_of_nothing_is_empty() -> None:
    assert minute_rollup(decoded([])).num_rows == 0
    assert table_updates(minute_rollup(decoded([]))) == []


def test_store_table_has_the_clickhouse_columns_with_source_flattened() -> None:
    e = event(1, wait_seconds=3.0)
    no_file = event(2, source=SourceRef(system="http"))
    table = to_store_table(decoded([e, no_file]))
    assert tuple(table.column_names) == STORE_COLUMNS + ("source_system", "source_file", "source_line", "source_offset")
    rows = table.to_pylist()
    assert (rows[0]["source_system"], rows[0]["source_file"], rows[0]["source_line"], rows[0]["source_offset"]) == (
        "pbx", "queue_log", 2, 80,
    )
    assert (rows[1]["source_system"], rows[1]["source_file"], rows[1]["source_line"]) == ("http", "", None)
    assert "partition" not in table.column_names


# --------------------------------------------------------------------------- property

_event_specs = st.lists(
    st.tuples(
        st.integers(0, 30),  # reference: few values, so ids repeat
        st.sampled_from(list(Stage)),
        st.integers(0, 3 * 24 * 60 - 1),  # minute within three days
        st.sampled_from([Channel.phone, Channel.walk_in, Channel.email]),
        st.integers(0, 3),  # partition
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(specs=_event_specs, resend=st.lists(st.integers(0, 59), max_size=20), split=st.integers(0, 80))
def test_rollup_counts_each_distinct_event_once_and_a_replay_adds_nothing(
    specs: list[tuple[int, Stage, int, Channel, int]], resend: list[int], split: int,
) -> None:
    # An id names one source record, so a repeated (reference, stage) is the very same event
    # (same time, channel, partition): the first spec for it decides.
    first: dict[tuple[int, Stage], tuple[InquiryEvent, int]] = {}
    for ref, stage, minute, channel, partition in specs:
        first.setdefault((ref, stage), (
            event(ref, stage=stage, at=T0 + timedelta(minutes=minute), channel=channel,
                  site="Rådhuset" if channel is Channel.walk_in else ""),
            partition,
        ))
    events = [first[(ref, stage)] for ref, stage, *_ in specs]
    if events:  # a connector resending some events: the very same lines again
        events += [events[i % len(events)] for i in resend]
    messages = [Message(batch([e]), partition, offset) for offset, (e, partition) in enumerate(events)]
    distinct = {e.event_id for e, _ in events}

    index = DedupeIndex(Loader())
    counted = 0
    for part in (messages[:split], messages[split:]):  # two worker batches
        kept = index.keep_new(decode_messages(part).events)
        counted += sum(minute_rollup(kept).column("events").to_pylist())
    assert counted == len(distinct)

    again = index.keep_new(decode_messages(messages).events)
    assert again.num_rows == 0


def test_table_updates_group_rollup_keys_by_message_key_partition_and_minute() -> None:
    a = event(1, at=T0, wait_seconds=10.0)
    b = event(1, stage=Stage.answered, at=T0 + timedelta(seconds=30), wait_seconds=10.0, handle_seconds=60.0)
    c = event(2, at=T0 + timedelta(minutes=1))
    result = decode_messages([Message(batch([a, b, c]), 2, 0, b"751/phone/85.06.00")])
    updates = table_updates(minute_rollup(result.events))
    assert [(u.partition, u.table_key, u.minute) for u in sorted(updates, key=lambda u: u.minute)] == [
        (2, "751/phone/85.06.00#2", T0.timestamp()), (2, "751/phone/85.06.00#2", T0.timestamp() + 60)]
    first = min(updates, key=lambda u: u.minute)
    assert first.sums == {
        "751|phone|85.06.00|Borgerservice||arrived": [1, 10.0, 0.0],
        "751|phone|85.06.00|Borgerservice||answered": [1, 10.0, 60.0],
    }


def test_add_sums_adds_key_by_key_without_touching_its_inputs() -> None:
    current = {"k": [1, 2.0, 3.0]}
    delta = {"k": [1, 1.0, 1.0], "new": [2, 0.0, 0.0]}
    assert add_sums(current, delta) == {"k": [2, 3.0, 4.0], "new": [2, 0.0, 0.0]}
    assert current == {"k": [1, 2.0, 3.0]}


# --------------------------------------------------------------------------- nothing stops the worker

_TRICKY_LINES = [
    ("municipality", "\u0667\u0665\u0661"),  # Arabic-Indic digits: \d in Python, not in pyarrow
    ("occurred_at", "0001-01-01T00:30:00+01:00"),  # before year 1 in UTC
    ("occurred_at", "0999-01-01T00:00:00Z"),
    ("occurred_at", "2026-03-02T08Z"),
    ("source", {"file": "f", "line": 1}),  # no system
    ("source", {"system": "s", "offset": -5}),
    ("source", {"system": "s", "line": 0}),
]


@pytest.mark.parametrize(("field", "value"), _TRICKY_LINES, ids=[f"{f}={v!r}"[:40] for f, v in _TRICKY_LINES])
def test_a_line_the_model_or_the_columnar_reader_refuses_is_a_dead_letter_not_a_crash(field: str, value: object) -> None:
    good = event(1)
    result = decode_messages([Message(batch([good]) + b"\n" + line(event(2), **{field: value}), 3, 17)])
    assert [r["event_id"] for r in result.events.to_pylist()] == [good.event_id]
    assert [(i.partition, i.offset, i.line) for i in result.invalid] == [(3, 17, 2)]


def test_a_message_without_a_value_is_skipped() -> None:
    result = decode_messages([Message(None, 0, 0), Message(batch([event(1)]), 0, 1)])  # type: ignore[arg-type]
    assert result.events.num_rows == 1 and result.invalid == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=4))
def test_decoding_arbitrary_bytes_never_raises(values: list[bytes]) -> None:
    result = decode_messages([Message(v, 0, i) for i, v in enumerate(values)])
    assert result.events.num_rows + len(result.invalid) <= sum(v.count(b"\n") + 1 for v in values)


# --------------------------------------------------------------------------- the worker's dead letters

# A producer past every connector (or a buggy one) can put personal data in an event's
# free-text fields; the worker's dead letter keeps the line for debugging, masked.
CPR, EMAIL, PHONE = "010190-1234", "borger@example.dk", "+45 22 33 44 55"
PERSONAL = {CPR: "<cpr>", EMAIL: "<email>", PHONE: "<phone>"}
PERSONAL_TRACES = (CPR, CPR.replace("-", ""), "010190", EMAIL, "example.dk", "22 33 44 55", "22334455")


def personal_fields() -> dict[str, str]:
    return {"department": f"Borgerservice, CPR {CPR}", "queue": EMAIL, "task_label": f"ring {PHONE}"}


def test_the_dead_letter_of_an_invalid_line_masks_cpr_email_and_phone() -> None:
    bad = line(event(2), channel="fax", **personal_fields())
    invalid = decode_messages([Message(batch([event(1)]) + b"\n" + bad, 4, 9)]).invalid
    assert [(i.offset, i.line) for i in invalid] == [(9, 2)] and CPR.encode() in invalid[0].raw

    letter = dead_letter_json(invalid[0], "inquiries").decode()
    assert [trace for trace in PERSONAL_TRACES if trace in letter] == []
    raw = orjson.loads(letter)["raw"]
    assert all(placeholder in raw for placeholder in PERSONAL.values()), raw  # masked, not dropped
    assert "channel" in orjson.loads(letter)["reason"]


def test_the_dead_letter_of_an_event_clickhouse_refused_masks_cpr_email_and_phone() -> None:
    decoded = decode_messages([Message(line(event(1), **personal_fields()), 2, 5)])
    assert decoded.invalid == [] and decoded.events.num_rows == 1

    letter = refused_dead_letter(decoded.events, "constraint no_poison is violated", "inquiries").decode()
    assert [trace for trace in PERSONAL_TRACES if trace in letter] == []
    parsed = orjson.loads(letter)
    assert all(placeholder in parsed["raw"] for placeholder in PERSONAL.values()), parsed["raw"]
    assert parsed["source"]["file"] == "inquiries/2"


# --------------------------------------------------------------------------- what /metrics reports


def test_stored_counts_split_by_channel_and_stage_for_phone_abandonment() -> None:
    from pipeline.worker.aggregation import stored_counts

    events = [event(1), event(1, stage=Stage.abandoned), event(2), event(2, stage=Stage.answered), event(3)]
    counted = stored_counts(decode_messages([Message(batch(events))]).events)
    assert sorted(counted) == [("phone", "abandoned", 1), ("phone", "answered", 1), ("phone", "arrived", 3)]


def test_newest_event_per_source_system() -> None:
    from pipeline.worker.aggregation import newest_per_source

    events = [event(1, at=T0), event(2, at=T0 + timedelta(minutes=5)),
              event(3, at=T0 + timedelta(minutes=9), source=SourceRef(system="tickets"))]
    newest = newest_per_source(decode_messages([Message(batch(events))]).events)
    assert newest == {"pbx": (T0 + timedelta(minutes=5)).timestamp(), "tickets": (T0 + timedelta(minutes=9)).timestamp()}


@pytest.mark.parametrize("value, connector", [
    (b'{"connector": "ticket_export", "reason": "x"}', "ticket_export"),
    (b'{"connector": "worker"}', "worker"),
    (b'{"reason": "no connector"}', "unknown"),
    (b"not json", "unknown"),
    (b"[1, 2]", "unknown"),
    (None, "unknown"),
])
def test_dead_letters_are_counted_by_their_connector(value: bytes | None, connector: str) -> None:
    from pipeline.worker.aggregation import dead_letter_connector

    assert dead_letter_connector(value) == connector


def test_clickhouses_reason_for_refusing_an_event_is_masked_too() -> None:
    """ClickHouse quotes column values when it refuses a row (a constraint: "Column values:
    queue = 'borger@example.dk'"); the reason travels into the dead letter."""
    import json as _json

    from pipeline.worker.aggregation import refused_dead_letter
    from schemas.wire import Message, decode_messages
    from tests.factories import phone_event

    events = decode_messages([Message(phone_event(1).model_dump_json().encode())]).events
    reason = ("Code: 469. Constraint `c` for table x is violated. Column values: queue = 'borger@example.dk', "
              "department = '010190-1234 ring 12345678'. (VIOLATED_CONSTRAINT)")
    letter = _json.loads(refused_dead_letter(events, reason, "inquiries"))
    for secret in ("borger@example.dk", "010190-1234", "12345678"):
        assert secret not in letter["reason"]
    assert "VIOLATED_CONSTRAINT" in letter["reason"]


def test_a_table_value_keeps_a_bounded_number_of_keys_and_sums_the_rest() -> None:
    """6,000 departments in one minute of one message key made a changelog message over the
    broker's 1 MB and stopped the worker."""
    import orjson

    from pipeline.worker.aggregation import MAX_TABLE_ENTRIES, OTHER_KEY, add_sums

    delta = {f"751|phone|85.06.00|afd-{n:05d}-{'x' * 190}||arrived": [1, 0.0, 0.0] for n in range(6000)}
    value = add_sums({}, delta)
    assert len(value) == MAX_TABLE_ENTRIES + 1
    assert value[OTHER_KEY][0] == 6000 - MAX_TABLE_ENTRIES
    assert sum(v[0] for v in value.values()) == 6000
    assert len(orjson.dumps(value)) < 1_000_000
    again = add_sums(value, {next(iter(delta)): [2, 1.0, 0.0]})  # a key it holds still counts as itself
    assert again[next(iter(delta))][0] == 3

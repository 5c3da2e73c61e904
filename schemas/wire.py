"""The wire format: how InquiryEvents travel on the inquiries topic, written and read.

A Kafka message is a batch of NDJSON events (one event per line, see WIRE_FORMAT.md). Every
source writes it with `encode_batch`; the worker, and the HTTP ingest checking a request,
read many messages' values in one columnar pass (pyarrow's JSON reader), so the per-event
cost is C++, not Python. Messages the fast path cannot read are decoded line by line and
every bad line is set aside with its partition and offset, to become a dead letter.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from pydantic import ValidationError

from schemas.inquiry import (
    CONTACT_KEY_PATTERN,
    EARLIEST_YEAR,
    EVENT_ID_PATTERN,
    LATEST_YEAR,
    LINE_MAX,
    MAX_DURATION_SECONDS,
    MUNICIPALITY_PATTERN,
    NAME_MAX,
    OFFSET_MAX,
    PATH_MAX,
    TASK_PATTERN,
    Channel,
    Direction,
    InquiryEvent,
    InquiryKind,
    RequesterType,
    Stage,
)

_S = pa.string()


EVENT_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("event_id", _S),
        ("inquiry_id", _S),
        ("occurred_at", _S),  # cast below: a time without a UTC offset must not pass as UTC
        ("municipality", _S),
        ("channel", _S),
        ("direction", _S),
        ("stage", _S),
        ("task", _S),
        ("task_label", _S),
        ("department", _S),
        ("site", _S),
        ("queue", _S),
        ("wait_seconds", pa.float64()),
        ("handle_seconds", pa.float64()),
        ("requester_type", _S),
        ("inquiry_kind", _S),
        ("appointment", pa.bool_()),
        ("resolved_first_contact", pa.bool_()),
        ("visited_web_first", pa.bool_()),
        ("contact_key", _S),
        ("source", pa.struct([("system", _S), ("file", _S), ("line", pa.int64()), ("offset", pa.int64())])),
    ]
)


_REQUIRED = ("event_id", "occurred_at", "municipality", "channel", "direction", "stage", "task", "source")


_DEFAULTS = {
    "task_label": "", "department": "", "site": "", "queue": "",
    "requester_type": RequesterType.unknown.value, "inquiry_kind": InquiryKind.unknown.value,
}


_ALLOWED = {
    "channel": pa.array([c.value for c in Channel]),
    "direction": pa.array([d.value for d in Direction]),
    "stage": pa.array([s.value for s in Stage]),
    "requester_type": pa.array([r.value for r in RequesterType]),
    "inquiry_kind": pa.array([k.value for k in InquiryKind]),
}


_PATTERNS = {
    "event_id": EVENT_ID_PATTERN,
    "municipality": MUNICIPALITY_PATTERN,
    "task": TASK_PATTERN,
    # ISO 8601 date and time to the minute at least, in the years the model accepts.
    "occurred_at": r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}",
}


_PARSE = pajson.ParseOptions(explicit_schema=EVENT_SCHEMA, unexpected_field_behavior="error")


# 4 MiB blocks: pyarrow parses blocks on all cores (one 64 MiB block was 1.5x slower here).
_READ = pajson.ReadOptions(use_threads=True, block_size=1 << 22)


_NAMES = ("task_label", "department", "site", "queue")


_EARLIEST = pa.scalar(datetime(EARLIEST_YEAR, 1, 1, tzinfo=timezone.utc), pa.timestamp("ms", tz="UTC"))


_AFTER_LATEST = pa.scalar(datetime(LATEST_YEAR + 1, 1, 1, tzinfo=timezone.utc), pa.timestamp("ms", tz="UTC"))


@dataclass(frozen=True)
class Message:
    """One Kafka message as the aggregation sees it."""

    value: bytes
    partition: int = 0
    offset: int = 0
    key: bytes = b""


@dataclass(frozen=True)
class InvalidEvent:
    """A line on the topic that is not a valid InquiryEvent; becomes a dead letter."""

    partition: int
    offset: int
    line: int
    reason: str
    raw: bytes


@dataclass
class DecodedBatch:
    events: pa.Table
    invalid: list[InvalidEvent] = field(default_factory=list)


class _NotCanonical(ValueError):
    """The fast path cannot vouch for this batch; validate it line by line instead."""


def _read(blob: bytes) -> pa.Table:
    """Decode NDJSON events columnar, with the same checks InquiryEvent makes.

    Every check is vectorised; any failure sends the whole batch to the per-line path,
    which names the offending line and field.
    """
    table = pajson.read_json(io.BytesIO(blob), read_options=_READ, parse_options=_PARSE)
    for name in _REQUIRED:
        if table.column(name).null_count:
            raise _NotCanonical(f"field {name} missing")
    for name, allowed in _ALLOWED.items():
        column = table.column(name)
        if not pc.all(pc.or_kleene(pc.is_in(column, value_set=allowed), pc.is_null(column))).as_py():
            raise _NotCanonical(f"field {name} has a value outside its enum")
    for name, pattern in _PATTERNS.items():
        if not pc.all(pc.match_substring_regex(table.column(name), pattern)).as_py():
            raise _NotCanonical(f"field {name} does not match {pattern}")
    for name in ("wait_seconds", "handle_seconds"):
        column = table.column(name)
        if pc.any(pc.invert(pc.is_finite(column))).as_py():
            raise _NotCanonical(f"field {name} is not a finite number")
        if pc.any(pc.or_(pc.less(column, 0), pc.greater(column, MAX_DURATION_SECONDS))).as_py():
            raise _NotCanonical(f"field {name} is outside 0-{MAX_DURATION_SECONDS}")
    for name in _NAMES:
        if pc.any(pc.greater(pc.utf8_length(table.column(name)), NAME_MAX)).as_py():
            raise _NotCanonical(f"field {name} is longer than {NAME_MAX} characters")
    inquiry = table.column("inquiry_id")
    if not pc.all(pc.or_kleene(pc.is_null(inquiry), pc.match_substring_regex(inquiry, EVENT_ID_PATTERN))).as_py():
        raise _NotCanonical("field inquiry_id is not 32 hex digits")
    contact = table.column("contact_key")
    if not pc.all(pc.or_kleene(pc.is_null(contact), pc.match_substring_regex(contact, CONTACT_KEY_PATTERN))).as_py():
        raise _NotCanonical("field contact_key is not 64 hex digits")
    source = table.column("source")
    system = pc.struct_field(source, "system")
    if system.null_count or not pc.all(pc.greater(pc.utf8_length(system), 0)).as_py():
        raise _NotCanonical("source.system missing")
    if pc.any(pc.greater(pc.utf8_length(system), NAME_MAX)).as_py():
        raise _NotCanonical(f"source.system is longer than {NAME_MAX} characters")
    if pc.any(pc.greater(pc.utf8_length(pc.struct_field(source, "file")), PATH_MAX)).as_py():
        raise _NotCanonical(f"source.file is longer than {PATH_MAX} characters")
    for name, least, most in (("line", 1, LINE_MAX), ("offset", 0, OFFSET_MAX)):
        values = pc.struct_field(source, name)
        if pc.any(pc.or_(pc.less(values, least), pc.greater(values, most))).as_py():
            raise _NotCanonical(f"source.{name} outside {least}-{most}")
    if not pc.all(pc.equal(table.column("schema_version"), 1)).as_py():
        raise _NotCanonical("schema_version is not 1")
    # pyarrow refuses a string without a UTC offset here, as InquiryEvent does.
    occurred = pc.cast(table.column("occurred_at"), pa.timestamp("ms", tz="UTC"))
    if pc.any(pc.or_(pc.less(occurred, _EARLIEST), pc.greater_equal(occurred, _AFTER_LATEST))).as_py():
        raise _NotCanonical(f"occurred_at outside {EARLIEST_YEAR}-{LATEST_YEAR} in UTC")
    table = table.set_column(table.schema.get_field_index("occurred_at"), "occurred_at", occurred)
    for name, default in _DEFAULTS.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pc.fill_null(table.column(name), default))
    return table


def _empty_events() -> pa.Table:
    """A table with no rows and the columns `_read` returns."""
    schema = EVENT_SCHEMA.set(EVENT_SCHEMA.get_field_index("occurred_at"),
                              pa.field("occurred_at", pa.timestamp("ms", tz="UTC")))
    return schema.empty_table()


def _with_origin(table: pa.Table, messages: Sequence[Message], rows_per_message: Sequence[int]) -> pa.Table:
    """Add each event's source `partition` and `message_key` (repeated per message, in C)."""
    index = pa.array(np.repeat(np.arange(len(messages), dtype=np.int32), rows_per_message))
    partitions = pa.array([m.partition for m in messages], type=pa.int32()).take(index)
    keys = pa.array([_table_key(m.key) for m in messages], type=pa.string()).take(index)
    return table.append_column("partition", partitions).append_column("message_key", keys)


MAX_KEY_CHARACTERS = 512


def _table_key(key: bytes) -> str:
    """A message key as the windowed table keys by it: our producers' keys are short
    (municipality/channel/task or a site); a longer one is replaced by its digest, so no
    producer can make the table's changelog messages outgrow the broker's limit."""
    if len(key) <= MAX_KEY_CHARACTERS:
        return key.decode("utf-8", "replace")
    return "oversized-key-" + hashlib.sha256(key).hexdigest()[:32]


def decode_messages(messages: Sequence[Message]) -> DecodedBatch:
    """All messages' events as one Arrow table, in topic order, with each event's source
    partition in a `partition` column; bad lines set aside."""
    values = [(m, (m.value or b"").strip(b"\n")) for m in messages]  # a null value is an empty message
    values = [(m, v) for m, v in values if v]
    if not values:
        return DecodedBatch(events=_with_origin(_empty_events(), [], []))
    try:
        table = _read(b"\n".join(v for _, v in values))
        counts = [v.count(b"\n") + 1 for _, v in values]
        if sum(counts) == table.num_rows:  # no blank lines inside a message
            return DecodedBatch(events=_with_origin(table, [m for m, _ in values], counts))
    except Exception:  # noqa: BLE001 - whatever the fast path cannot read, the slow path explains
        pass
    # Slow path: something in the batch is not canonical. Validate line by line; whatever a
    # line does, it becomes an event or a dead letter, never an exception that stops the worker.
    good: list[bytes] = []
    counts = []
    invalid: list[InvalidEvent] = []
    for message, value in values:
        counts.append(0)
        for number, line in enumerate(value.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                canonical = InquiryEvent.model_validate_json(line).model_dump_json().encode()
                _read(canonical)  # what the model accepts, the columnar reader must read too
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:5]
                )
                invalid.append(InvalidEvent(message.partition, message.offset, number, reason, line))
                continue
            except Exception as exc:  # noqa: BLE001 - any other failure is this line's, not the batch's
                invalid.append(InvalidEvent(message.partition, message.offset, number,
                                            f"{type(exc).__name__}: {exc}", line))
                continue
            good.append(canonical)
            counts[-1] += 1
    table = _read(b"\n".join(good)) if good else _empty_events()
    return DecodedBatch(events=_with_origin(table, [m for m, _ in values], counts), invalid=invalid)


def encode_batch(events: list[InquiryEvent]) -> bytes:
    """The wire format: one event per line (NDJSON), see schemas/WIRE_FORMAT.md."""
    return b"\n".join(e.model_dump_json().encode() for e in events)

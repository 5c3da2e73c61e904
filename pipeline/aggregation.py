"""The worker's arithmetic, free of Kafka and ClickHouse: decode, drop duplicates, roll up.

A Kafka message on `inquiries` is a batch of NDJSON events. The worker joins the values of
many messages and decodes them in one columnar pass (pyarrow's JSON reader), so the
per-event cost is C++, not Python. Messages the fast path cannot read are decoded line by
line and every bad line becomes a dead letter with its partition and offset.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from pydantic import ValidationError

from connectors.privacy import RAW_KEPT, cut, mask_personal_data, masked_excerpt  # one masking rule for all
from schemas import Channel, DeadLetter, Direction, InquiryEvent, InquiryKind, RequesterType, SourceRef, Stage
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
    REASON_MAX,
    TASK_PATTERN,
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

ROLLUP_DIMENSIONS = ("municipality", "channel", "task", "department", "site", "stage")
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


class DedupeIndex:
    """Event ids already stored, per UTC day, so a resent event is not counted twice.

    Duplicates are normal: a connector killed before its checkpoint resends what the
    broker already has. A day's ids are loaded from the store the first time the day is
    seen (so a restarted worker still knows them), and the least recently used days are
    dropped beyond `max_days`, to be reloaded if they come back.
    """

    def __init__(self, load_day: Callable[[date], Iterable[str]], max_days: int = 45) -> None:
        self._load_day = load_day
        self._max_days = max_days
        self._days: OrderedDict[date, set[str]] = OrderedDict()

    def _day(self, day: date) -> set[str]:
        seen = self._days.get(day)
        if seen is None:
            seen = set(self._load_day(day))
            self._days[day] = seen
        else:
            self._days.move_to_end(day)
        return seen

    def _trim(self) -> None:
        # Only between batches: a day dropped mid-batch would reload without this batch's ids.
        while len(self._days) > self._max_days:
            self._days.popitem(last=False)

    def clear(self) -> None:
        """Forget everything, e.g. when partitions move between workers."""
        self._days.clear()

    def missing_days(self, events: pa.Table) -> list[date]:
        """Days of `events` whose stored ids are not loaded yet (the caller may `preload` them)."""
        return [d for d in _days(events) if d not in self._days]

    def forget(self, event_ids: Iterable[str]) -> None:
        """Unsee ids that were not stored after all (ClickHouse refused them), wherever they are."""
        ids = set(event_ids)
        for seen in self._days.values():
            seen.difference_update(ids)

    def preload(self, day: date, stored_ids: Iterable[str]) -> None:
        """Seed a day with ids fetched elsewhere, e.g. asynchronously from the store."""
        self._days.setdefault(day, set()).update(stored_ids)

    def keep_new(self, events: pa.Table) -> pa.Table:
        """The events whose ids were not seen before (nor earlier in this same table)."""
        if events.num_rows == 0:
            return events
        day_numbers = pc.cast(pc.cast(events.column("occurred_at"), pa.date32()), pa.int32())
        keep = np.ones(events.num_rows, dtype=bool)
        for day_number in pc.unique(day_numbers).to_pylist():
            on_day = pc.equal(day_numbers, day_number)
            ids = events.column("event_id").filter(on_day).to_pylist()
            seen = self._day(_EPOCH_DAY + timedelta(days=day_number))
            if seen.isdisjoint(ids) and len(set(ids)) == len(ids):
                seen.update(ids)  # the common case: nothing seen before, no Python loop
                continue
            positions = np.flatnonzero(on_day.to_numpy(zero_copy_only=False))
            for position, event_id in zip(positions, ids):
                if event_id in seen:
                    keep[position] = False
                else:
                    seen.add(event_id)
        self._trim()
        return events if keep.all() else events.filter(pa.array(keep))


_EPOCH_DAY = date(1970, 1, 1)


def _days(events: pa.Table) -> list[date]:
    if events.num_rows == 0:
        return []
    return pc.unique(pc.cast(events.column("occurred_at"), pa.date32())).to_pylist()


def minute_rollup(events: pa.Table) -> pa.Table:
    """Per-minute counts and wait/handle sums per rollup key, computed in Arrow.

    Columns: partition, message_key, minute (epoch seconds), the ROLLUP_DIMENSIONS,
    events, wait_seconds, handle_seconds. One row per key present in `events`.
    """
    minute = pc.cast(pc.cast(pc.floor_temporal(events.column("occurred_at"), unit="minute"),
                             pa.timestamp("s", tz="UTC")), pa.int64())
    table = events.select(["partition", "message_key", *ROLLUP_DIMENSIONS, "wait_seconds", "handle_seconds"])
    grouped = table.append_column("minute", minute).group_by(
        ["partition", "message_key", "minute", *ROLLUP_DIMENSIONS], use_threads=False
    ).aggregate([([], "count_all"), ("wait_seconds", "sum"), ("handle_seconds", "sum")])
    return pa.table({
        "partition": grouped.column("partition"),
        "message_key": grouped.column("message_key"),
        "minute": grouped.column("minute"),
        **{d: grouped.column(d) for d in ROLLUP_DIMENSIONS},
        "events": grouped.column("count_all"),
        "wait_seconds": pc.fill_null(grouped.column("wait_seconds_sum"), 0.0),
        "handle_seconds": pc.fill_null(grouped.column("handle_seconds_sum"), 0.0),
    })


@dataclass
class TableUpdate:
    """What one windowed-table key gains in one minute: sums per full rollup key."""

    partition: int
    table_key: str
    minute: float
    sums: dict[str, list[float]]


def table_updates(rollup: pa.Table) -> list[TableUpdate]:
    """Group a minute_rollup() into one update per (message key, partition, minute).

    Writing every rollup key to the Faust table costs one changelog message each (about
    65 µs here, more than decoding and storing the events). Keyed like the topic instead,
    one minute of one key is one write whose value holds every rollup key's sums. The
    partition is part of the table key so that a key always lives on the partition its
    events came from, whatever partitioner a producer used.
    """
    if rollup.num_rows == 0:
        return []
    dimensions = pc.binary_join_element_wise(*(rollup.column(d) for d in ROLLUP_DIMENSIONS), "|")
    updates: dict[tuple[int, str, int], TableUpdate] = {}
    for partition, message_key, minute, key, events, wait, handle in zip(
        *(rollup.column(c).to_pylist() for c in ("partition", "message_key", "minute")),
        dimensions.to_pylist(),
        *(rollup.column(c).to_pylist() for c in ("events", "wait_seconds", "handle_seconds")),
    ):
        update = updates.get((partition, message_key, minute))
        if update is None:
            update = updates[(partition, message_key, minute)] = TableUpdate(
                partition, f"{message_key}#{partition}", float(minute), {})
        update.sums[key] = [events, wait, handle]
    return list(updates.values())


MAX_TABLE_ENTRIES = 1000  # rollup keys one windowed-table value holds (one changelog message: < 1 MB)
OTHER_KEY = "(other)"


def add_sums(current: dict[str, list[float]], delta: dict[str, list[float]],
             max_entries: int = MAX_TABLE_ENTRIES) -> dict[str, list[float]]:
    """A new table value: `current` plus `delta`, key by key (neither is modified).

    A value is one changelog message, and the broker refuses messages over 1 MB: 6,000
    departments in one minute of one key stopped the worker. Beyond `max_entries` rollup
    keys, new ones are summed under OTHER_KEY; the table is a live view, and ClickHouse
    keeps every key."""
    merged = {key: list(value) for key, value in current.items()}
    for key, (events, wait, handle) in delta.items():
        if key not in merged and len(merged) >= max_entries:
            key = OTHER_KEY
        old = merged.get(key)
        merged[key] = [old[0] + events, old[1] + wait, old[2] + handle] if old else [events, wait, handle]
    return merged


STORE_COLUMNS = (
    "event_id", "inquiry_id", "occurred_at", "municipality", "channel", "direction", "stage", "task", "task_label",
    "department", "site", "queue", "wait_seconds", "handle_seconds", "requester_type", "inquiry_kind",
    "appointment", "resolved_first_contact", "visited_web_first", "contact_key",
)


def to_store_table(events: pa.Table) -> pa.Table:
    """Arrow table with exactly the columns of ClickHouse's inquiry_events, `source` flattened."""
    source = events.column("source")
    columns = {name: events.column(name) for name in STORE_COLUMNS}
    columns["source_system"] = pc.struct_field(source, "system")
    columns["source_file"] = pc.fill_null(pc.struct_field(source, "file"), "")
    columns["source_line"] = pc.struct_field(source, "line")
    columns["source_offset"] = pc.struct_field(source, "offset")
    return pa.table(columns)


def dead_letter_json(invalid: InvalidEvent, topic: str) -> bytes:
    """The dead-letter record for an invalid event found on the topic by the worker."""
    letter = DeadLetter(
        connector="worker",
        source=SourceRef(system="kafka", file=f"{topic}/{invalid.partition}", line=invalid.line, offset=invalid.offset),
        reason=cut(mask_personal_data(cut(f"invalid event in message at offset {invalid.offset}, line {invalid.line}: "
                                          f"{invalid.reason}", REASON_MAX)), REASON_MAX - 64),
        raw=masked_excerpt(invalid.raw[: 4 * RAW_KEPT].decode("utf-8", "backslashreplace")),
        rejected_at=datetime.now(timezone.utc),
    )
    return letter.model_dump_json().encode()


def refused_dead_letter(event: pa.Table, reason: str, topic: str) -> bytes:
    """The dead-letter record for one decoded event (a one-row table) ClickHouse refused."""
    row = event.drop_columns([c for c in ("partition", "message_key") if c in event.column_names]).to_pylist()[0]
    raw = orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    partition = event.column("partition")[0].as_py() if "partition" in event.column_names else 0
    letter = DeadLetter(
        connector="worker",
        source=SourceRef(system="kafka", file=f"{topic}/{partition}"),
        # ClickHouse quotes column values in its refusal (VIOLATED_CONSTRAINT: "queue = '...'").
        reason=cut(mask_personal_data(cut(f"ClickHouse refused the event: {reason}", REASON_MAX)), REASON_MAX - 64),
        raw=masked_excerpt(raw),
        rejected_at=datetime.now(timezone.utc),
    )
    return letter.model_dump_json().encode()


def stored_counts(events: pa.Table) -> list[tuple[str, str, int]]:
    """(channel, stage, events) for the stored-events counter."""
    if events.num_rows == 0:
        return []
    grouped = events.select(["channel", "stage"]).group_by(["channel", "stage"], use_threads=False).aggregate(
        [([], "count_all")])
    return list(zip(*(grouped.column(c).to_pylist() for c in ("channel", "stage", "count_all"))))


def newest_per_source(events: pa.Table) -> dict[str, float]:
    """Newest occurred_at (epoch seconds) per source system: a connector gone silent stops moving it."""
    if events.num_rows == 0:
        return {}
    table = pa.table({"system": pc.struct_field(events.column("source"), "system"),
                      "at": pc.cast(events.column("occurred_at"), pa.int64())})
    grouped = table.group_by("system", use_threads=False).aggregate([("at", "max")])
    return {system: ms / 1000 for system, ms in zip(grouped.column("system").to_pylist(),
                                                     grouped.column("at_max").to_pylist())}


DEAD_LETTER_COLUMNS = pa.schema([
    ("letter_id", pa.string()), ("rejected_at", pa.timestamp("ms", tz="UTC")), ("connector", pa.string()),
    ("source_system", pa.string()), ("source_file", pa.string()), ("source_line", pa.uint64()),
    ("source_offset", pa.uint64()), ("reason", pa.string()), ("raw", pa.string()),
])


def dead_letter_rows(values: Sequence[bytes | None]) -> tuple[pa.Table, list[str]]:
    """Dead letters read back from the topic as rows of the dead_letters table, and the
    connector of each value (for the counter; 'unknown' for one that is not a DeadLetter,
    which is counted but not stored)."""
    rows, connectors = [], []
    for value in values:
        try:
            letter = DeadLetter.model_validate_json(value or b"")
        except ValidationError:
            connectors.append(dead_letter_connector(value)[:64])
            continue
        connectors.append(letter.connector)
        source = letter.source
        identity = "\x1f".join((letter.connector, source.system, source.file, str(source.line), str(source.offset),
                                letter.reason))
        rows.append({
            "letter_id": hashlib.sha256(identity.encode()).hexdigest()[:32], "rejected_at": letter.rejected_at,
            "connector": letter.connector, "source_system": source.system, "source_file": source.file,
            "source_line": source.line, "source_offset": source.offset, "reason": letter.reason, "raw": letter.raw,
        })
    return pa.Table.from_pylist(rows, DEAD_LETTER_COLUMNS), connectors


def dead_letter_connector(value: bytes | None) -> str:
    """The `connector` of a dead letter read back from the topic; 'unknown' if it has none."""
    try:
        letter = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return "unknown"
    connector = letter.get("connector") if isinstance(letter, dict) else None
    return connector if isinstance(connector, str) and connector else "unknown"

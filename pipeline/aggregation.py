"""The worker's arithmetic, free of Kafka and ClickHouse: decode, drop duplicates, roll up.

A Kafka message on `inquiries` is a batch of NDJSON events. The worker joins the values of
many messages and decodes them in one columnar pass (pyarrow's JSON reader), so the
per-event cost is C++, not Python. Messages the fast path cannot read are decoded line by
line and every bad line becomes a dead letter with its partition and offset.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from pydantic import ValidationError

from schemas import InquiryEvent

_S = pa.string()
EVENT_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("event_id", _S),
        ("occurred_at", pa.timestamp("ms", tz="UTC")),
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
_REQUIRED = ("event_id", "occurred_at", "municipality", "channel", "direction", "stage", "task")
_PARSE = pajson.ParseOptions(explicit_schema=EVENT_SCHEMA, unexpected_field_behavior="error")
_READ = pajson.ReadOptions(use_threads=True, block_size=1 << 26)

ROLLUP_DIMENSIONS = ("municipality", "channel", "task", "department", "site", "stage")


@dataclass(frozen=True)
class Message:
    """One Kafka message as the aggregation sees it."""

    value: bytes
    partition: int = 0
    offset: int = 0


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


def _read(blob: bytes) -> pa.Table:
    table = pajson.read_json(io.BytesIO(blob), read_options=_READ, parse_options=_PARSE)
    for name in _REQUIRED:
        if table.column(name).null_count:
            raise ValueError(f"field {name} missing")
    return table


def _with_partitions(table: pa.Table, partitions: list[int]) -> pa.Table:
    return table.append_column("partition", pa.array(partitions, type=pa.int32()))


def decode_messages(messages: Sequence[Message]) -> DecodedBatch:
    """All messages' events as one Arrow table, in topic order, with each event's source
    partition in a `partition` column; bad lines set aside."""
    values = [(m, m.value.strip(b"\n")) for m in messages]
    values = [(m, v) for m, v in values if v]
    if not values:
        return DecodedBatch(events=_with_partitions(EVENT_SCHEMA.empty_table(), []))
    try:
        table = _read(b"\n".join(v for _, v in values))
        partitions = [m.partition for m, v in values for _ in range(v.count(b"\n") + 1)]
        if len(partitions) == table.num_rows:  # no blank lines inside a message
            return DecodedBatch(events=_with_partitions(table, partitions))
    except (pa.ArrowInvalid, ValueError):
        pass
    # Slow path: something in the batch is not canonical. Validate line by line.
    good: list[bytes] = []
    partitions = []
    invalid: list[InvalidEvent] = []
    for message, value in values:
        for number, line in enumerate(value.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                event = InquiryEvent.model_validate_json(line)
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:5]
                )
                invalid.append(InvalidEvent(message.partition, message.offset, number, reason, line))
                continue
            good.append(event.model_dump_json().encode())
            partitions.append(message.partition)
    table = _read(b"\n".join(good)) if good else EVENT_SCHEMA.empty_table()
    return DecodedBatch(events=_with_partitions(table, partitions), invalid=invalid)


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
            while len(self._days) > self._max_days:
                self._days.popitem(last=False)
        else:
            self._days.move_to_end(day)
        return seen

    def clear(self) -> None:
        """Forget everything, e.g. when partitions move between workers."""
        self._days.clear()

    def keep_new(self, events: pa.Table) -> pa.Table:
        """The events whose ids were not seen before (nor earlier in this same table)."""
        if events.num_rows == 0:
            return events
        days = pc.cast(events.column("occurred_at"), pa.date32()).to_pylist()
        ids = events.column("event_id").to_pylist()
        first_day = days[0]
        if all(d == first_day for d in days):
            seen = self._day(first_day)
            if seen.isdisjoint(ids) and len(set(ids)) == len(ids):
                seen.update(ids)
                return events
        keep: list[bool] = []
        for day, event_id in zip(days, ids):
            seen = self._day(day)
            if event_id in seen:
                keep.append(False)
            else:
                seen.add(event_id)
                keep.append(True)
        return events.filter(pa.array(keep, type=pa.bool_()))


@dataclass(frozen=True)
class RollupRow:
    """Sums for one minute x channel x task x department x site x stage."""

    partition: int  # source partition: where the windowed table's changelog entry belongs
    minute: float  # epoch seconds of the minute's start
    key: tuple[str, ...]
    events: int
    wait_seconds: float
    handle_seconds: float


def minute_rollup(events: pa.Table) -> list[RollupRow]:
    """Per-minute counts and wait/handle sums, one row per key present in `events`."""
    if events.num_rows == 0:
        return []
    minute = pc.floor_temporal(events.column("occurred_at"), unit="minute")
    table = events.select(["partition", *ROLLUP_DIMENSIONS, "wait_seconds", "handle_seconds"])
    table = table.append_column("minute", minute)
    grouped = table.group_by(["partition", "minute", *ROLLUP_DIMENSIONS], use_threads=False).aggregate(
        [([], "count_all"), ("wait_seconds", "sum"), ("handle_seconds", "sum")]
    )
    minutes = pc.cast(pc.cast(grouped.column("minute"), pa.timestamp("s", tz="UTC")), pa.int64())
    columns = [grouped.column(d).to_pylist() for d in ROLLUP_DIMENSIONS]
    counts = grouped.column("count_all").to_pylist()
    waits = grouped.column("wait_seconds_sum").to_pylist()
    handles = grouped.column("handle_seconds_sum").to_pylist()
    partitions = grouped.column("partition").to_pylist()
    return [
        RollupRow(partitions[i], float(m), tuple(c[i] for c in columns), counts[i], waits[i] or 0.0, handles[i] or 0.0)
        for i, m in enumerate(minutes.to_pylist())
    ]


STORE_COLUMNS = (
    "event_id", "occurred_at", "municipality", "channel", "direction", "stage", "task", "task_label",
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
    from connectors.privacy import mask_personal_data  # one masking rule for every producer
    from datetime import datetime, timezone

    return orjson.dumps(
        {
            "schema_version": 1,
            "connector": "worker",
            "source": {"system": "kafka", "file": f"{topic}/{invalid.partition}", "line": invalid.line,
                       "offset": invalid.offset},
            "reason": f"invalid event in message at offset {invalid.offset}, line {invalid.line}: {invalid.reason}",
            "raw": mask_personal_data(invalid.raw.decode("utf-8", "backslashreplace")),
            "rejected_at": datetime.now(timezone.utc).isoformat(),
        }
    )

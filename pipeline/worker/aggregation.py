"""The worker's arithmetic, free of Kafka and ClickHouse: decode, drop duplicates, roll up.

A Kafka message on `inquiries` is a batch of NDJSON events. The worker joins the values of
many messages and decodes them in one columnar pass (pyarrow's JSON reader), so the
per-event cost is C++, not Python. Messages the fast path cannot read are decoded line by
line and every bad line becomes a dead letter with its partition and offset.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from pipeline.ground.privacy import RAW_KEPT, cut, mask_personal_data, masked_excerpt  # one masking rule for all
from schemas import DeadLetter, SourceRef
from schemas.inquiry import REASON_MAX
from schemas.wire import InvalidEvent

ROLLUP_DIMENSIONS = ("municipality", "channel", "task", "department", "site", "stage")


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

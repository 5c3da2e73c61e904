"""The worker's ClickHouse writers: events (one columnar insert per batch) and dead letters.

Transient errors (store unreachable or locked) are retried with backoff so no batch is
lost and the consumer does not commit past it. When ClickHouse refuses data, the rows it
refuses are found by halving the insert and handed back for the dead-letter topic; only a
store that refuses everything stops the worker (see `write`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.store.clickhouse import StoreQueryError
from pipeline.store.queries import query_text
from pipeline.store.serial import SerialStore

logger = logging.getLogger(__name__)

EVENTS_TABLE = "inquiry_events"
MONTHS_PER_INSERT = 50  # partitions (months) one insert may touch; ClickHouse's limit is 100


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


@dataclass(frozen=True)
class Refused:
    """A row ClickHouse refused on its own (its sibling rows were stored), with ClickHouse's reason."""

    event: pa.Table  # one row
    reason: str


@dataclass
class _Attempt:
    """One batch's insert: whether anything was stored yet, and how often ClickHouse refused."""

    budget: int
    stored: bool = False
    failures: int = 0


def month_groups(events: pa.Table, months_per_group: int) -> list[pa.Table]:
    """The events in groups spanning at most `months_per_group` distinct UTC months each."""
    occurred = events.column("occurred_at")
    month = pc.add(pc.multiply(pc.year(occurred), 100), pc.month(occurred))
    distinct = sorted(pc.unique(month).to_pylist())
    if len(distinct) <= months_per_group:
        return [events]
    groups = []
    for start in range(0, len(distinct), months_per_group):
        wanted = pa.array(distinct[start:start + months_per_group], type=month.type)
        groups.append(events.filter(pc.is_in(month, value_set=wanted)))
    return groups


class EventWriter:
    """Stores the events of the inquiries topic in inquiry_events, and reads back which are stored."""

    def __init__(self, shared: SerialStore) -> None:
        self.shared = shared
        self.store = shared.store

    async def stored_ids_async(self, days: list[date]) -> dict[date, list[str]]:
        return await self.shared.retrying(self.stored_ids_of_days, days)

    def stored_ids(self, day: date) -> list[str]:
        """Event ids already stored for one UTC day; seeds the worker's duplicate filter."""
        return self.stored_ids_of_days([day])[day]

    def stored_ids_of_days(self, days: list[date]) -> dict[date, list[str]]:
        """Event ids already stored per UTC day, for many days in one query: a batch whose
        events span years (a chat export, or a hostile client) costs one round trip, not one per day."""
        found: dict[date, list[str]] = {day: [] for day in days}
        if not days:
            return found
        table = self.store.query_arrow(query_text("stored_event_ids", self.store.database),
                                       parameters={"days": [day.isoformat() for day in days]})
        for day, event_id in zip(table.column("day").to_pylist(), table.column("id").to_pylist()):
            found.setdefault(day, []).append(event_id)
        return found

    async def write(self, events: pa.Table) -> list[Refused]:
        """Insert the events; waits out transient store outages.

        Rows go in groups of at most MONTHS_PER_INSERT months (ClickHouse refuses an insert
        block touching more than 100 partitions, and the tables are partitioned by month).
        Should ClickHouse refuse a group, it is halved until the rows it refuses are alone:
        those come back as Refused, for the caller to dead-letter with ClickHouse's reason, so
        one row no check foresaw cannot stop the worker. When ClickHouse keeps refusing and
        nothing of the batch could be stored within a few attempts (16 + 4 per doubling of
        the batch), the store, not the rows, is at fault: the error propagates, the worker exits
        without committing, and a restart tries again."""
        if events.num_rows == 0:
            return []
        attempt = _Attempt(budget=16 + 4 * events.num_rows.bit_length())
        refused: list[Refused] = []
        for group in month_groups(events, MONTHS_PER_INSERT):
            refused.extend(await self._write_or_bisect(group, attempt))
        return refused

    async def _write_or_bisect(self, events: pa.Table, attempt: _Attempt) -> list[Refused]:
        """The rows ClickHouse refused on their own; raises when the store refuses everything."""
        # The same events give the same token: a retry of an insert that did land is dropped.
        token = hashlib.sha256("".join(events.column("event_id").to_pylist()).encode()).hexdigest()
        try:
            await self.shared.retrying(self.store.insert_arrow, EVENTS_TABLE, to_store_table(events), token)
            attempt.stored = True
            return []
        except StoreQueryError as exc:
            attempt.failures += 1
            if not attempt.stored and attempt.failures > attempt.budget:
                raise StoreQueryError(f"ClickHouse refused every part of the batch: {exc}") from exc
            if events.num_rows == 1:
                logger.warning("ClickHouse refused event %s: %s", events.column("event_id")[0].as_py(), exc)
                return [Refused(events, str(exc))]
        half = events.num_rows // 2
        return (await self._write_or_bisect(events.slice(0, half), attempt)
                + await self._write_or_bisect(events.slice(half), attempt))


class DeadLetterWriter:
    """Stores the dead letters read back from the dead-letter topic, for the Data-quality board."""

    def __init__(self, shared: SerialStore) -> None:
        self.shared = shared

    async def write(self, letters: pa.Table) -> None:
        """Store dead letters read back from the topic (pipeline/worker/aggregation.py dead_letter_rows)."""
        if letters.num_rows == 0:
            return
        token = "letters:" + hashlib.sha256("".join(letters.column("letter_id").to_pylist()).encode()).hexdigest()
        await self.shared.retrying(self.shared.store.insert_arrow, "dead_letters", letters, token)

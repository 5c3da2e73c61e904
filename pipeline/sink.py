"""The ClickHouse sink: one columnar insert per batch, retried while ClickHouse is away.

Transient errors (store unreachable or locked) are retried with backoff so no batch is
lost and the consumer does not commit past it; terminal errors (ClickHouse refused the
data) propagate and stop the worker, since skipping would lose events silently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

import pyarrow as pa

from pipeline import metrics
from pipeline.aggregation import to_store_table
from pipeline.steering import Steering
from pipeline.store import EmbeddedStore, ServerStore, StoreUnavailable, init_schema
from pipeline.targets import record_targets

logger = logging.getLogger(__name__)

EVENTS_TABLE = "inquiry_events"
T = TypeVar("T")


class ClickHouseSink:
    """Runs store calls in a thread, so the worker keeps fetching from Kafka meanwhile, and
    one at a time: an embedded chDB session is not to be used by two threads at once."""

    def __init__(self, store: EmbeddedStore | ServerStore, max_backoff: float = 30.0) -> None:
        self.store = store
        self.max_backoff = max_backoff
        self._lock = asyncio.Lock()

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """fn(store, *args) in the store's thread, between the worker's own calls."""
        return await self._call(fn, self.store, *args)

    def setup(self, steering: Steering | None = None) -> None:
        """Create the schema if missing, so a fresh worker runs without a separate step, and
        load the steering file's prices, hours and closing days for the KPI views."""
        init_schema(self.store, steering)

    async def record_targets(self, steering: Steering, on: date) -> None:
        """Evaluate the steering file's targets for `on` and store them for the boards."""
        await self._retrying(record_targets, self.store, steering, on)

    async def stored_ids_async(self, day: date) -> list[str]:
        return await self._retrying(self.stored_ids, day)

    def stored_ids(self, day: date) -> list[str]:
        """Event ids already stored for one UTC day; seeds the worker's duplicate filter."""
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
        table = self.store.query_arrow(
            f"SELECT toString(event_id) AS id FROM {self.store.database}.{EVENTS_TABLE} "
            f"WHERE occurred_at >= toDateTime64('{start}', 3, 'UTC') AND occurred_at < toDateTime64('{end}', 3, 'UTC')"
        )
        return table.column("id").to_pylist()

    async def write(self, events: pa.Table) -> None:
        """Insert the events; waits out transient store outages."""
        if events.num_rows == 0:
            return
        # The same events give the same token: a retry of an insert that did land is dropped.
        token = hashlib.sha256("".join(events.column("event_id").to_pylist()).encode()).hexdigest()
        await self._retrying(self.store.insert_arrow, EVENTS_TABLE, to_store_table(events), token)

    async def _retrying(self, fn: Callable[..., T], *args: object) -> T:
        """Call the store until it answers; transient errors are waited out, terminal ones raised."""
        delay = 0.5
        while True:
            try:
                return await self._call(fn, *args)
            except StoreUnavailable as exc:
                metrics.STORE_RETRIES.inc()
                logger.warning("ClickHouse unavailable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

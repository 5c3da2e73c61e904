"""The worker's one store connection, shared by its writers and readers.

Store calls run in a thread, so the worker keeps fetching from Kafka meanwhile, and one at a
time: an embedded chDB session is not to be used by two threads at once. `retrying` waits
out a store that is unreachable or locked (a transient error) with backoff, so no batch is
lost and the consumer does not commit past it; what ClickHouse refuses is raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from pipeline.ground import metrics
from pipeline.ground.steering import Steering
from pipeline.store.clickhouse import EmbeddedStore, ServerStore, StoreUnavailable, init_schema

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SerialStore:
    """One store, its calls serialised in a thread; writers hold it, none inherits from it."""

    def __init__(self, store: EmbeddedStore | ServerStore, max_backoff: float = 30.0) -> None:
        self.store = store
        self.max_backoff = max_backoff
        self._lock = asyncio.Lock()

    def setup(self, steering: Steering | None = None) -> None:
        """Create the schema if missing, so a fresh worker runs without a separate step, and
        load the steering file's prices, hours and closing days for the KPI views."""
        init_schema(self.store, steering)

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """fn(store, *args) in the store's thread, between the worker's own calls, once."""
        return await self._call(fn, self.store, *args)

    async def retrying(self, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) in the store's thread until the store answers; transient errors are
        waited out, terminal ones raised."""
        delay = 0.5
        while True:
            try:
                return await self._call(fn, *args)
            except StoreUnavailable as exc:
                metrics.STORE_RETRIES.inc()
                logger.warning("ClickHouse unavailable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

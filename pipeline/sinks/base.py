"""What a source writes to: the sink contract every source's `run(sink, stop)` is given.

A source hands the sink batches of events (one key each) and dead letters, and calls `flush`
when it wants what it gave so far confirmed; the receipt resolves once it is (by the broker,
or by the worker having stored it), and only then does the source move its checkpoint. The
application chooses the sink (Kafka, or stdout for a dry run), never the source.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from schemas import DeadLetter, InquiryEvent

Receipt = asyncio.Future  # resolved once what a flush sent is confirmed


def confirmed() -> asyncio.Future[None]:
    """A receipt that is already confirmed (dry runs, and sinks that confirm on the spot)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class EventSink(Protocol):
    shows_rejections: bool  # True: the sink shows each rejection itself (a dry run), so sources need not log them

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None: ...

    async def send_dead_letter(self, letter: DeadLetter) -> None: ...

    async def flush(self) -> asyncio.Future[None]:
        """Send what was given since the last flush; the receipt resolves once it is confirmed."""
        ...

    async def send_events(self, batches: list[tuple[str, list[InquiryEvent]]]) -> asyncio.Future[None]:
        """Send these batches as a step of their own, whatever else is being gathered (one HTTP
        request of many served at once); the receipt resolves once they are confirmed."""
        ...

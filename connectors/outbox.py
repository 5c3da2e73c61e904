"""What a source has read on its way to the sink: batching, flushing, confirming, and the
checkpoint moved only once confirmed. Written once for every source that keeps a position
(files, IMAP folders), so each of them only says what its checkpoint is.

A flush hands the sink what was gathered since the last one and keeps a step: the sink's
receipt and the source's `commit` (save the checkpoint). Steps are committed strictly in
the order they were sent, once their receipt resolves; the counts of a step are added to the
source's stats only then, so a resent record is never counted twice. A step that waits longer
than `confirm_seconds` while nothing else moves raises Unconfirmed; the source abandons what
is pending and reads again from its last committed checkpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.ground.errors import TransientError
from pipeline.sinks.base import EventSink, confirmed
from schemas import DeadLetter, InquiryEvent


class Unconfirmed(TransientError):
    """Transient: sent, but not confirmed stored in time (the worker is down, or the broker lost
    the messages): the checkpoint stays before them and they are sent again."""


@dataclass
class ConnectorStats:
    """What a run did, counted once confirmed (a resent line is not counted twice)."""

    records: int = 0
    events: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    files: int = 0  # files, or folders for a polled source: its Traits.unit names them
    failed_files: set[str] = field(default_factory=set)
    resends: int = 0
    error: str | None = None  # why the connector stopped (kanalpuls run goes on with the others)

    def add(self, other: ConnectorStats) -> None:
        self.records += other.records
        self.events += other.events
        self.rejected += other.rejected
        self.skipped.update(other.skipped)

    @property
    def everything_rejected(self) -> bool:
        """Nothing but rejections (skipped blank lines and headers aside): the wrong connector
        or column mapping for these files."""
        return self.rejected > 0 and self.events == 0 and self.rejected + sum(self.skipped.values()) == self.records


@dataclass
class _Step:
    """A flush awaiting confirmation: what moves the checkpoint, and what it counts, once confirmed."""

    receipt: asyncio.Future[None]
    commit: Callable[[], None]
    stats: ConnectorStats
    sent_at: float
    confirmed_at: float | None = None


class Outbox:
    """Events and dead letters gathered between flushes, and the flushes not yet confirmed."""

    def __init__(self, sink: EventSink, stats: ConnectorStats, *, batch_events: int = 500,
                 confirm_seconds: float = 30.0, max_unconfirmed_events: int = 100_000) -> None:
        self.sink = sink
        self.stats = stats  # the source's confirmed counts; each step's are added once committed
        self.batch_events = batch_events
        self.confirm_seconds = confirm_seconds
        self.max_unconfirmed_events = max_unconfirmed_events
        self.counts = ConnectorStats()  # what the source counted since the last flush
        self.size = 0  # events gathered since the last flush
        self._by_key: defaultdict[str, list[InquiryEvent]] = defaultdict(list)
        self._dead_letters: list[DeadLetter] = []
        self._pending: deque[_Step] = deque()
        self._last_confirmed = time.monotonic()

    def add(self, event: InquiryEvent) -> None:
        self._by_key[event.partition_key].append(event)
        self.size += 1

    def add_dead_letter(self, letter: DeadLetter) -> None:
        self._dead_letters.append(letter)

    async def flush(self, commit: Callable[[], None]) -> None:
        """Send what was gathered; `commit` runs once it is confirmed, after every earlier step's."""
        by_key, self._by_key, self.size = self._by_key, defaultdict(list), 0
        for key, events in by_key.items():
            for start in range(0, len(events), self.batch_events):
                chunk = events[start : start + self.batch_events]
                await self.sink.send_batch(key, chunk)
                self.counts.events += len(chunk)
        letters, self._dead_letters = self._dead_letters, []
        for letter in letters:
            await self.sink.send_dead_letter(letter)
        receipt = await self.sink.flush() or confirmed()  # a sink that returns nothing confirms on the spot
        step = _Step(receipt, commit, self.counts, time.monotonic())
        receipt.add_done_callback(lambda _: self._confirmed(step))
        self._pending.append(step)
        self.counts = ConnectorStats()
        self.settle()
        await self._hold_back()

    def _confirmed(self, step: _Step) -> None:
        step.confirmed_at = self._last_confirmed = time.monotonic()

    def settle(self) -> None:
        """Commit the oldest confirmed steps, in order; raise Unconfirmed when the oldest step
        waits longer than confirm_seconds."""
        while self._pending and self._pending[0].receipt.done():
            step = self._pending[0]
            if step.receipt.cancelled() or step.receipt.exception() is not None:
                raise Unconfirmed("a confirmation failed")  # the step stays: abandon() drops it, nothing after it commits
            self._pending.popleft()
            step.commit()
            self.stats.add(step.stats)
            self._settled(step.receipt)
        if self._pending and self._overdue(self._pending[0]):
            raise Unconfirmed(f"sent {time.monotonic() - self._pending[0].sent_at:.0f} s ago and not yet "
                              "confirmed stored")

    def _overdue(self, oldest: _Step) -> bool:
        """Whether the oldest step is lost, not just slow: it waited confirm_seconds, and either
        nothing at all was confirmed for that long (the broker or the worker is gone) or a later
        step was confirmed that long ago (the worker went past it: the broker lost it). A worker
        that is behind but confirming is waited for, not flooded with resends."""
        now = time.monotonic()
        if now - oldest.sent_at <= self.confirm_seconds:
            return False
        confirmed_at = [step.confirmed_at for step in self._pending if step.confirmed_at is not None]
        quiet = now - max(self._last_confirmed, oldest.sent_at) > self.confirm_seconds
        passed_over = bool(confirmed_at) and now - min(confirmed_at) > self.confirm_seconds
        return quiet or passed_over

    async def _hold_back(self) -> None:
        """Read no further while too much is unconfirmed: wait for the oldest step."""
        while self._pending and sum(step.stats.events for step in self._pending) > self.max_unconfirmed_events:
            oldest = self._pending[0]
            await _wait(oldest.receipt, self.confirm_seconds - (time.monotonic() - oldest.sent_at))
            self.settle()

    async def drain(self, stop: asyncio.Event | None = None) -> None:
        """Wait until everything sent is confirmed and committed (or Unconfirmed is raised);
        return early, leaving the rest for the next run, once `stop` is set."""
        while self._pending:
            oldest = self._pending[0]
            await _wait(oldest.receipt, min(self.confirm_seconds - (time.monotonic() - oldest.sent_at), 1.0))
            self.settle()
            if stop is not None and stop.is_set() and self._pending:
                return

    def abandon(self) -> int:
        """Drop everything not confirmed (the source reads it again from its checkpoints);
        how many events that was."""
        waiting = sum(step.stats.events for step in self._pending) + self.counts.events + self.size
        for step in self._pending:
            self._settled(step.receipt)
        self._pending.clear()
        self._by_key, self.size = defaultdict(list), 0
        self._dead_letters = []
        self.counts = ConnectorStats()
        discard = getattr(self.sink, "discard", None)
        if discard is not None:
            discard()
        return waiting

    def _settled(self, receipt: asyncio.Future[None]) -> None:
        settled = getattr(self.sink, "settled", None)
        if settled is not None:
            settled(receipt)


# However late the oldest step is, a wait for it lasts this long at least: a worker that is
# behind but confirming is waited for without spinning a core.
_LEAST_WAIT = 0.05


async def _wait(receipt: asyncio.Future[None], seconds: float) -> None:
    """Wait up to `seconds` for `receipt`; how it ended is for settle() to judge (a failed or
    cancelled receipt is Unconfirmed there), so only the waiting task's own cancellation escapes."""
    try:
        await asyncio.wait_for(asyncio.shield(receipt), max(seconds, _LEAST_WAIT))
    except asyncio.TimeoutError:
        pass
    except asyncio.CancelledError:
        if not receipt.cancelled():
            raise
    except Exception:  # noqa: BLE001 - the receipt's own failure, judged by settle()
        pass

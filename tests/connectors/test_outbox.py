"""The Outbox every source shares (connectors/outbox.py): checkpoints commit in the order the
steps were sent, only once confirmed, never past a step whose confirmation failed, and a
late confirmation is waited for without spinning."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.outbox import ConnectorStats, Outbox, Unconfirmed
from schemas import DeadLetter, InquiryEvent


class ReceiptSink:
    """A sink whose receipts the test resolves, fails or leaves pending, one per flush."""

    shows_rejections = False

    def __init__(self) -> None:
        self.receipts: list[asyncio.Future[None]] = []
        self.forgotten: list[asyncio.Future[None]] = []
        self.discarded = 0

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None: ...

    async def send_dead_letter(self, letter: DeadLetter) -> None: ...

    async def flush(self) -> asyncio.Future[None]:
        self.receipts.append(asyncio.get_running_loop().create_future())
        return self.receipts[-1]

    def discard(self) -> None:
        self.discarded += 1

    def settled(self, receipt: asyncio.Future[None]) -> None:
        self.forgotten.append(receipt)


def test_steps_commit_in_the_order_sent_whatever_order_they_are_confirmed_in() -> None:
    async def scenario() -> list[int]:
        sink, committed = ReceiptSink(), []
        outbox = Outbox(sink, ConnectorStats(), confirm_seconds=5)
        for step in range(3):
            await outbox.flush(lambda step=step: committed.append(step))
        sink.receipts[2].set_result(None)
        sink.receipts[1].set_result(None)
        outbox.settle()
        assert committed == []  # the first is not confirmed yet: nothing after it moves
        sink.receipts[0].set_result(None)
        await outbox.drain()
        return committed

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_a_failed_confirmation_stops_every_later_commit_until_abandoned() -> None:
    async def scenario() -> None:
        sink, committed = ReceiptSink(), []
        outbox = Outbox(sink, ConnectorStats(), confirm_seconds=5)
        for step in range(2):
            await outbox.flush(lambda step=step: committed.append(step))
        sink.receipts[0].set_exception(RuntimeError("the worker's confirmation topic broke"))
        sink.receipts[1].set_result(None)
        for _ in range(2):  # asked again, it still refuses to commit past the failed step
            with pytest.raises(Unconfirmed):
                outbox.settle()
        with pytest.raises(Unconfirmed):
            await outbox.drain()  # the receipt's own error becomes Unconfirmed, not RuntimeError
        assert committed == []
        outbox.abandon()
        assert sink.discarded == 1 and set(map(id, sink.forgotten)) == set(map(id, sink.receipts))
        await outbox.drain()  # nothing left to wait for
        assert committed == []

    asyncio.run(scenario())


def test_a_cancelled_confirmation_is_unconfirmed_not_a_cancelled_run() -> None:
    async def scenario() -> None:
        sink = ReceiptSink()
        outbox = Outbox(sink, ConnectorStats(), confirm_seconds=5)
        await outbox.flush(lambda: None)
        sink.receipts[0].cancel()
        with pytest.raises(Unconfirmed):
            await outbox.drain()

    asyncio.run(scenario())


def test_a_worker_behind_but_confirming_is_waited_for_without_spinning() -> None:
    async def scenario() -> int:
        sink = ReceiptSink()
        outbox = Outbox(sink, ConnectorStats(), confirm_seconds=0.5)
        settles = 0
        settle = outbox.settle

        def counted() -> None:
            nonlocal settles
            settles += 1
            settle()

        outbox.settle = counted  # type: ignore[method-assign]
        await outbox.flush(lambda: None)
        await outbox.flush(lambda: None)
        sink.receipts[1].set_result(None)  # a later step confirmed: the first is late, not lost, for a while
        started = time.monotonic()
        with pytest.raises(Unconfirmed):
            await outbox.drain()
        assert time.monotonic() - started >= 0.5
        return settles

    assert asyncio.run(scenario()) < 100  # waits of 50 ms at least, not a busy loop of ~100,000

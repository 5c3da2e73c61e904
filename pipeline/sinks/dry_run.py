"""The dry-run sink: `--dry-run` shows what a source would send, and sends nothing."""

from __future__ import annotations

import asyncio
import sys
from typing import IO

from pipeline.sinks.base import confirmed
from schemas import DeadLetter, InquiryEvent


class DryRunSink:
    """`--dry-run`: events as NDJSON on stdout, each rejection with file, line, reason on stderr."""

    shows_rejections = True

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self.out, self.err = out or sys.stdout, err or sys.stderr

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None:
        for event in events:
            self.out.write(event.model_dump_json() + "\n")

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        self.err.write(f"{letter.source.file}:{letter.source.line}: {letter.reason}\n")

    async def flush(self) -> asyncio.Future[None]:
        self.out.flush()
        self.err.flush()
        return confirmed()

    async def send_events(self, batches: list[tuple[str, list[InquiryEvent]]]) -> asyncio.Future[None]:
        """One HTTP request's events, shown as a step of their own."""
        for key, events in batches:
            await self.send_batch(key, events)
        return await self.flush()

    async def broker_reachable(self, timeout: float = 3.0) -> bool:
        return True  # a dry run reaches no broker and needs none

    def settled(self, receipt: asyncio.Future[None]) -> None:
        """Nothing to forget: a dry run's receipts are confirmed on the spot."""

"""Shared connector machinery: read (plain or gzip, optionally following), parse, batch, produce, checkpoint.

Written once for every connector. The guarantee: the checkpoint moves past a record only
once its events are confirmed, by default by the worker having stored them (end-to-end
acknowledgement, pipeline/sinks/confirmations.py; `KANALPULS_CONNECTORS__CONFIRM=broker` settles
for the broker's acks=all). A connector killed at any moment resumes with no loss, and a
broker that loses what it had acknowledged (the embedded one keeps data in memory only) costs
a resend from the last confirmed checkpoint; what is sent again carries the same event ids
and the worker drops it as a duplicate.

Faults stay where they are: a bad line is one dead letter, an oversized line one dead
letter (it is never held in memory whole), a corrupt gzip, unreadable or vanished file one
message naming the file, while the other files and connectors go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, ClassVar

from pydantic import ValidationError

from connectors.base import ConnectorContext, Location, Parser, RecordRejected, Skip, connector_context
from connectors.checkpoints import Checkpoints
from connectors.config import ConnectorConfig
from connectors.files import (
    MAX_RECORD_BYTES,
    Head,
    NewerFiles,
    Position,
    Record,
    first_line_of,
    iter_records,
    open_log,
    read_first_line,
    reading_order,
    rotation_of,
    size_or_zero,
)
from connectors.outbox import ConnectorStats, Outbox, Unconfirmed
from connectors.source import Inputs, Traits
from pipeline.ground import metrics
from pipeline.ground.errors import TransientError
from pipeline.ground.privacy import RAW_KEPT, cut, masked_excerpt, masked_name
from pipeline.ground.settings import ConnectorSettings, Settings
from pipeline.ground.throttle import ThrottledLog
from pipeline.sinks.base import EventSink
from schemas import DeadLetter, InquiryEvent, SourceRef
from schemas.inquiry import PATH_MAX, REASON_MAX

logger = logging.getLogger(__name__)


# --- reading -------------------------------------------------------------------------


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


# --- the loop ------------------------------------------------------------------------


class _FileFault(Exception):
    """A file that cannot be read on (corrupt gzip, I/O error): reported, and reading goes on elsewhere."""

    def __init__(self, problem: str, position: Position) -> None:
        super().__init__(problem)
        self.position = position


class ConnectorRunner:
    """Runs one parser over files: the same loop for every connector."""

    def __init__(
        self,
        parser: Parser,
        system: str,
        sink: EventSink,
        checkpoints: Checkpoints | None,
        batch_events: int = 500,
        linger_seconds: float = 0.2,
        poll_seconds: float = 0.2,
        settle_seconds: float = 2.0,
        discover_seconds: float = 2.0,
        *,
        max_record_bytes: int = MAX_RECORD_BYTES,
        confirm_seconds: float = 30.0,
        max_unconfirmed_events: int = 100_000,
        resend_attempts: int = 3,
        rebuild_parser: Callable[[], Parser] | None = None,
    ) -> None:
        self.parser = parser
        self.system = system
        self.sink = sink
        self.checkpoints = checkpoints
        self.batch_events = batch_events
        self.linger_seconds = linger_seconds
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.discover_seconds = discover_seconds
        self.max_record_bytes = max_record_bytes
        self.confirm_seconds = confirm_seconds
        self.max_unconfirmed_events = max_unconfirmed_events
        self.resend_attempts = resend_attempts
        self.rebuild_parser = rebuild_parser
        self.stats = ConnectorStats()
        self.outbox = Outbox(sink, self.stats, batch_events=batch_events, confirm_seconds=confirm_seconds,
                             max_unconfirmed_events=max_unconfirmed_events)
        self._read: set[str] = set()
        self._redact = getattr(parser, "redact", lambda record: record)
        # A dry run prints every rejection itself; otherwise they are logged, a few at a time.
        self._rejections = None if sink.shows_rejections else ThrottledLog(logger)

    async def run(self, files: list[Path], follow: bool = False, stop: asyncio.Event | None = None,
                  discover: Callable[[], list[Path]] | None = None) -> ConnectorStats:
        """Read every file to its end, oldest first; with `follow`, keep reading the newest as it grows.

        Before a file whose checkpointed content was rotated away while the connector was
        down, the rotated file (renamed, compressed or copied) is finished first. With
        `discover` (the run file's glob patterns), a followed connector moves on to a file
        that appears later and was written after the one it follows (tomorrow's export),
        finishing the current one first; rotated copies of the followed file are older than
        it, so they are not mistaken for new files.

        When the broker does not take a batch, or what was sent is not confirmed in time,
        everything after the last confirmed checkpoint is read and sent again, after a pause
        that grows while nothing gets through. A followed connector keeps trying; a run that
        reads to the end gives up after `resend_attempts` and raises Unconfirmed."""
        known = list(files)
        failures, delay = 0, 1.0
        while True:
            confirmed_before = self.stats.records + self.stats.events
            try:
                await self._read_files(known, follow, stop, discover)
                await self.outbox.drain(stop)
                return self.stats
            except TransientError as exc:  # the broker did not take a batch, or it was not confirmed in time
                waiting = self._abandon()
                self.stats.resends += 1
                progressed = self.stats.records + self.stats.events > confirmed_before
                failures, delay = (1, 1.0) if progressed else (failures + 1, min(delay * 2, 60.0))
                if stop is not None and stop.is_set():
                    return self.stats
                if not follow and failures > self.resend_attempts:
                    raise Unconfirmed(f"{exc}; {waiting} event(s) not confirmed stored after {failures} attempts: "
                                      "is a worker running? The checkpoint stays before them; run again") from exc
                logger.warning("%s: %s; sending the %d unconfirmed event(s) again from the last confirmed "
                               "checkpoint in %.0f s", self.system, exc, waiting, delay)
                await _sleep_unless(stop, delay)

    async def _read_files(self, known: list[Path], follow: bool, stop: asyncio.Event | None,
                          discover: Callable[[], list[Path]] | None) -> None:
        queue = reading_order(known)
        seen = set(queue)
        if not queue and follow and discover is not None:
            queue = await self._first_files(discover, stop)
            seen.update(queue)
            known.extend(queue)
        while queue and not (stop is not None and stop.is_set()):
            path = queue.pop(0)
            for rotated in self._rotated_away(path):
                if rotated not in seen:
                    logger.info("%s was rotated to %s while the connector was down: finishing that first",
                                path, rotated)
                    await self._read_file(rotated, follow=False, stop=stop, rotated=True)
            followed = follow and not queue
            newer = NewerFiles(path, discover, seen, self.discover_seconds) if followed and discover else None
            await self._read_file(path, follow=followed, stop=stop, newer=newer)
            if newer is not None and newer.found:
                logger.info("moving on from %s to %s", path, ", ".join(str(f) for f in newer.found))
                queue = reading_order(newer.found)
                seen.update(queue)
                known.extend(queue)

    def _rotated_away(self, path: Path) -> list[Path]:
        try:
            return self.checkpoints.rotated_away(path) if self.checkpoints else []
        except OSError:
            return []

    async def _first_files(self, discover: Callable[[], list[Path]], stop: asyncio.Event | None) -> list[Path]:
        """Wait for the patterns to match a file: a followed connector started before its log exists."""
        while not (stop is not None and stop.is_set()):
            found = reading_order(discover())
            if found:
                return found
            await asyncio.sleep(self.discover_seconds)
        return []

    def _finished(self, path: Path, follow: bool, rotated: bool) -> bool:
        """Whether an unterminated last line is complete: never while following; otherwise
        when the file is rotated or compressed (so done) or nobody wrote it for settle_seconds
        (or it is gone). An unfinished line is left for the next run, which resumes before it."""
        if follow:
            return False
        try:
            return rotated or path.suffix == ".gz" or time.time() - path.stat().st_mtime >= self.settle_seconds
        except OSError:
            return True

    async def _read_file(self, path: Path, follow: bool, stop: asyncio.Event | None, rotated: bool = False,
                         newer: NewerFiles | None = None) -> None:
        """Read one file; a file that cannot be opened or read on is reported, never fatal."""
        try:
            if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block the read for ever
                raise IsADirectoryError(0, "not a regular file") if path.is_dir() else OSError(0, "not a regular file")
            position = self.checkpoints.start(path) if self.checkpoints else Position(path.stat().st_ino, 0, 0)
            self.parser.start_file(str(path), read_first_line(path))
            fh = open_log(path)
        except (OSError, EOFError, zlib.error) as exc:
            self._file_failed(path, f"cannot be read: {_why(exc)}")
            return
        self._read.add(str(path))
        self.stats.files = len(self._read)
        head = Head()
        try:
            while True:
                final = self._finished(path, follow, rotated)
                position = await self._read_available(path, fh, position, head, final=final, stop=stop)
                if stop is not None and stop.is_set():
                    return  # told to stop (Ctrl-C, SIGTERM): the checkpoint is where the reading got to
                if not follow and not final and position.offset < size_or_zero(fh):
                    logger.info("%s: the last line has no newline yet and the file changed within %.0fs; "
                                "it is left for the next run", path, self.settle_seconds)
                if not follow or (stop is not None and stop.is_set()):
                    return
                await asyncio.sleep(self.poll_seconds)
                self.outbox.settle()
                if newer is not None and newer.look():
                    await self._read_available(path, fh, position, head, final=True)
                    return
                rotation = rotation_of(path, fh, position, head)
                if rotation == "renamed":
                    # The writer has moved to a new file: finish the old one (its last line is
                    # complete now), then read the new one from its start.
                    position = await self._read_available(path, fh, position, head, final=True)
                    try:
                        new = open_log(path)
                    except OSError:  # renamed away again already: the next look finds the newest
                        continue
                    fh.close()
                    fh = new
                    position = Position(os.fstat(fh.fileno()).st_ino, 0, 0)
                    head = Head()
                    self.parser.start_file(str(path), first_line_of(fh))
                    logger.info("%s was rotated (renamed and created anew): reading the new file", path)
                elif rotation == "truncated":
                    # Lines written between our last read and the truncation exist only in the
                    # copy (queue_log.1): finish it from our position when it is there.
                    for copy in self._rotated_away(path):
                        logger.info("%s was copied to %s and truncated: finishing the copy", path, copy)
                        await self._read_file(copy, follow=False, stop=stop, rotated=True)
                    self.parser.start_file(str(path), first_line_of(fh))
                    position = Position(position.inode, 0, 0)
                    head = Head()
                    logger.warning("%s was truncated in place (copytruncate): reading it from the start", path)
        except _FileFault as fault:
            self._file_failed(path, str(fault), fault.position)
            await self._flush(path, fault.position, head, fh)
        finally:
            fh.close()

    def _file_failed(self, path: Path, problem: str, position: Position | None = None) -> None:
        """One message and one dead letter for a file that cannot be read (on); the run goes on."""
        self.stats.failed_files.add(str(path))
        where = f" after line {position.line} (byte {position.offset})" if position is not None and position.line else ""
        logger.error("%s%s %s; skipping the rest of it, the other files go on", path, where, problem)
        line = position.line + 1 if position is not None else 1
        self.outbox.add_dead_letter(DeadLetter(
            connector=self.parser.kind,
            source=SourceRef(system=self.system, file=str(path)[:PATH_MAX], line=line,
                             offset=position.offset if position is not None else 0),
            reason=cut(f"the file{where} {problem}; the records before were read", REASON_MAX - 64),
            raw="",
            rejected_at=datetime.now(timezone.utc),
        ))

    async def _read_available(self, path: Path, fh: IO[bytes], position: Position, head: Head,
                              final: bool, stop: asyncio.Event | None = None) -> Position:
        name = str(path)
        last_flush = time.monotonic()
        try:
            for record in iter_records(fh, position.offset, position.line, final, self.max_record_bytes):
                self._handle(record, name)
                position = Position(position.inode, record.end, record.line)
                if self.outbox.size >= self.batch_events * 8 or time.monotonic() - last_flush > self.linger_seconds:
                    await self._flush(path, position, head, fh)
                    last_flush = time.monotonic()
                    if stop is not None and stop.is_set():
                        return position
        except (OSError, EOFError, zlib.error) as exc:
            raise _FileFault(f"cannot be read on: {_why(exc)}", position) from exc
        await self._flush(path, position, head, fh)
        return position

    def _handle(self, record: Record, file: str) -> None:
        counts = self.outbox.counts
        counts.records += 1
        location = Location(self.system, file, record.line, record.offset)
        if record.size >= 0:
            self._reject(record, location, f"line of {record.size:,} bytes is over the limit of "
                         f"{self.max_record_bytes:,} (KANALPULS_CONNECTORS__MAX_RECORD_BYTES); it was not parsed")
            return
        if not record.data.strip():
            counts.skipped["blank line"] += 1
            metrics.CONNECTOR_SKIPPED.labels(self.parser.kind, "blank line").inc()
            return
        try:
            result = self.parser.parse(record.data, location)
        except (RecordRejected, ValidationError) as exc:
            # A ValidationError means the parser let through a value the event model refuses:
            # still this record's fault, never a reason to stop reading.
            self._reject(record, location, exc.reason if isinstance(exc, RecordRejected)
                         else f"makes an invalid event: {_first_error(exc)}")
            return
        if isinstance(result, Skip):
            counts.skipped[result.reason] += 1
            metrics.CONNECTOR_SKIPPED.labels(self.parser.kind, result.reason).inc()
            return
        metrics.CONNECTOR_RECORDS.labels(self.parser.kind, "parsed").inc()
        for event in result:
            self.outbox.add(_names_masked(event))

    def _reject(self, record: Record, location: Location, reason: str) -> None:
        self.outbox.counts.rejected += 1
        metrics.CONNECTOR_RECORDS.labels(self.parser.kind, "rejected").inc()
        if self._rejections is not None:
            self._rejections.warning(location.file, "rejected %s line %d: %s", location.file, location.line, reason)
        self.outbox.add_dead_letter(DeadLetter(
            connector=self.parser.kind,
            source=SourceRef(system=location.system, file=location.file, line=location.line, offset=location.offset),
            reason=cut(reason, REASON_MAX - 64),
            raw=masked_excerpt(record.data[: 4 * RAW_KEPT].decode("utf-8", "backslashreplace"), self._redact),
            rejected_at=datetime.now(timezone.utc),
        ))

    async def _flush(self, path: Path, position: Position, head: Head, fh: IO[bytes]) -> None:
        """Send what was read up to `position`; its checkpoint is saved once confirmed."""
        try:
            position.fingerprint = head.fingerprint(fh, position.offset)
        except (OSError, EOFError, zlib.error):
            position.fingerprint = ""
        checkpoints = self.checkpoints
        await self.outbox.flush(lambda: checkpoints.save(path, position) if checkpoints is not None else None)

    def _abandon(self) -> int:
        """Drop everything not confirmed (it is read again from the checkpoints); how many events that was."""
        waiting = self.outbox.abandon()
        if self.rebuild_parser is not None:
            self.parser = self.rebuild_parser()
        return waiting


_NAMES = ("queue", "site", "department", "task_label")


def _names_masked(event: InquiryEvent) -> InquiryEvent:
    """The event with personal-data patterns masked in the names its source gave: a queue,
    ticket service, site or department column may hold a CPR number, a name with a phone
    number, an e-mail address (they reached ClickHouse, and a site the message key)."""
    names = (event.queue, event.site, event.department, event.task_label)
    masked = tuple(masked_name(name) for name in names)
    if masked == names:
        return event
    return event.model_copy(update=dict(zip(_NAMES, masked)))


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, EOFError):
        return f"the compressed data ends early ({exc})"
    return f"{type(exc).__name__}: {exc}"


async def _sleep_unless(stop: asyncio.Event | None, seconds: float) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class FileSource:
    """Log files read by one parser: the source every file connector is. The parser is built
    anew after a resend, so a parser's state (a call's queue, a message's first hop) never
    holds what was abandoned."""

    traits: ClassVar[Traits] = Traits("file(s)", takes_paths=True)

    def __init__(self, parser: Parser, new_parser: Callable[[], Parser], system: str,
                 connectors: ConnectorSettings, inputs: Inputs) -> None:
        self.parser = parser
        self.new_parser = new_parser
        self.system = system
        self.connectors = connectors
        self.inputs = inputs
        # Read now, before any broker is contacted: a damaged file is a terminal error of its own.
        self.checkpoints = Checkpoints(inputs.checkpoint_file) if inputs.checkpoint_file is not None else None

    @classmethod
    def open(cls, settings: Settings, config: ConnectorConfig, inputs: Inputs,
             parser_class: Callable[[ConnectorConfig, ConnectorContext], Parser]) -> FileSource:
        """The source of one parser; the mapping is read now, so a bad one stops the start."""

        def new_parser() -> Parser:
            return parser_class(config, connector_context(settings))

        return cls(new_parser(), new_parser, config.system, settings.connectors, inputs)

    async def run(self, sink: EventSink, stop: asyncio.Event | None = None) -> ConnectorStats:
        connectors, inputs = self.connectors, self.inputs
        runner = ConnectorRunner(
            self.parser, self.system, sink, self.checkpoints,
            batch_events=connectors.batch_events,
            linger_seconds=connectors.linger_seconds,
            poll_seconds=connectors.poll_seconds,
            settle_seconds=connectors.settle_seconds,
            max_record_bytes=connectors.max_record_bytes,
            confirm_seconds=connectors.confirm_seconds,
            max_unconfirmed_events=connectors.max_unconfirmed_events,
            resend_attempts=connectors.resend_attempts,
            rebuild_parser=self.new_parser,
        )
        return await runner.run(list(inputs.paths), follow=inputs.follow, stop=stop, discover=inputs.discover)

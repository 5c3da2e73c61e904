"""Shared connector machinery: read (plain or gzip, optionally following), parse, batch, produce, checkpoint.

Written once for every connector. The guarantee: a record's events reach the broker
(acks=all) before the checkpoint moves past the record, so a connector killed at any
moment resumes with no loss; what it resends after a kill carries the same event ids and
the worker drops it as a duplicate.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError

from connectors.base import Location, Parser, RecordRejected, Skip
from connectors.privacy import RAW_KEPT, cut, masked_excerpt
from pipeline import metrics
from schemas import DeadLetter, InquiryEvent, SourceRef
from schemas.inquiry import REASON_MAX

logger = logging.getLogger(__name__)


class ProduceFailed(Exception):
    """Transient: the broker did not acknowledge; the checkpoint stays, a restart resends."""


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    data: bytes  # without the line ending
    line: int  # 1-based
    offset: int  # byte offset of the record's first byte (decompressed for .gz)
    end: int  # byte offset just after the record's line ending


def open_log(path: Path) -> IO[bytes]:
    """Open a log for binary reading; .gz files are decompressed on the fly."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_first_line(path: Path) -> bytes | None:
    with open_log(path) as fh:
        line = fh.readline()
    return line.rstrip(b"\r\n") if line else None


def iter_records(fh: IO[bytes], offset: int, line: int, final: bool) -> Iterator[Record]:
    """Records from `offset` on. A last line without newline is yielded only when `final`
    (a finished file may lack its final newline; a followed file may still be writing it)."""
    fh.seek(offset)
    for raw in fh:
        if not raw.endswith(b"\n") and not final:
            return
        line += 1
        end = offset + len(raw)
        yield Record(raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw.rstrip(b"\r"), line, offset, end)
        offset = end


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


class Head:
    """The first bytes read from a followed file: when the file no longer starts with them,
    it was truncated and rewritten (copytruncate) even if it has already grown past the
    position read, which the size alone cannot tell."""

    def __init__(self) -> None:
        self.data = b""

    def remember(self, fh: IO[bytes], offset: int) -> None:
        if len(self.data) < FINGERPRINT_BYTES and offset > len(self.data):
            at = fh.tell()
            fh.seek(0)
            self.data = fh.read(min(offset, FINGERPRINT_BYTES))
            fh.seek(at)

    def still_at_start_of(self, path: Path) -> bool:
        if not self.data:
            return True
        with open_log(path) as fh:
            return fh.read(len(self.data)) == self.data


def _rotation(path: Path, fh: IO[bytes], position: Position, head: Head) -> str | None:
    """'renamed' when `path` now names another file, 'truncated' when the open file shrank
    below what was read or no longer starts as it did, else None (also while a rotated
    file is not yet re-created)."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return None
    if named.st_ino != os.fstat(fh.fileno()).st_ino:
        return "renamed"
    if named.st_size < position.offset:
        return "truncated"
    if named.st_size > position.offset and not head.still_at_start_of(path):
        return "truncated"
    return None


# --- checkpoints ---------------------------------------------------------------------


@dataclass
class Position:
    inode: int
    offset: int
    line: int
    fingerprint: str = ""  # sha256 of the file's first min(offset, 4 KiB) bytes


FINGERPRINT_BYTES = 4096


def fingerprint(path: Path, upto: int) -> str:
    """Hash of bytes already read: unchanged in an append-only file, changed when the file
    was truncated (copytruncate) or replaced by another that reuses the inode."""
    with open_log(path) as fh:
        return hashlib.sha256(fh.read(min(upto, FINGERPRINT_BYTES))).hexdigest()


def file_size(path: Path) -> int:
    with open_log(path) as fh:
        return fh.seek(0, os.SEEK_END)


def _holds(path: Path, position: Position) -> bool:
    """Whether `path` starts with the bytes a checkpoint was taken on (and is at least as long)."""
    try:
        return file_size(path) >= position.offset and fingerprint(path, position.offset) == position.fingerprint
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def reading_order(files: list[Path]) -> list[Path]:
    """Oldest first by modification time, so rotated files (queue_log.2.gz, queue_log.1,
    queue_log-20261122.gz) come before the live one whatever the naming scheme. On equal
    times a file whose name starts another's (the live `queue_log`) comes after it."""
    def key(path: Path) -> tuple[int, int, str]:
        live = any(other != path and other.name.startswith(path.name) for other in files)
        return path.stat().st_mtime_ns, int(live), path.name
    return sorted(files, key=key)


class Checkpoints:
    """Read positions per file, in one JSON file per connector, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.positions: dict[str, Position] = {}
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.positions = {name: Position(**pos) for name, pos in data.get("files", {}).items()}

    def start(self, file: Path) -> Position:
        """Where to resume `file`: its saved position if it is still the same file; the
        position saved under another name if this file is where that content went (renamed,
        compressed or copied away by log rotation while the connector was down); else the start."""
        inode = file.stat().st_ino
        saved = self.positions.get(str(file))
        if saved and saved.inode == inode and _holds(file, saved):
            return saved
        moved = self._moved_to(file)
        if moved is not None:
            name, position = moved
            logger.info("%s holds the content checkpointed as %s (rotated while the connector was down): "
                        "resuming it at line %d", file, name, position.line)
            return Position(inode, position.offset, position.line, position.fingerprint)
        if saved:
            logger.warning("%s is not the file the checkpoint was taken on (rotated, truncated or replaced): "
                           "reading it from the start", file)
        return Position(inode=inode, offset=0, line=0)

    def rotated_away(self, file: Path) -> list[Path]:
        """Rotated siblings of `file` (file.1, file.1.gz, file-20261123.gz, ...) that hold the
        content checkpointed under `file`'s name, which `file` itself no longer holds: the
        lines between the last checkpoint and the rotation are still to be read there."""
        saved = self.positions.get(str(file))
        if not saved or saved.offset == 0 or (file.exists() and file.stat().st_ino == saved.inode
                                              and _holds(file, saved)):
            return []
        siblings = sorted(p for p in file.parent.glob(f"{glob.escape(file.name)}[.-]*") if p.is_file())
        return [p for p in siblings if str(p) not in self.positions and _holds(p, saved)][:1]

    def _moved_to(self, file: Path) -> tuple[str, Position] | None:
        """A position saved under another name whose file no longer holds it, but `file` does."""
        for name, position in self.positions.items():
            if name == str(file) or position.offset == 0:
                continue
            there = Path(name)
            if there.exists() and there.stat().st_ino == position.inode and _holds(there, position):
                continue  # still where it was read: `file` is at most a copy of it
            if _holds(file, position):
                return name, position
        return None

    def save(self, file: Path, position: Position) -> None:
        if not position.fingerprint or position.offset < FINGERPRINT_BYTES:
            position = Position(position.inode, position.offset, position.line, fingerprint(file, position.offset))
        self.positions[str(file)] = position
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        payload = {"files": {name: vars(pos) for name, pos in self.positions.items()}}
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


# --- producing -----------------------------------------------------------------------


class EventSink(Protocol):
    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None: ...

    async def send_dead_letter(self, letter: DeadLetter) -> None: ...

    async def flush(self) -> None: ...


def encode_batch(events: list[InquiryEvent]) -> bytes:
    """The wire format: one event per line (NDJSON), see schemas/WIRE_FORMAT.md."""
    return b"\n".join(e.model_dump_json().encode() for e in events)


class KafkaEventSink:
    """Produces batches to the inquiries topic and dead letters to the DLQ, acks=all."""

    def __init__(self, bootstrap: str, topic: str, dead_letter_topic: str, timeout: float = 30.0) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=16 * 1024 * 1024,
            request_timeout_ms=int(timeout * 1000),
        )
        self._topic = topic
        self._dead_letter_topic = dead_letter_topic
        self._pending: list[asyncio.Future[object]] = []
        self._bootstrap = bootstrap

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaConnectionError as exc:
            await self._producer.stop()
            raise ProduceFailed(f"no Kafka broker answers at {self._bootstrap}: start `kanalpuls broker` "
                                f"or set KANALPULS_KAFKA__BOOTSTRAP") from exc

    async def stop(self) -> None:
        await self._producer.stop()

    async def broker_reachable(self, timeout: float = 3.0) -> bool:
        """Whether a broker answers a metadata request now: what the HTTP ingest's /healthz
        reports, so a load balancer stops sending events to an ingest that cannot deliver them."""
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, OSError, asyncio.TimeoutError):
            return False
        return True

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None:
        await self._send(self._topic, encode_batch(events), key.encode())

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        await self._send(self._dead_letter_topic, letter.model_dump_json().encode(), letter.connector.encode())

    async def _send(self, topic: str, value: bytes, key: bytes) -> None:
        try:
            self._pending.append(await self._producer.send(topic, value, key=key))
        except KafkaError as exc:
            raise ProduceFailed(f"the broker refused a message for topic {topic}: {exc}") from exc

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        try:
            await asyncio.gather(*pending)
        except KafkaError as exc:
            raise ProduceFailed(f"the broker did not acknowledge a batch: {exc}") from exc


class DryRunSink:
    """`--dry-run`: events as NDJSON on stdout, each rejection with file, line, reason on stderr."""

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self.out, self.err = out or sys.stdout, err or sys.stderr

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None:
        for event in events:
            self.out.write(event.model_dump_json() + "\n")

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        self.err.write(f"{letter.source.file}:{letter.source.line}: {letter.reason}\n")

    async def flush(self) -> None:
        self.out.flush()
        self.err.flush()


class _NewerFiles:
    """Files a followed connector should move on to: matched by the patterns, not known yet,
    and modified after the followed file (so not one of its rotated copies)."""

    def __init__(self, followed: Path, discover: Callable[[], list[Path]], known: set[Path], every: float) -> None:
        self.followed, self.discover, self.known, self.every = followed, discover, known, every
        self.found: list[Path] = []
        self._last_look = time.monotonic()

    def look(self) -> bool:
        if time.monotonic() - self._last_look < self.every:
            return False
        self._last_look = time.monotonic()
        try:
            followed_at = self.followed.stat().st_mtime_ns
        except FileNotFoundError:
            followed_at = 0
        fresh = []
        for path in self.discover():
            try:
                if path not in self.known and path.stat().st_mtime_ns > followed_at:
                    fresh.append(path)
            except FileNotFoundError:
                continue
        self.found = fresh
        return bool(fresh)


# --- the loop ------------------------------------------------------------------------


@dataclass
class ConnectorStats:
    records: int = 0
    events: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    files: int = 0


@dataclass
class _Batches:
    by_key: defaultdict[str, list[InquiryEvent]] = field(default_factory=lambda: defaultdict(list))
    size: int = 0


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
        self.stats = ConnectorStats()
        self._batches = _Batches()
        self._dead_letters: list[DeadLetter] = []
        self._redact = getattr(parser, "redact", lambda record: record)

    async def run(self, files: list[Path], follow: bool = False, stop: asyncio.Event | None = None,
                  discover: Callable[[], list[Path]] | None = None) -> ConnectorStats:
        """Read every file to its end, oldest first; with `follow`, keep reading the newest as it grows.

        Before a file whose checkpointed content was rotated away while the connector was
        down, the rotated file (renamed, compressed or copied) is finished first. With
        `discover` (the run file's glob patterns), a followed connector moves on to a file
        that appears later and was written after the one it follows (tomorrow's export),
        finishing the current one first; rotated copies of the followed file are older than
        it, so they are not mistaken for new files."""
        queue = reading_order(files)
        known = set(queue)
        if not queue and follow and discover is not None:
            queue = await self._first_files(discover, stop)
            known.update(queue)
        while queue:
            path = queue.pop(0)
            for rotated in self.checkpoints.rotated_away(path) if self.checkpoints else ():
                if rotated not in known:
                    logger.info("%s was rotated to %s while the connector was down: finishing that first",
                                path, rotated)
                    await self._read_file(rotated, follow=False, stop=stop, rotated=True)
                    self.stats.files += 1
            followed = follow and not queue
            newer = _NewerFiles(path, discover, known, self.discover_seconds) if followed and discover else None
            await self._read_file(path, follow=followed, stop=stop, newer=newer)
            self.stats.files += 1
            if newer is not None and newer.found:
                logger.info("moving on from %s to %s", path, ", ".join(str(f) for f in newer.found))
                queue = reading_order(newer.found)
                known.update(queue)
        return self.stats

    async def _first_files(self, discover: Callable[[], list[Path]], stop: asyncio.Event | None) -> list[Path]:
        """Wait for the patterns to match a file: a followed connector started before its log exists."""
        while not (stop is not None and stop.is_set()):
            found = discover()
            if found:
                return reading_order(found)
            await asyncio.sleep(self.discover_seconds)
        return []

    def _finished(self, path: Path, follow: bool, rotated: bool) -> bool:
        """Whether an unterminated last line is complete: never while following; otherwise
        when the file is rotated or compressed (so done) or nobody wrote it for settle_seconds.
        An unfinished line is left for the next run, which resumes before it."""
        if follow:
            return False
        return rotated or path.suffix == ".gz" or time.time() - path.stat().st_mtime >= self.settle_seconds

    async def _read_file(self, path: Path, follow: bool, stop: asyncio.Event | None, rotated: bool = False,
                         newer: _NewerFiles | None = None) -> None:
        position = self.checkpoints.start(path) if self.checkpoints else Position(path.stat().st_ino, 0, 0)
        self.parser.start_file(str(path), read_first_line(path))
        fh = open_log(path)
        head = Head()
        try:
            while True:
                final = self._finished(path, follow, rotated)
                position = await self._read_available(path, fh, position, final=final)
                head.remember(fh, position.offset)
                if not follow and not final and position.offset < file_size(path):
                    logger.info("%s: the last line has no newline yet and the file changed within %.0fs; "
                                "it is left for the next run", path, self.settle_seconds)
                if not follow or (stop is not None and stop.is_set()):
                    return
                await asyncio.sleep(self.poll_seconds)
                if newer is not None and newer.look():
                    await self._read_available(path, fh, position, final=True)
                    return
                rotation = _rotation(path, fh, position, head)
                if rotation == "renamed":
                    # The writer has moved to a new file: finish the old one (its last line is
                    # complete now), then read the new one from its start.
                    position = await self._read_available(path, fh, position, final=True)
                    fh.close()
                    fh = open_log(path)
                    position = Position(os.fstat(fh.fileno()).st_ino, 0, 0)
                    head = Head()
                    self.parser.start_file(str(path), read_first_line(path))
                    logger.info("%s was rotated (renamed and created anew): reading the new file", path)
                elif rotation == "truncated":
                    # Lines written between our last read and the truncation exist only in the
                    # copy (queue_log.1): finish it from our position when it is there.
                    for copy in self.checkpoints.rotated_away(path) if self.checkpoints else ():
                        logger.info("%s was copied to %s and truncated: finishing the copy", path, copy)
                        await self._read_file(copy, follow=False, stop=stop, rotated=True)
                    self.parser.start_file(str(path), read_first_line(path))
                    position = Position(position.inode, 0, 0)
                    head = Head()
                    logger.warning("%s was truncated in place (copytruncate): reading it from the start", path)
        finally:
            fh.close()

    async def _read_available(self, path: Path, fh: IO[bytes], position: Position, final: bool) -> Position:
        name = str(path)
        last_flush = time.monotonic()
        for record in iter_records(fh, position.offset, position.line, final):
            self._handle(record, name)
            position = Position(position.inode, record.end, record.line)
            if self._batches.size >= self.batch_events * 8 or time.monotonic() - last_flush > self.linger_seconds:
                await self._flush(path, position)
                last_flush = time.monotonic()
        await self._flush(path, position)
        return position

    def _handle(self, record: Record, file: str) -> None:
        self.stats.records += 1
        location = Location(self.system, file, record.line, record.offset)
        try:
            result = self.parser.parse(record.data, location)
        except (RecordRejected, ValidationError) as exc:
            # A ValidationError means the parser let through a value the event model refuses:
            # still this record's fault, never a reason to stop reading.
            reason = exc.reason if isinstance(exc, RecordRejected) else f"makes an invalid event: {_first_error(exc)}"
            self.stats.rejected += 1
            metrics.CONNECTOR_RECORDS.labels(self.parser.kind, "rejected").inc()
            self._dead_letters.append(self._dead_letter(record, location, reason))
            return
        if isinstance(result, Skip):
            self.stats.skipped[result.reason] += 1
            metrics.CONNECTOR_SKIPPED.labels(self.parser.kind, result.reason).inc()
            return
        metrics.CONNECTOR_RECORDS.labels(self.parser.kind, "parsed").inc()
        for event in result:
            self._batches.by_key[event.partition_key].append(event)
            self._batches.size += 1

    def _dead_letter(self, record: Record, location: Location, reason: str) -> DeadLetter:
        logger.warning("rejected %s line %d: %s", location.file, location.line, reason)
        return DeadLetter(
            connector=self.parser.kind,
            source=SourceRef(system=location.system, file=location.file, line=location.line, offset=location.offset),
            reason=cut(reason, REASON_MAX - 64),
            raw=masked_excerpt(record.data[: 4 * RAW_KEPT].decode("utf-8", "backslashreplace"), self._redact),
            rejected_at=datetime.now(timezone.utc),
        )

    async def _flush(self, path: Path, position: Position) -> None:
        batches, self._batches = self._batches, _Batches()
        for key, events in batches.by_key.items():
            for start in range(0, len(events), self.batch_events):
                chunk = events[start : start + self.batch_events]
                await self.sink.send_batch(key, chunk)
                self.stats.events += len(chunk)
        letters, self._dead_letters = self._dead_letters, []
        for letter in letters:
            await self.sink.send_dead_letter(letter)
        await self.sink.flush()
        if self.checkpoints is not None:
            self.checkpoints.save(path, position)

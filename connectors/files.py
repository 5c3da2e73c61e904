"""Reading log files, written once for every file connector: plain or gzip, line by line with
byte offsets, oversized lines cut, rotation noticed by a fingerprint of the first bytes, and the
order in which rotated copies are read."""


from __future__ import annotations

import gzip
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class Record:
    data: bytes  # without the line ending; only the first bytes of an oversized line
    line: int  # 1-based
    offset: int  # byte offset of the record's first byte (decompressed for .gz)
    end: int  # byte offset just after the record's line ending
    size: int = -1  # the whole line's length, when it was over the limit and cut (-1: whole)


MAX_RECORD_BYTES = 1024 * 1024  # default: a line longer than this is dead-lettered, never parsed


_KEPT_OF_OVERSIZED = 16 * 1024


_SKIP_CHUNK = 1024 * 1024


def open_log(path: Path) -> IO[bytes]:
    """Open a log for binary reading; .gz files are decompressed on the fly."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_first_line(path: Path) -> bytes | None:
    with open_log(path) as fh:
        line = fh.readline(MAX_RECORD_BYTES)
    return line.rstrip(b"\r\n") if line else None


def iter_records(fh: IO[bytes], offset: int, line: int, final: bool,
                 max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record]:
    """Records from `offset` on. A last line without newline is yielded only when `final`
    (a finished file may lack its final newline; a followed file may still be writing it).
    A line longer than `max_bytes` is read past in chunks and yielded cut, with its size."""
    fh.seek(offset)
    readline = fh.readline
    while True:
        raw = readline(max_bytes + 1)
        if not raw:
            return
        size = len(raw)
        if size > max_bytes and not raw.endswith(b"\n"):
            head = raw[:_KEPT_OF_OVERSIZED]
            while not raw.endswith(b"\n"):
                raw = readline(_SKIP_CHUNK)
                if not raw:
                    break
                size += len(raw)
            if not final and not raw.endswith(b"\n"):
                return
            line += 1
            yield Record(head, line, offset, offset + size, size - (1 if raw.endswith(b"\n") else 0))
            offset += size
            continue
        if not raw.endswith(b"\n") and not final:
            return
        line += 1
        end = offset + size
        yield Record(raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw.rstrip(b"\r"), line, offset, end)
        offset = end


class Head:
    """The first bytes read from a followed file: when the file no longer starts with them,
    it was truncated and rewritten (copytruncate) even if it has already grown past the
    position read, which the size alone cannot tell."""

    def __init__(self) -> None:
        self.data = b""

    def remember(self, fh: IO[bytes], offset: int) -> None:
        if len(self.data) < FINGERPRINT_BYTES and min(offset, FINGERPRINT_BYTES) > len(self.data):
            at = fh.tell()
            fh.seek(0)
            self.data = fh.read(min(offset, FINGERPRINT_BYTES))
            fh.seek(at)

    def fingerprint(self, fh: IO[bytes], offset: int) -> str:
        """The checkpoint fingerprint of the first `offset` bytes, read from the open file, so
        a file renamed or deleted meanwhile is never opened again by its name."""
        self.remember(fh, offset)
        return hashlib.sha256(self.data[: min(offset, FINGERPRINT_BYTES)]).hexdigest()

    def still_at_start_of(self, path: Path) -> bool:
        if not self.data:
            return True
        try:
            with open_log(path) as fh:
                return fh.read(len(self.data)) == self.data
        except (OSError, EOFError):
            return True  # gone or unreadable for a moment: the next look decides


def rotation_of(path: Path, fh: IO[bytes], position: Position, head: Head) -> str | None:
    """'renamed' when `path` now names another file, 'truncated' when the open file shrank
    below what was read or no longer starts as it did, else None (also while a rotated
    file is not yet re-created)."""
    try:
        named = path.stat()
    except OSError:  # not re-created yet after a rename or delete, or unreadable for a moment
        return None
    if named.st_ino != os.fstat(fh.fileno()).st_ino:
        return "renamed"
    if named.st_size < position.offset:
        return "truncated"
    if named.st_size > position.offset and not head.still_at_start_of(path):
        return "truncated"
    return None


@dataclass
class Position:
    inode: int
    offset: int
    line: int
    fingerprint: str = ""  # sha256 of the file's first min(offset, 4 KiB) bytes


def fingerprint(path: Path, upto: int) -> str:
    """Hash of bytes already read: unchanged in an append-only file, changed when the file
    was truncated (copytruncate) or replaced by another that reuses the inode."""
    with open_log(path) as fh:
        return hashlib.sha256(fh.read(min(upto, FINGERPRINT_BYTES))).hexdigest()


def file_size(path: Path) -> int:
    with open_log(path) as fh:
        return fh.seek(0, os.SEEK_END)


def holds(path: Path, position: Position) -> bool:
    """Whether `path` starts with the bytes a checkpoint was taken on (and is at least as long)."""
    try:
        return file_size(path) >= position.offset and fingerprint(path, position.offset) == position.fingerprint
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def reading_order(files: list[Path]) -> list[Path]:
    """Oldest first by modification time, so rotated files (queue_log.2.gz, queue_log.1,
    queue_log-20261122.gz) come before the live one whatever the naming scheme. On equal
    times a file whose name starts another's (the live `queue_log`) comes after it."""
    modified = {}
    for path in files:
        try:
            modified[path] = path.stat().st_mtime_ns
        except OSError as exc:
            logger.warning("%s: %s; leaving it out", path, exc.strerror)
    present = list(modified)

    def key(path: Path) -> tuple[int, int, str]:
        live = any(other != path and other.name.startswith(path.name) for other in present)
        return modified[path], int(live), path.name
    return sorted(present, key=key)


class NewerFiles:
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
        except OSError:
            followed_at = 0
        fresh = []
        for path in self.discover():
            try:
                if path not in self.known and path.stat().st_mtime_ns > followed_at:
                    fresh.append(path)
            except OSError:
                continue
        self.found = fresh
        return bool(fresh)


def size_or_zero(fh: IO[bytes]) -> int:
    try:
        return os.fstat(fh.fileno()).st_size if not isinstance(fh, gzip.GzipFile) else 0
    except OSError:
        return 0


def first_line_of(fh: IO[bytes]) -> bytes | None:
    at = fh.tell()
    fh.seek(0)
    line = fh.readline(MAX_RECORD_BYTES)
    fh.seek(at)
    return line.rstrip(b"\r\n") if line else None


FINGERPRINT_BYTES = 4096

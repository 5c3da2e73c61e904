"""One shape for every source: its kind builds it, the application runs it with a sink.

A source reads files, polls mailboxes or answers HTTP requests; whichever it does, it is
built by its kind in connectors/registry.py from the settings, its validated config and the
`Inputs` a command or run-file entry gives it, and then run with `run(sink, stop)`: it
hands the sink events and dead letters until it has read what it was given, or until
`stop` is set, and returns what it did. The application chooses the sink (Kafka, or a dry
run's stdout); the source never does. After Quix Streams' sources (`run()`/`stop()` with the
producer supplied) and Vector's one component per file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from connectors.outbox import ConnectorStats
from pipeline.sinks.base import EventSink


@dataclass(frozen=True)
class Traits:
    """What the commands say about a source, declared by its class, so none asks which kind it runs."""

    unit: str  # what its stats' `files` count: file(s), folder(s), request(s)
    takes_paths: bool  # a file source needs paths; the others take none
    reads: str = ""  # what `run --check` says it reads when it takes no paths
    keys_contacts: bool = True  # it keys contacts itself, with the configured secret
    one_per_process: bool = False  # two cannot run side by side (it listens on one port)


@dataclass(frozen=True)
class Inputs:
    """What a command or a run-file entry gives a source besides its config."""

    paths: list[Path] = field(default_factory=list)  # the files to read, oldest first (file sources)
    follow: bool = False  # keep reading as files grow, keep polling, keep serving
    discover: Callable[[], list[Path]] | None = None  # a followed run-file entry's glob patterns, looked at again
    checkpoint_file: Path | None = None  # None: positions kept in memory only (a dry run reads everything again)


class Source(Protocol):
    async def run(self, sink: EventSink, stop: asyncio.Event | None = None) -> ConnectorStats:
        """Hand `sink` what the source reads until it has read what it was given or `stop` is
        set; raises a TerminalError for what an operator must fix, a TransientError when a
        service stayed away."""
        ...

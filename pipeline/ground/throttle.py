"""Warnings that can repeat once per line: the first few are logged, then one summary a minute.

A broken export can reject every one of its lines, and a ticket machine with a wrong clock
dates every arrival ahead: 26,000 identical warnings hide what the operator needs to read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ThrottledLog:
    """Logs the first `first` messages of each kind, then at most one summary per `every`
    seconds with the number left out in between."""

    def __init__(self, logger: logging.Logger, first: int = 10, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.first, self.every, self.clock = logger, first, every, clock
        self._count: dict[str, int] = {}
        self._quiet: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        count = self._count[kind] = self._count.get(kind, 0) + 1
        if count <= self.first:
            self.logger.warning(message, *args)
            if count == self.first:
                self._last[kind] = self.clock()
            return
        self._quiet[kind] = self._quiet.get(kind, 0) + 1
        if self.clock() - self._last.get(kind, 0.0) >= self.every:
            self.flush(kind, message, *args)

    def flush(self, kind: str, message: str = "", *args: object) -> None:
        """Log how many of `kind` were left out since the last summary, with the latest one."""
        quiet = self._quiet.pop(kind, 0)
        self._last[kind] = self.clock()
        if quiet:
            latest = (message % args) if message else ""
            self.logger.warning("%d more like this (%s) not logged one by one%s", quiet, kind,
                                f"; the latest: {latest}" if latest else "")

    def left_out(self) -> dict[str, int]:
        return dict(self._quiet)

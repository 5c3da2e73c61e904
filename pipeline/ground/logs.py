"""Logging: modules use stdlib `logging.getLogger(__name__)`; structlog renders it key=value or JSON.

Tracebacks never show local variables (a failed request printed the bearer token from the
token check's frame), and a message the Kafka client repeats while a broker is away is
logged a few times a minute, not five kilobytes a second.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import structlog


def configure_logging(fmt: str = "console", level: int = logging.INFO) -> None:
    renderer = (
        structlog.processors.JSONRenderer() if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        *([structlog.processors.format_exc_info] if fmt == "json" else []), renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    handler.addFilter(RepeatFilter())
    for noisy in ("aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class RepeatFilter(logging.Filter):
    """Lets the same message of the Kafka client through three times a minute, then quiet."""

    def __init__(self, per_minute: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.per_minute, self.clock = per_minute, clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(("aiokafka", "faust", "mode")):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        started, count = self._seen.get(key, (now, 0))
        if now - started >= 60:
            started, count = now, 0
        self._seen[key] = (started, count + 1)
        if len(self._seen) > 1000:
            self._seen.clear()
        return count < self.per_minute

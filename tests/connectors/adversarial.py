"""1 MB lines made to stall a parser: long runs of the characters its patterns branch on.

A connector reads one line at a time, so a pattern that takes time quadratic (or worse) in a
line's length pins it on one such line: a log written by a broken client, a file that is no
log at all. Each connector's tests run its `parse` and `redact` (the runtime calls it on every
rejected line) on these and on lines that get past its first checks, with a generous bound:
a stall is the failure mode, not a slow line.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from connectors.base import Location, RecordRejected

MEGABYTE = 1_000_000
STALL_SECONDS = 10.0  # linear code reads these in well under a second

# What a parser's patterns branch on: field separators, quotes, brackets, escapes, digits.
ADVERSARIAL: dict[str, str] = {
    "letters": "a" * MEGABYTE,
    "digits": "1" * MEGABYTE,
    "blanks": " " * MEGABYTE,
    "quotes": '"' * MEGABYTE,
    "escaped quotes": '"\\' * (MEGABYTE // 2),
    "backslashes": "\\" * MEGABYTE,
    "brackets": "[" * MEGABYTE,
    "blank brackets": " [" * (MEGABYTE // 2),
    "braces": "{" * MEGABYTE,
    "json keys": '{"a":' * (MEGABYTE // 5),
    "pipes": "1|" * (MEGABYTE // 2),
    "commas": "," * MEGABYTE,
    "quoted commas": '",' * (MEGABYTE // 2),
    "semicolons": ";" * MEGABYTE,
    "colons": ":" * MEGABYTE,
    "dotted digits": "1." * (MEGABYTE // 2),
    "addresses": "192.0.2.1, " * (MEGABYTE // 11),
    "at signs": "a@" * (MEGABYTE // 2),
    "percents": "%" * MEGABYTE,
    "query": "/?a=" * (MEGABYTE // 4),
}


def cases(specific: dict[str, str]) -> list[object]:
    """pytest params: the shared lines and the connector's own, named."""
    lines = ADVERSARIAL | specific
    return [pytest.param(text, id=name) for name, text in lines.items()]


class Stalled(Exception):
    """Raised by the interval timer into a parse or redact that runs past STALL_SECONDS."""


def _interrupt(signum: int, frame: object) -> None:
    raise Stalled(f"still running after {STALL_SECONDS:.0f}s")


def assert_no_stall(parse: Callable[[bytes, Location], object], redact: Callable[[str], str], text: str,
                    location: Location) -> None:
    """parse() answers (events, a Skip or a rejection) and redact() returns, within STALL_SECONDS.

    A timer signal interrupts a stalled call (the regex engine checks for signals as it runs), so
    the test fails after STALL_SECONDS instead of hanging the suite."""
    previous = signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, STALL_SECONDS)
    started = time.perf_counter()
    step = "parse"
    try:
        try:
            parse(text.encode("utf-8", "surrogatepass"), location)
        except RecordRejected:
            pass
        step = "redact"
        assert isinstance(redact(text), str)
    except Stalled as exc:
        pytest.fail(f"{step} of a {len(text):,}-character line stalled: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    took = time.perf_counter() - started
    assert took < STALL_SECONDS, f"{took:.1f}s on a {len(text):,}-character line"

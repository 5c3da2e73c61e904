"""Warnings repeated per line: a few logged, then one summary a minute with the count left out."""

from __future__ import annotations

import logging

import pytest

from pipeline.ground.throttle import ThrottledLog


def test_the_first_few_are_logged_then_a_count_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("throttle-test"), first=3, every=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="throttle-test"):
        for n in range(26_000):
            now[0] = n * 0.001  # 26 s of one warning per millisecond
            log.warning("site", "arrival %d in the future", n)
        now[0] = 61.0
        log.warning("site", "arrival %d in the future", 26_000)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:3] == ["arrival 0 in the future", "arrival 1 in the future", "arrival 2 in the future"]
    assert len(messages) == 4 and messages[3].startswith("25998 more like this (site)")
    assert "arrival 26000" in messages[3]


def test_kinds_are_counted_apart(caplog: pytest.LogCaptureFixture) -> None:
    log = ThrottledLog(logging.getLogger("throttle-test"), first=1, every=60.0, clock=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="throttle-test"):
        for kind in ("a", "b", "a", "b"):
            log.warning(kind, "about %s", kind)
    assert [r.getMessage() for r in caplog.records] == ["about a", "about b"]
    assert log.left_out() == {"a": 1, "b": 1}

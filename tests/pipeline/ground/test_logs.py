"""Logging: tracebacks without local variables, and the Kafka client's repeats kept to a few a minute."""

from __future__ import annotations

import logging

from pipeline.ground.logs import RepeatFilter, configure_logging


def test_a_traceback_never_shows_local_variables(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("console")

    def check(token: str) -> None:
        raise ValueError("boom")

    try:
        check("".join(reversed("tset-rof-nekot-terc3s")))  # the value itself is in no source line
    except ValueError:
        logging.getLogger("kanalpuls.test").exception("request failed")
    err = capsys.readouterr().err
    assert "boom" in err and "s3cret-token-for-test" not in err


def test_the_kafka_clients_repeats_are_let_through_three_times_a_minute() -> None:
    now = [0.0]
    repeat = RepeatFilter(clock=lambda: now[0])
    record = logging.LogRecord("aiokafka", logging.ERROR, "x", 1, "Unable connect to node %s", (111,), None)
    passed = sum(repeat.filter(record) for _ in range(100))
    now[0] = 61.0
    assert passed == 3 and repeat.filter(record)
    ours = logging.LogRecord("connectors.runtime", logging.WARNING, "x", 1, "same", (), None)
    assert all(repeat.filter(ours) for _ in range(10))

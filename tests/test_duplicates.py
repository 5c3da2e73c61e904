"""Events sent again, on real services: a `kanalpuls worker` stores and counts each event once.

Sources resend at will (a connector killed before its checkpoint, a telephony system retrying
a POST), so the worker drops event ids it already stored (pipeline/worker/aggregation.py
DedupeIndex), and ClickHouse's ReplacingMergeTree is only the second guard. Counting with
FINAL would hide stored duplicates, and the minute rollup, filled by a materialized view on
every insert, would count them for good: so here rows are counted without FINAL, and the
rollup's sum(events) must equal the distinct events. Each replay is followed by one new event on
the same partition: once it is stored, the worker has judged every resent line before it.
The resent lines come in another order than the first time, so ClickHouse's own insert
deduplication (a token per set of event ids) cannot be what drops them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from pipeline.ground.settings import Settings
from pipeline.store.client import run_query
from pipeline.worker.supervise import worker_process
from schemas import InquiryEvent, Stage
from tests.factories import T0, phone_event
from tests.waiting import wait_for

KEY = b"751/phone/85.06.00"  # one message key: one partition, read in the order sent


async def produce(settings: Settings, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.kafka.inquiries_topic, value, key=KEY)
    finally:
        await producer.stop()


def message(events: list[InquiryEvent]) -> bytes:
    return b"\n".join(e.model_dump_json().encode() for e in events)


def scalar(settings: Settings, sql: str) -> int:
    return int(run_query(settings, sql.format(db=settings.store.database)).scalar())


def stored_once(settings: Settings, event: InquiryEvent) -> bool:
    return scalar(settings, f"SELECT count() FROM {{db}}.inquiry_events WHERE event_id = '{event.event_id}'") > 0


def counts(settings: Settings) -> tuple[int, int, int]:
    """(rows without FINAL, distinct event ids, the minute rollup's sum of events)."""
    return (scalar(settings, "SELECT count() FROM {db}.inquiry_events"),
            scalar(settings, "SELECT uniqExact(event_id) FROM {db}.inquiry_events"),
            scalar(settings, "SELECT sum(events) FROM {db}.inquiry_minute"))


def test_replayed_events_add_no_row_and_no_rollup_count_while_running_and_after_a_restart(
    topics: Settings, tmp_path: Path
) -> None:
    settings = topics
    calls = [phone_event(n, stage=stage, at=T0 + timedelta(minutes=n, seconds=offset))
             for n in range(12) for stage, offset in ((Stage.arrived, 0), (Stage.answered, 20))]
    new_while_running, new_after_restart = phone_event(100), phone_event(101)

    with worker_process(settings, tmp_path / "first.log"):
        asyncio.run(produce(settings, [message(calls)]))
        wait_for(lambda: counts(settings)[0] >= len(calls), 60, f"{len(calls)} events stored")
        assert counts(settings) == (len(calls),) * 3

        asyncio.run(produce(settings, [message(list(reversed(calls))), message(calls[:5]),
                                       message([new_while_running])]))
        wait_for(lambda: stored_once(settings, new_while_running), 60, "the event behind the replay stored")
        assert counts(settings) == (len(calls) + 1,) * 3

    # A restarted worker knows the stored ids from ClickHouse, not from its memory.
    with worker_process(settings, tmp_path / "second.log"):
        asyncio.run(produce(settings, [message([*calls[::2], *calls[1::2]]), message([new_after_restart])]))
        wait_for(lambda: stored_once(settings, new_after_restart), 60, "the event behind the replay stored")
        assert counts(settings) == (len(calls) + 2,) * 3

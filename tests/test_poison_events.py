"""Poison events straight onto the inquiries topic, past every door but the worker's own:
each becomes a dead letter with its reason, and the worker goes on storing what is good.

Before: a 1 MB site crash-looped the worker (inlined into the spike monitor's SQL), events in
101 months of one batch did too (ClickHouse's partition limit per insert), 1e308 waits were
stored and Infinity became NULL; a 150 KB string blocked the event loop for 30 s.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from pipeline.ground.settings import Settings
from pipeline.store.clickhouse import EmbeddedStore, init_schema
from pipeline.store.client import run_query
from pipeline.worker.supervise import worker_process
from schemas import Channel, make_event_id
from schemas.inquiry import RAW_MAX
from tests.factories import phone_event
from tests.topics import read_topic
from tests.waiting import wait_for


def event_json(n: int, **changes: object) -> dict:
    event = json.loads(phone_event(n).model_dump_json())
    event["event_id"] = make_event_id("poison-test", str(n), "arrived")
    for name, value in changes.items():
        if name.startswith("source_"):
            event["source"][name.removeprefix("source_")] = value
        else:
            event[name] = value
    return event


def poison() -> dict[str, bytes]:
    """Lines the worker must dead-letter, by what is wrong with them."""
    walk_in = {"channel": Channel.walk_in.value}
    return {
        "site of 1 MB": orjson.dumps(event_json(1, **walk_in, site="R" * 1_000_000)),
        "task_label of 150 KB": orjson.dumps(event_json(2, task_label="x" * 150_000)),
        "wait of 1e308": orjson.dumps(event_json(3, wait_seconds=1e308)),
        "wait of Infinity": orjson.dumps(event_json(4, wait_seconds=1.0)).replace(b"1.0", b"Infinity"),
        "wait of 1e400": orjson.dumps(event_json(5, wait_seconds=1.0)).replace(b"1.0", b"1e400"),
        "negative handle time": orjson.dumps(event_json(6, handle_seconds=-1)),
        "line 10^20": json.dumps(event_json(7, source_line=10**20)).encode(),
        "before the store's range in UTC": orjson.dumps(event_json(8, occurred_at="2000-01-01T00:30:00+01:00")),
        "year 9999": orjson.dumps(event_json(9, occurred_at="9999-12-31T23:59:59Z")),
        "not JSON": b'{"event_id": ' + b"[" * 100_000,
    }


async def produce(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all",
                                max_request_size=16 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(settings.kafka.inquiries_topic, value, key=key)
    finally:
        await producer.stop()


def stored(settings: Settings, where: str = "1") -> int:
    return int(run_query(settings, f"SELECT count() FROM {settings.store.database}.inquiry_events "
                                   f"WHERE {where}").scalar())


def test_poison_events_become_dead_letters_and_the_worker_stores_the_rest(topics: Settings, tmp_path: Path) -> None:
    settings = topics
    db = settings.store.database
    # A row no check foresees but ClickHouse refuses: a constraint on the table the worker finds.
    store = EmbeddedStore(settings.store.path, db)
    init_schema(store)
    store.command(f"ALTER TABLE {db}.inquiry_events ADD CONSTRAINT no_poison CHECK queue != 'poison-queue'")
    store.close()

    bad = poison()
    good_before = [orjson.dumps(event_json(100 + n)) for n in range(3)]
    refused = orjson.dumps(event_json(200, queue="poison-queue"))
    # 101 good events, each in a month of its own, in one message.
    start = datetime(2001, 1, 15, 12, tzinfo=timezone.utc)
    months = [orjson.dumps(event_json(300 + m, occurred_at=(start + timedelta(days=31 * m)).isoformat()))
              for m in range(101)]
    good_after = [orjson.dumps(event_json(500 + n)) for n in range(3)]
    with worker_process(settings, tmp_path / "worker.log") as worker:
        asyncio.run(produce(settings, [
            (b"751/phone/85.06.00", b"\n".join([*good_before[:1], *bad.values(), *good_before[1:]])),
            (b"751/phone/85.06.00", b"\n".join(months)),
            (b"751/phone/85.06.00", b"\n".join([refused, *good_after])),
            (b"k" * 100_000, orjson.dumps(event_json(600))),  # a key no producer of ours makes
        ]))
        wait_for(lambda: stored(settings) == 3 + 101 + 3 + 1, 60, "every good event stored")
        def dead_letters() -> list[dict]:
            found = asyncio.run(read_topic(settings.kafka.bootstrap_servers, settings.kafka.dead_letter_topic))
            return [json.loads(value) for _, value in found] if len(found) >= len(bad) + 1 else []

        letters = wait_for(dead_letters, 30, "a dead letter per poison line")
        assert worker.poll() is None, "the worker exited"
    assert stored(settings, "queue = 'poison-queue'") == 0
    reasons = [letter["reason"] for letter in letters]
    assert len(letters) == len(bad) + 1, reasons
    assert sum("ClickHouse refused the event" in r and "no_poison" in r for r in reasons) == 1
    for field in ("site", "task_label", "wait_seconds", "handle_seconds", "source.line", "occurred_at"):
        assert any(field in r for r in reasons), (field, reasons)
    assert all(len(letter["raw"]) <= RAW_MAX for letter in letters)
    assert all(letter["connector"] == "worker" for letter in letters)

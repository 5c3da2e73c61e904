"""Reading a Kafka topic back in tests (the broker itself comes from conftest.py)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    """Every message of a topic, from the beginning, as (key, value).

    A broker under load (the shared test broker while the whole suite runs) may answer one
    metadata or end-offset request with less than it holds. So the topic is read again until
    two readings agree on its partitions and their ends: a short answer cannot pass for lost
    events, and events really lost still fail the test."""
    last: dict[TopicPartition, int] | None = None
    for _ in range(5):
        values, ends = await _read_once(bootstrap, topic)
        if ends == last:
            return values
        last = ends
    raise AssertionError(f"topic {topic}: five readings disagreed on its partitions or their ends")


async def _read_once(bootstrap: str, topic: str) -> tuple[list[tuple[bytes, bytes]], dict[TopicPartition, int]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.unsubscribe()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        values: list[tuple[bytes, bytes]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                values.extend((r.key or b"", r.value or b"") for r in records)
        return values, end
    finally:
        await consumer.stop()

"""End-to-end acknowledgement: a source learns which of its messages the worker has stored.

A broker's acknowledgement (acks=all) is not enough where the broker keeps data in memory
only (the embedded broker): killed, it takes every message not yet stored with it. So a
source moves its checkpoint, or answers its client, only once the worker has stored what it
sent, as Vector's end-to-end acknowledgements do:

    source --(message, headers kanalpuls-ack-to: <source>, kanalpuls-ack: <run>:<step>:<i>:<n>)--> Kafka
    worker  stores the message's events (or dead letters), then produces to the acks topic
            key <source>, value {"acks": ["<run>:<step>:<i>:<n>", ...]}
    source  (Confirmations, listening on the acks topic) resolves step <step> once all <n>
            of its messages are acknowledged; a step not confirmed within the timeout is sent
            again from the last confirmed checkpoint (the worker drops what it already has).

`run` is fresh for every process, so acks meant for an earlier run of the same source are
ignored; `<i>:<n>` names each message of a step, so an ack redelivered after a worker
restart cannot stand in for a message the worker never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

logger = logging.getLogger(__name__)

ACK_TO_HEADER = "kanalpuls-ack-to"
ACK_HEADER = "kanalpuls-ack"


def message_headers(source: str, run: str, step: int, index: int, count: int) -> list[tuple[str, bytes]]:
    """The headers that ask the worker to acknowledge message `index` of `count` of a step."""
    return [(ACK_TO_HEADER, source.encode()), (ACK_HEADER, f"{run}:{step}:{index}:{count}".encode())]


def requested_acks(headers: Iterable[Mapping[str, bytes] | None]) -> dict[bytes, list[str]]:
    """For the worker: the acknowledgements its batch's messages ask for, by source (the ack
    message's key). Messages without the headers (another producer) ask for none."""
    wanted: dict[bytes, list[str]] = {}
    for message_headers_ in headers:
        if not message_headers_:
            continue
        source, token = message_headers_.get(ACK_TO_HEADER), message_headers_.get(ACK_HEADER)
        if source and token and len(source) <= 256 and len(token) <= 128:
            wanted.setdefault(bytes(source), []).append(bytes(token).decode("ascii", "replace"))
    return wanted


def ack_value(tokens: list[str]) -> bytes:
    return orjson.dumps({"acks": tokens})


@dataclass
class _Step:
    count: int
    seen: set[int] = field(default_factory=set)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Confirmations:
    """Listens on the acks topic for one source's acknowledgements and resolves its steps.

    Start it before the first message is produced (it reads the acks topic from its end).
    It keeps listening through broker restarts; acks lost with a broker only delay a step
    until it is sent again."""

    def __init__(self, bootstrap: str, topic: str, source: str) -> None:
        self.bootstrap, self.topic, self.source = bootstrap, topic, source
        self.run = uuid.uuid4().hex[:12]
        self._steps: dict[int, _Step] = {}
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    async def start(self, timeout: float = 30.0) -> None:
        self._task = asyncio.create_task(self._listen(), name=f"acks for {self.source}")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._started.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def expect(self, step: int, count: int) -> asyncio.Future[None]:
        """A future resolved once all `count` messages of `step` are acknowledged."""
        entry = self._steps.get(step)
        if entry is None or entry.count != count:
            entry = self._steps[step] = _Step(count)
        self._resolve(step, entry)
        return entry.done

    def forget(self, step: int) -> None:
        self._steps.pop(step, None)

    def acknowledge(self, token: str) -> None:
        """One ack token from the worker (public for the listener and tests)."""
        try:
            run, step, index, count = token.split(":")
            step_no, index_no, count_no = int(step), int(index), int(count)
        except ValueError:
            return
        if run != self.run:
            return
        entry = self._steps.get(step_no)
        if entry is None:
            entry = self._steps[step_no] = _Step(count_no)
        if 0 <= index_no < entry.count:
            entry.seen.add(index_no)
            self._resolve(step_no, entry)

    def _resolve(self, step: int, entry: _Step) -> None:
        if len(entry.seen) >= entry.count and not entry.done.done():
            entry.done.set_result(None)

    async def _listen(self) -> None:
        key = self.source.encode()
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                        auto_offset_reset="latest", metadata_max_age_ms=5000)
            try:
                await consumer.start()
                partition = TopicPartition(self.topic, 0)
                consumer.assign([partition])
                await consumer.seek_to_end(partition)
                await consumer.position(partition)
                self._started.set()
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        for record in records:
                            if record.key == key:
                                for token in _tokens(record.value):
                                    self.acknowledge(token)
                    if not batches:
                        await _restart_if_log_lost(consumer, partition)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                logger.info("listening for acknowledgements on %s: %s; trying again", self.topic, exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()


async def _restart_if_log_lost(consumer: AIOKafkaConsumer, partition: TopicPartition) -> None:
    """A broker that restarted empty (the embedded one keeps data in memory only) answers
    fetches beyond its new, shorter log with nothing, so the listener would wait until the
    log grew past its old position: read the new log from its start instead."""
    highwater = consumer.highwater(partition)
    if highwater is not None and highwater < await consumer.position(partition):
        logger.info("the acks log of %s restarted (the broker lost it): reading it from its start", partition.topic)
        await consumer.seek_to_beginning(partition)


def _tokens(value: bytes | None) -> list[str]:
    try:
        acks = orjson.loads(value or b"{}").get("acks", [])
    except (orjson.JSONDecodeError, AttributeError):
        return []
    return [token for token in acks if isinstance(token, str)] if isinstance(acks, list) else []

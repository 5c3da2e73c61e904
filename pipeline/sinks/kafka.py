"""The Kafka sink: sources' events to the inquiries topic and dead letters to the DLQ, acks=all,
with the worker's confirmations when asked (pipeline/sinks/confirmations.py)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from pipeline.ground.errors import TransientError
from pipeline.ground.settings import Settings
from pipeline.sinks.base import confirmed
from pipeline.sinks.confirmations import Confirmations, message_headers
from schemas import DeadLetter, InquiryEvent
from schemas.wire import encode_batch


class ProduceFailed(TransientError):
    """Transient: the broker did not acknowledge; the checkpoint stays, a restart resends."""


class KafkaEventSink:
    """Produces batches to the inquiries topic and dead letters to the DLQ, acks=all.

    With `confirmations`, every message of a flush asks the worker to acknowledge it once
    stored, and the flush's receipt resolves when all have been; without, the receipt is the
    broker's acknowledgement."""

    shows_rejections = False

    def __init__(self, bootstrap: str, topic: str, dead_letter_topic: str, timeout: float = 30.0,
                 confirmations: Confirmations | None = None) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=16 * 1024 * 1024,
            request_timeout_ms=int(timeout * 1000),
        )
        self._topic = topic
        self._dead_letter_topic = dead_letter_topic
        self._outbox: list[tuple[str, bytes, bytes]] = []
        self._bootstrap = bootstrap
        self.confirmations = confirmations
        self._step = 0
        self._steps: dict[int, int] = {}  # id(receipt) -> step, to forget it once settled

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaConnectionError as exc:
            await self._producer.stop()
            raise ProduceFailed(f"no Kafka broker answers at {self._bootstrap}: start `kanalpuls broker` "
                                f"or set KANALPULS_KAFKA__BOOTSTRAP to a broker that runs") from exc
        if self.confirmations is not None:
            await self.confirmations.start()

    async def stop(self) -> None:
        if self.confirmations is not None:
            await self.confirmations.stop()
        await self._producer.stop()

    async def broker_reachable(self, timeout: float = 3.0) -> bool:
        """Whether a broker answers a metadata request now: what the HTTP ingest's /healthz
        reports, so a load balancer stops sending events to an ingest that cannot deliver them."""
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, OSError, asyncio.TimeoutError):
            return False
        return True

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None:
        self._outbox.append((self._topic, encode_batch(events), key.encode()))

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        self._outbox.append((self._dead_letter_topic, letter.model_dump_json().encode(), letter.connector.encode()))

    def discard(self) -> None:
        """Forget what was given but not flushed (a resend starts from the checkpoint)."""
        self._outbox = []

    async def flush(self) -> asyncio.Future[None]:
        outbox, self._outbox = self._outbox, []
        return await self._send_step(outbox)

    async def send_events(self, batches: list[tuple[str, list[InquiryEvent]]]) -> asyncio.Future[None]:
        """Send these batches as one step of their own (the HTTP ingest: one request, however
        many run at once), returning its receipt."""
        return await self._send_step([(self._topic, encode_batch(events), key.encode()) for key, events in batches])

    async def _send_step(self, outbox: list[tuple[str, bytes, bytes]]) -> asyncio.Future[None]:
        if not outbox:
            return confirmed()
        self._step += 1
        step = self._step
        pending = []
        try:
            for index, (topic, value, key) in enumerate(outbox):
                headers = (message_headers(self.confirmations.source, self.confirmations.run, step, index,
                                           len(outbox)) if self.confirmations is not None else None)
                pending.append(await self._producer.send(topic, value, key=key, headers=headers))
            await asyncio.gather(*pending)
        except KafkaError as exc:
            for future in pending:
                future.cancel()
            raise ProduceFailed(f"the broker did not acknowledge a batch: {exc}") from exc
        if self.confirmations is None:
            return confirmed()
        receipt = self.confirmations.expect(step, len(outbox))
        self._steps[id(receipt)] = step
        return receipt

    def settled(self, receipt: asyncio.Future[None]) -> None:
        """The runner is done with a receipt: let the confirmations forget its step."""
        step = self._steps.pop(id(receipt), None)
        if self.confirmations is not None and step is not None:
            self.confirmations.forget(step)


def kafka_sink(settings: Settings, source: str) -> KafkaEventSink:
    """The producer of one source, asking the worker to acknowledge what it stores unless
    KANALPULS_CONNECTORS__CONFIRM=broker."""
    kafka = settings.kafka
    confirmations = (Confirmations(kafka.bootstrap_servers, kafka.acks_topic, source)
                     if settings.connectors.confirm == "stored" else None)
    return KafkaEventSink(kafka.bootstrap_servers, kafka.inquiries_topic, kafka.dead_letter_topic,
                          kafka.acks_timeout_seconds, confirmations)

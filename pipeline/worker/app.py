"""The Faust app: the whole worker dataflow on one screen.

    inquiries (NDJSON batches) -> aggregate_inquiries -> ClickHouse inquiry_events
                                                      -> inquiry_minute (materialized view)
                                                      -> minute_counts (Faust windowed table)
                               walk-in arrivals ------> spike detection -> alerts topic (key = site)
                                                                       -> ClickHouse walk_in_alerts
    invalid events ---------------------------------> inquiries.dlq -> store_dead_letters -> ClickHouse dead_letters
    after storing: an ack per source message that asked ---> inquiries.acks (pipeline/sinks/confirmations.py)
    timers: advance_spike_clocks (wall time moves a quiet site's window), measure_consumer_lag

Per batch of Kafka messages the agent decodes all events at once, drops those already
stored (DedupeIndex), inserts the rest in one columnar insert, touches each key of the
windowed table once, and feeds the walk-in arrivals to the spike detector (pipeline/worker/spike.py
for the arithmetic, pipeline/worker/spike_monitor.py for its loads, alerts and gauges).
ClickHouse is the system of record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson
import pyarrow.compute as pc
from faust.exceptions import ConsumerNotStarted
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipeline.ground import metrics
from pipeline.ground.directories import private_directory
from pipeline.ground.settings import Settings
from pipeline.ground.steering import load_steering
from pipeline.ground.tokens import is_loopback, token_matches, write_query_token
from pipeline.measures.targets import record_targets
from pipeline.sinks.alerts import AlertWriter
from pipeline.sinks.clickhouse import DeadLetterWriter, EventWriter
from pipeline.sinks.confirmations import ack_value, requested_acks
from pipeline.store.clickhouse import StoreError
from pipeline.store.open import open_store
from pipeline.store.query_guard import MAX_SQL_CHARACTERS, read_only_query
from pipeline.store.serial import SerialStore
from pipeline.worker.aggregation import (
    DedupeIndex,
    add_sums,
    dead_letter_json,
    dead_letter_rows,
    minute_rollup,
    newest_per_source,
    refused_dead_letter,
    stored_counts,
    table_updates,
)
from pipeline.worker.broker import MINUTE_COUNTS_TABLE
from pipeline.worker.spike import walk_in_arrivals
from pipeline.worker.spike_monitor import SpikeMonitor
from schemas.alert import SpikeAlert
from schemas.wire import Message, decode_messages

logger = logging.getLogger(__name__)

EXIT_AGGREGATION_FAILED = 70  # EX_SOFTWARE
EXIT_BROKER_LOST = 75  # EX_TEMPFAIL: `kanalpuls worker` starts the worker process again
WINDOW_SECONDS = 60
WINDOW_EXPIRES = timedelta(days=2)
SPIKE_TICK_SECONDS = 5.0  # how often wall time moves the spike windows of quiet sites
LAG_SECONDS = 5.0  # how often consumer lag is measured


@dataclass
class WorkerState:
    """What the agent needs besides Kafka, opened once at start-up."""

    store: SerialStore
    events: EventWriter
    letters: DeadLetterWriter
    dedupe: DedupeIndex
    spike: SpikeMonitor
    newest_event: float = 0.0
    newest_by_source: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def as_current_event(event: faust.EventT) -> Iterator[None]:
    """Make `event` Faust's current event while we update the table.

    Faust writes a table key's changelog entry to the partition of the event being
    processed. A batch spans partitions, so the agent updates keys partition by partition
    with one of that partition's events current (Faust has no public setter for this).
    """
    token = faust.streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust.streams._current_event.reset(token)


async def consumer_lag(app: faust.App, topic: str) -> dict[Any, int]:
    """Messages behind per assigned partition of `topic`: log end offset minus committed offset.
    Until this worker has committed a partition, its position stands in (right after the
    assignment that is where it resumed: the last commit)."""
    try:
        assigned = [tp for tp in app.consumer.assignment() if tp.topic == topic]
    except ConsumerNotStarted:
        return {}
    ends = await app.consumer.highwaters(*assigned) if assigned else {}
    behind = {}
    for tp in assigned:
        committed = app.monitor.tp_committed_offsets.get(tp)
        if committed is None:
            committed = await app.consumer.position(tp)
        behind[tp] = max(0, ends.get(tp, 0) - (committed or 0))
    return behind


async def lost_logs(app: faust.App, topic: str) -> list[Any]:
    """Assigned partitions of `topic` whose log, by the broker's last fetch answer, now ends
    before this consumer's position: the broker lost what it had (a memory-only broker restarted)."""
    try:
        assigned = [tp for tp in app.consumer.assignment() if tp.topic == topic]
    except ConsumerNotStarted:
        return []
    lost = []
    for tp in assigned:
        highwater = app.consumer.highwater(tp)
        position = await app.consumer.position(tp)
        if highwater is not None and position is not None and highwater < position:
            lost.append(tp)
    return lost


def kafka_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def build_app(settings: Settings) -> faust.App:
    """Declare the app, its topics, table, agents, timers and web pages from settings."""
    private_directory(settings.var_dir)  # the embedded store, checkpoints and Faust's data live below
    private_directory(settings.worker.data_dir)
    steering = load_steering(settings.steering.file)  # a bad file stops the worker here, naming the field
    app = faust.App(
        settings.worker.app_id,
        broker=kafka_urls(settings.kafka.bootstrap_servers),
        store="memory://",
        datadir=str(settings.worker.data_dir),
        topic_partitions=settings.kafka.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_host=settings.worker.web_host,
        web_port=settings.worker.web_port,
        web_in_thread=False,
        table_cleanup_interval=60.0,
        # Tansu completes a group join only after half the session timeout (Faust's default
        # of 60 s made every start wait 30 s).
        broker_session_timeout=settings.worker.session_timeout_seconds,
        # One 500-event message is ~300 KB: fetch many per partition, not three.
        consumer_max_fetch_size=settings.worker.max_fetch_bytes,
    )
    inquiries = app.topic(
        settings.kafka.inquiries_topic, key_serializer="raw", value_serializer="raw",
        partitions=settings.kafka.partitions,
    )
    dead_letters = app.topic(settings.kafka.dead_letter_topic, key_serializer="raw", value_serializer="raw")
    alerts = app.topic(settings.kafka.alerts_topic, key_serializer="raw", value_serializer="raw")
    acks = app.topic(settings.kafka.acks_topic, key_serializer="raw", value_serializer="raw")
    # key: "<message key>#<partition>"; value: {"municipality|channel|task|department|site|stage":
    # [events, wait_seconds_sum, handle_seconds_sum]} for one minute (see table_updates()).
    minute_counts = app.Table(
        MINUTE_COUNTS_TABLE, default=dict, key_type=str, partitions=settings.kafka.partitions,
    ).tumbling(WINDOW_SECONDS, expires=WINDOW_EXPIRES)

    state: dict[str, WorkerState] = {}

    async def send_alert(alert: SpikeAlert) -> None:
        await alerts.send(key=alert.site.encode(), value=alert.model_dump_json().encode())

    def worker_state() -> WorkerState:
        if "worker" not in state:
            store = SerialStore(open_store(settings.store))
            store.setup(steering)
            events = EventWriter(store)
            spike = SpikeMonitor(steering, store, AlertWriter(store), send_alert)
            spike.preload_now()  # today's baseline, before any batch or timer can run
            state["worker"] = WorkerState(store, events, DeadLetterWriter(store),
                                          DedupeIndex(events.stored_ids, settings.worker.dedupe_days_in_memory), spike)
        return state["worker"]

    @app.task
    async def open_store_at_start() -> None:
        worker_state()  # fail fast if the store is locked or unreachable

    @app.on_partitions_assigned.connect
    async def forget_seen_ids(app: faust.App, assigned: Any, **kwargs: Any) -> None:
        # Partitions may come from another worker that stored ids we never saw: reload lazily.
        if "worker" in state:
            state["worker"].dedupe.clear()
            state["worker"].spike.forget({tp.partition for tp in assigned if tp.topic == inquiries.get_topic_name()})

    @app.agent(inquiries)
    async def aggregate_inquiries(stream: faust.StreamT) -> None:
        try:
            await _aggregate(stream)
        except Exception:
            # Bad events never get here (they are dead-lettered), so this is the store refusing
            # data or a bug. Exit at once: a graceful stop would acknowledge, and commit, the
            # batch that failed. The supervisor restarts the worker, which resumes from the
            # last committed offset; what was stored already is dropped as duplicate.
            logger.critical("aggregation failed; exiting without committing the batch", exc_info=True)
            logging.shutdown()
            os._exit(EXIT_AGGREGATION_FAILED)

    async def _aggregate(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(settings.worker.batch_max_messages,
                                              within=settings.worker.batch_within_seconds):
            with metrics.BATCH_SECONDS.time():
                current = worker_state()
                decoded = decode_messages(
                    [Message(e.value, e.message.partition, e.message.offset, e.key or b"") for e in batch]
                )
                letters = [dead_letter_json(invalid, settings.kafka.inquiries_topic) for invalid in decoded.invalid]
                metrics.EVENTS_INVALID.inc(len(letters))
                metrics.EVENTS_CONSUMED.inc(decoded.events.num_rows)
                # No await between the last check and keep_new: a rebalance clearing the index
                # meanwhile only sends us round again.
                while missing := current.dedupe.missing_days(decoded.events):
                    for day, ids in (await current.events.stored_ids_async(missing)).items():
                        current.dedupe.preload(day, ids)
                fresh = current.dedupe.keep_new(decoded.events)
                metrics.EVENTS_DUPLICATE.inc(decoded.events.num_rows - fresh.num_rows)
                # Every arrival read, duplicates too (a restarted worker's window needs them); loads
                # what the detector needs from the store before this batch's own insert.
                arrivals = walk_in_arrivals(decoded.events, fresh)
                await current.spike.prepare(arrivals)
                # The insert runs in a thread while this thread updates the table; the batch is
                # acknowledged (and its offsets committed) only after both, so nothing is lost.
                stored = asyncio.ensure_future(current.events.write(fresh))
                try:
                    last_event_of = {e.message.partition: e for e in batch}
                    for update in table_updates(minute_rollup(fresh)):
                        with as_current_event(last_event_of[update.partition]):
                            window = minute_counts.relative_to(update.minute)
                            window[update.table_key] = add_sums(window[update.table_key].value(), update.sums)
                finally:
                    refused = await stored
                for row in refused:  # ClickHouse would not take these rows; the rest is stored
                    current.dedupe.forget(row.event.column("event_id").to_pylist())
                    letters.append(refused_dead_letter(row.event, row.reason, settings.kafka.inquiries_topic))
                # The letters are on the topic (acks=all) before the batch counts as handled.
                delivered = [await dead_letters.send(value=letter) for letter in letters]
                for delivery in delivered:
                    await delivery
                await acknowledge(batch)
                await current.spike.publish(current.spike.observe(arrivals))
                if fresh.num_rows:
                    for channel, stage, count in stored_counts(fresh):
                        metrics.EVENTS_STORED.labels(channel, stage).inc(count)
                    for system, newest in newest_per_source(fresh).items():
                        current.newest_by_source[system] = max(current.newest_by_source.get(system, 0.0), newest)
                        metrics.SOURCE_NEWEST_EVENT.labels(system).set(current.newest_by_source[system])
                    current.newest_event = max(current.newest_event, pc.max(fresh.column("occurred_at")).value / 1000)
                    metrics.NEWEST_EVENT.set(current.newest_event)

    async def acknowledge(batch: list[faust.EventT]) -> None:
        """Tell the sources that asked (pipeline/sinks/confirmations.py) that their messages are
        handled, once their events and dead letters are stored: only then does a source move
        its checkpoint or answer 202. Acked before the offsets are committed, so a crash in
        between acks again on redelivery, never too early."""
        deliveries = [await acks.send(key=source, value=ack_value(tokens))
                      for source, tokens in requested_acks(e.headers for e in batch).items()]
        for delivery in deliveries:
            await delivery

    @app.agent(dead_letters)
    async def store_dead_letters(stream: faust.StreamT) -> None:
        # Every letter is counted and stored here, when read back, the worker's own included:
        # one path, so none counts twice and the counter means "letters that reached the topic".
        try:
            async for batch in stream.take_events(settings.worker.batch_max_messages,
                                                  within=settings.worker.batch_within_seconds):
                rows, connectors = dead_letter_rows([e.value for e in batch])
                for connector in connectors:
                    metrics.DEAD_LETTERS.labels(connector).inc()
                await worker_state().letters.write(rows)
                await acknowledge(batch)
        except Exception:
            logger.critical("storing dead letters failed; exiting without committing them", exc_info=True)
            logging.shutdown()
            os._exit(EXIT_AGGREGATION_FAILED)

    @app.timer(interval=SPIKE_TICK_SECONDS)
    async def advance_spike_clocks() -> None:
        if "worker" in state:
            await state["worker"].spike.tick()

    @app.timer(interval=settings.worker.targets_seconds)
    async def evaluate_targets_today() -> None:
        # Keeps target_status current for the boards. Every worker does it (the app runs
        # without Faust's leader election): the table keeps the newest row per target and
        # day. A target that cannot be evaluated is logged, never a reason to stop counting.
        if "worker" in state and steering.targets:
            try:
                await state["worker"].store.retrying(record_targets, state["worker"].store.store, steering,
                                                     datetime.now(steering.zone).date(), None, settings.language)
            except StoreError as exc:
                logger.warning("targets not evaluated: %s", exc)

    @app.timer(interval=LAG_SECONDS)
    async def measure_consumer_lag() -> None:
        lost = await lost_logs(app, inquiries.get_topic_name())
        if lost:
            # The embedded broker died and came back empty: its new log restarts at offset 0
            # while this consumer waits beyond it (and Faust would drop the offsets it thinks
            # it read). A fresh process reads the new log from its start; `kanalpuls worker`
            # starts one. Nothing is lost: sources resend what was not confirmed stored.
            logger.error("the broker's log of %s ends before what this worker has read (the broker restarted "
                         "empty?); starting the worker anew", ", ".join(f"{tp.topic}/{tp.partition}" for tp in lost))
            logging.shutdown()
            os._exit(EXIT_BROKER_LOST)
        behind = await consumer_lag(app, inquiries.get_topic_name())
        metrics.CONSUMER_LAG.clear()  # partitions moved to another worker are no longer ours to report
        for tp, messages in behind.items():
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(messages)

    @app.page("/metrics")
    class MetricsPage(View):
        async def get(self, request: Request) -> Response:
            # aiohttp wants the charset apart from the content type.
            return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4")

    if settings.embedded_store:
        # Other commands reach embedded chDB through this worker, which owns its directory.
        # Only from this machine, and only with the token this worker wrote into its data
        # directory (readable by its own user alone): the query runs with the worker's access.
        token = write_query_token(settings.worker.data_dir)

        @app.page("/store/query")
        class StoreQueryPage(View):
            """Read-only SQL against the worker's store (pipeline/store/query_guard.py judges it)."""

            async def post(self, request: Request) -> Response:
                if not is_loopback(request.remote) or not token_matches(request.headers.get("Authorization"), token):
                    return self.bytes(orjson.dumps({"error": "the store is answered only on this machine, with the "
                                                             "worker's query token (kanalpuls query sends it)"}),
                                      content_type="application/json", status=403)
                body = await request.read()
                try:
                    sql = orjson.loads(body).get("sql") if len(body) <= 2 * MAX_SQL_CHARACTERS else None
                except (orjson.JSONDecodeError, AttributeError):
                    sql = None
                if not isinstance(sql, str):
                    return self.bytes(orjson.dumps({"error": 'send {"sql": "<one SELECT>"}'}),
                                      content_type="application/json", status=400)
                try:
                    result = await worker_state().store.call(read_only_query, sql)
                except StoreError as exc:
                    return self.bytes(orjson.dumps({"error": str(exc)}), content_type="application/json", status=400)
                payload = {"columns": result.columns, "rows": result.rows}
                return self.bytes(orjson.dumps(payload, default=str), content_type="application/json")

    return app

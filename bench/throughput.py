"""Throughput and freshness of the kanalpuls worker, beside a naive Faust agent and a plain
aiokafka loop measured in the same run, on the same machine, against the same embedded broker.

Run from the repository root (the script puts the root on sys.path itself):

    .venv/bin/python bench/throughput.py                       # 1,000,000 events, 200,000 for the naive peer
    .venv/bin/python bench/throughput.py --events 200000 --naive-events 50000 --skip-freshness

What it does, all embedded and all cleaned up on the way out (also on Ctrl-C):

1. Starts one Tansu broker on a free port and, before any consumer runs, produces
   (aiokafka, acks=all) N distinct canonical InquiryEvents (a week of phone calls and
   walk-ins of one municipality, built with orjson in InquiryEvent.model_dump_json()'s exact
   bytes, checked against the model every 997th event) as NDJSON messages of 500 events
   keyed like InquiryEvent.partition_key, to a 6-partition topic; and N_naive events, one
   per message, to a second topic.
2. kanalpuls worker: the real `kanalpuls worker` child process (supervise.worker_process)
   with its own app id, topic and fresh chDB directory; the store count is polled through
   the worker's /store/query every 100 ms.
3. Freshness, on that same worker once it has caught up: `kanalpuls ingest
   asterisk_queue_log FILE --follow` while ENTERQUEUE lines are appended at 1000 lines/s for
   15 s; a line's latency = first poll (every 50 ms) at which the store holds its event,
   minus the moment it was appended.
4. naive Faust agent (bench/naive_faust.py, a child process) on the second topic: one event
   per message, one windowed-table update per event, chDB inserts of 1000 events.
5. plain aiokafka loop, in this process, on the worker's topic with no consumer group:
   getmany -> decode_messages -> DedupeIndex.keep_new -> sinks.clickhouse.EventWriter.write ->
   minute_rollup into a dict. The practical bound for the worker's own functions.

Each peer has its own temp dir (tempfile.mkdtemp) for chDB and Faust data; all of them, and
every child process, are removed on the way out, also on Ctrl-C, SIGTERM or a failure (whose
child logs are printed first). Other load on the machine shows up in the figures: the load
average at start is printed with them.

Steady rate = (N - count at t0) / (t1 - t0): t0 is the first poll that sees a stored event,
t1 the first poll that sees all N. "wall" adds start-up (process start, consumer join,
first fetch). It prints figures; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from connectors.mapping import load_mapping  # noqa: E402
from pipeline.ground.settings import ConnectorSettings, KafkaSettings, Settings, StoreSettings, WorkerSettings  # noqa: E402
from pipeline.sinks.clickhouse import EventWriter as StoreEventWriter  # noqa: E402
from pipeline.store.clickhouse import EmbeddedStore, StoreError  # noqa: E402
from pipeline.store.client import run_query  # noqa: E402
from pipeline.store.serial import SerialStore  # noqa: E402
from pipeline.worker.aggregation import DedupeIndex, add_sums, minute_rollup, table_updates  # noqa: E402
from pipeline.worker.broker import EmbeddedBroker, ensure_topics, port_open, required_topics  # noqa: E402
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment, stop_process, worker_process  # noqa: E402
from schemas import InquiryEvent, make_event_id  # noqa: E402
from schemas.wire import Message, decode_messages  # noqa: E402

console = Console(stderr=True)

PARTITIONS = 6
BATCH_EVENTS = 500  # events per Kafka message, as the connectors send them
MUNICIPALITY = "751"
WEEK_START = date(2025, 11, 17)  # a Monday; 7 calendar days, 5 open
FRESHNESS_EPOCH = 1763971200  # 2025-11-24 08:00 UTC, the Monday after
DATABASE = "kanalpuls"
COUNT_SQL = f"SELECT count() FROM {DATABASE}.inquiry_events"
ROLLUP_SQL = f"SELECT sum(events) FROM {DATABASE}.inquiry_minute"

# Opening hours in UTC (local 09-15 and 10-15 in winter), Monday..Friday.
PHONE_OPEN = (8 * 3600, 14 * 3600)
WALK_IN_OPEN = (9 * 3600, 14 * 3600)
PHONE_SHARE = 0.6
PHONE_QUEUES = ("pas", "koerekort", "sundhedskort", "flytning", "pension", "boligstoette",
                "jobcenter", "pladsanvisning", "byggesag", "affald")
SITES = ("Rådhuset", "Borgerservice Syd", "Hovedbiblioteket")
TICKET_SERVICES = ("Pas", "Kørekort", "Sundhedskort", "Flytning", "Pension", "Jobcenter")
EVENTS_PER_INQUIRY = 2.8  # arrived + answered + closed, or arrived + abandoned


class BenchFailed(Exception):
    """A peer did not finish; the message says which and where its log is."""


# --- test data: canonical InquiryEvent JSON without pydantic per event -----------------------


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


class EventWriter:
    """Builds the exact bytes InquiryEvent.model_dump_json() produces, keyed like partition_key."""

    def __init__(self, seed: int) -> None:
        mapping = load_mapping(ConnectorSettings().mapping_file)
        self.phone = {q: mapping.classify("phone_queue", q) for q in PHONE_QUEUES}
        self.walk_in = {s: mapping.classify("ticket_service", s) for s in TICKET_SERVICES}
        rng = random.Random(seed ^ 0x5EED)
        # Citizens call more than once: a pool of contact keys (HMAC-SHA256 hex in production).
        self.contact_keys = [hashlib.sha256(rng.randbytes(16)).hexdigest() for _ in range(50_000)]
        self.queue_log_line = 0
        self.queue_log_offset = 0
        self.ticket_rows: dict[str, int] = {}

    def phone_event(self, epoch: int, callid: str, queue: str, stage: str, *, wait: float | None = None,
                    handle: float | None = None, resolved: bool | None = None,
                    contact_key: str | None = None) -> tuple[str, dict]:
        cls = self.phone[queue]
        self.queue_log_line += 1
        offset = self.queue_log_offset
        self.queue_log_offset += 64 + len(callid)
        return f"{MUNICIPALITY}/phone/{cls.task}", {
            "schema_version": 1,
            "event_id": make_event_id("asterisk-pbx1", f"{callid}|{queue}", stage),
            "occurred_at": _iso(epoch),
            "municipality": MUNICIPALITY,
            "channel": "phone",
            "direction": "inbound",
            "stage": stage,
            "task": cls.task,
            "task_label": cls.task_label,
            "department": cls.department,
            "site": "",
            "queue": queue,
            "wait_seconds": wait,
            "handle_seconds": handle,
            "requester_type": cls.requester_type.value,
            "inquiry_kind": cls.inquiry_kind.value,
            "appointment": None,
            "resolved_first_contact": resolved,
            "visited_web_first": None,
            "contact_key": contact_key,
            "source": {"system": "asterisk-pbx1", "file": "/var/log/asterisk/queue_log",
                       "line": self.queue_log_line, "offset": offset},
        }

    def walk_in_event(self, epoch: int, day: date, site: str, ticket: str, service: str, stage: str,
                      appointment: bool, *, wait: float | None = None, handle: float | None = None,
                      resolved: bool | None = None) -> tuple[str, dict]:
        cls = self.walk_in[service]
        file = f"/srv/qmatic/export/tickets-{day.isoformat()}.csv"
        row = self.ticket_rows[file] = self.ticket_rows.get(file, 1) + 1
        return f"{MUNICIPALITY}/site/{site}", {
            "schema_version": 1,
            "event_id": make_event_id("qmatic", f"{site}|{day.isoformat()}|{ticket}|1", stage),
            "occurred_at": _iso(epoch),
            "municipality": MUNICIPALITY,
            "channel": "walk_in",
            "direction": "inbound",
            "stage": stage,
            "task": cls.task,
            "task_label": cls.task_label,
            "department": cls.department,
            "site": site,
            "queue": service,
            "wait_seconds": wait,
            "handle_seconds": handle,
            "requester_type": cls.requester_type.value,
            "inquiry_kind": cls.inquiry_kind.value,
            "appointment": appointment,
            "resolved_first_contact": resolved,
            "visited_web_first": None,
            "contact_key": None,
            "source": {"system": "qmatic", "file": file, "line": row, "offset": row * 96},
        }


def generate_events(n: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """n distinct events over one week, in log order (by time within each day), as (key, json)."""
    rng = random.Random(seed)
    writer = EventWriter(seed)
    open_days = [WEEK_START + timedelta(days=i) for i in range(7) if (WEEK_START + timedelta(days=i)).weekday() < 5]
    per_day = int(n / EVENTS_PER_INQUIRY / len(open_days) * 1.05) + 10
    emitted = 0
    call_seq = 0
    for day in open_days:
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
        todo: list[tuple[int, Callable[[], tuple[str, dict]]]] = []
        tickets = {s: 0 for s in SITES}
        for _ in range(per_day):
            if rng.random() < PHONE_SHARE:
                at = midnight + rng.randrange(*PHONE_OPEN)
                call_seq += 1
                callid, queue = f"{at}.{call_seq}", rng.choice(PHONE_QUEUES)
                key = rng.choice(writer.contact_keys) if rng.random() < 0.9 else None
                todo.append((at, lambda at=at, c=callid, q=queue, k=key:
                             writer.phone_event(at, c, q, "arrived", contact_key=k)))
                if rng.random() < 0.15:
                    wait = float(rng.randint(5, 300))
                    todo.append((at + int(wait), lambda at=at + int(wait), c=callid, q=queue, w=wait:
                                 writer.phone_event(at, c, q, "abandoned", wait=w)))
                else:
                    hold = float(min(600, int(rng.expovariate(1 / 60))))
                    talk = float(max(20, int(rng.lognormvariate(5.4, 0.6))))
                    resolved = False if rng.random() < 0.1 else None
                    answered, closed = at + int(hold), at + int(hold + talk)
                    todo.append((answered, lambda t=answered, c=callid, q=queue, h=hold:
                                 writer.phone_event(t, c, q, "answered", wait=h)))
                    todo.append((closed, lambda t=closed, c=callid, q=queue, h=hold, d=talk, r=resolved:
                                 writer.phone_event(t, c, q, "closed", wait=h, handle=d, resolved=r)))
            else:
                at = midnight + rng.randrange(*WALK_IN_OPEN)
                site, service = rng.choice(SITES), rng.choice(TICKET_SERVICES)
                tickets[site] += 1
                ticket = f"{service[0]}{tickets[site]:04d}"
                booked = rng.random() < 0.25
                todo.append((at, lambda at=at, s=site, t=ticket, v=service, b=booked:
                             writer.walk_in_event(at, day, s, t, v, "arrived", b)))
                wait = float(int(rng.expovariate(1 / 600)))
                if rng.random() < 0.1:
                    todo.append((at + int(wait), lambda t=at + int(wait), s=site, k=ticket, v=service, b=booked, w=wait:
                                 writer.walk_in_event(t, day, s, k, v, "abandoned", b, wait=w)))
                else:
                    handle = float(max(60, int(rng.lognormvariate(5.7, 0.5))))
                    called, done = at + int(wait), at + int(wait + handle)
                    resolved = False if rng.random() < 0.05 else None
                    todo.append((called, lambda t=called, s=site, k=ticket, v=service, b=booked, w=wait:
                                 writer.walk_in_event(t, day, s, k, v, "answered", b, wait=w)))
                    todo.append((done, lambda t=done, s=site, k=ticket, v=service, b=booked, h=handle, r=resolved:
                                 writer.walk_in_event(t, day, s, k, v, "closed", b, handle=h, resolved=r)))
        todo.sort(key=lambda item: item[0])
        for _, make in todo:
            key, event = make()
            yield key, orjson.dumps(event)
            emitted += 1
            if emitted == n:
                return
    raise AssertionError(f"generated only {emitted} of {n} events")  # per_day is sized with margin


def check_wire_shape(events: Iterator[tuple[str, bytes]], every: int = 997) -> Iterator[tuple[str, bytes]]:
    """Pass events through; every `every`-th one must round-trip through InquiryEvent byte for byte."""
    for i, (key, line) in enumerate(events):
        if i % every == 0 or i < 50:
            model = InquiryEvent.model_validate_json(line)
            if model.model_dump_json().encode() != line or model.partition_key != key:
                raise BenchFailed(f"generated event {i} is not canonical:\n{line.decode()}\n"
                                  f"{model.model_dump_json()}\nkey {key} vs {model.partition_key}")
        yield key, line


def as_messages(events: Iterator[tuple[str, bytes]], batch: int) -> Iterator[tuple[str, bytes, int]]:
    """Group events per key into NDJSON messages of `batch` events, like the connector runtime."""
    if batch == 1:
        for key, line in events:
            yield key, line, 1
        return
    buffers: dict[str, list[bytes]] = {}
    for key, line in events:
        buf = buffers.setdefault(key, [])
        buf.append(line)
        if len(buf) == batch:
            yield key, b"\n".join(buf), batch
            buf.clear()
    for key, buf in buffers.items():
        if buf:
            yield key, b"\n".join(buf), len(buf)


async def produce(bootstrap: str, topic: str, n: int, batch: int, seed: int,
                  progress: Progress) -> tuple[int, dict[int, int]]:
    """Produce n events in messages of `batch` events; returns the number of messages and each
    partition's end offset as the acks reported it (Tansu's ListOffsets answer is not reliable)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_request_size=16 * 1024 * 1024, max_batch_size=1024 * 1024)
    await producer.start()
    task = progress.add_task(f"produce {topic}", total=n)
    messages = 0
    ends: dict[int, int] = {}
    try:
        pending = []
        for key, value, count in as_messages(check_wire_shape(generate_events(n, seed)), batch):
            pending.append(await producer.send(topic, value, key=key.encode()))
            messages += 1
            progress.advance(task, count)
            if len(pending) >= 2000:
                for meta in await asyncio.gather(*pending):
                    ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
                pending.clear()
        for meta in await asyncio.gather(*pending):
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    return messages, ends


# --- measuring --------------------------------------------------------------------------------


@dataclass
class PeerResult:
    name: str
    events: int
    steady_seconds: float = float("nan")
    wall_seconds: float = float("nan")
    count_at_t0: int = 0
    checks: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return (self.events - self.count_at_t0) / self.steady_seconds


def measure(result: PeerResult, read_count: Callable[[], int], launched: float, every: float,
            stall_seconds: float = 120.0) -> PeerResult:
    """Poll a stored-events count until it reaches result.events; fill in t0, t1, wall."""
    t0 = None
    last_change, last = time.monotonic(), -1
    with console.status(f"{result.name}: starting") as status:
        while True:
            try:
                count = read_count()
            except (StoreError, OSError, ValueError):
                count = max(last, 0)
            now = time.monotonic()
            if count > 0 and t0 is None:
                t0, result.count_at_t0 = now, count
            if count != last:
                last, last_change = count, now
            if count >= result.events:
                if t0 == now:
                    raise BenchFailed(f"{result.name}: stored everything between two polls; use more events")
                result.steady_seconds = now - t0
                result.wall_seconds = now - launched
                return result
            if now - last_change > stall_seconds:
                raise BenchFailed(f"{result.name}: stuck at {count:,} of {result.events:,} events "
                                  f"for {stall_seconds:.0f}s")
            status.update(f"{result.name}: {count:,} of {result.events:,} events stored "
                          f"({now - launched:.0f}s)")
            time.sleep(every)


def worker_count(settings: Settings, sql: str = COUNT_SQL) -> int:
    return int(run_query(settings, sql).scalar() or 0)


def peer_settings(var_dir: Path, broker_port: int, app_id: str) -> Settings:
    return Settings(
        var_dir=var_dir,
        kafka=KafkaSettings(embedded_port=broker_port, partitions=PARTITIONS, inquiries_topic=f"inquiries-{app_id}",
                            dead_letter_topic=f"inquiries-{app_id}.dlq"),
        store=StoreSettings(path=var_dir / "chdb", database=DATABASE),
        worker=WorkerSettings(app_id=app_id, web_port=free_port(), data_dir=var_dir / "worker"),
        connectors=ConnectorSettings(checkpoint_dir=var_dir / "checkpoints"),
    )


@dataclass
class Freshness:
    lines: int
    p50: float
    p95: float
    max: float


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def measure_freshness(settings: Settings, var_dir: Path, base: int, rate: int, seconds: float) -> Freshness:
    """Append queue_log lines at `rate`/s for `seconds` while `kanalpuls ingest --follow` runs."""
    log_dir = var_dir / "freshness"
    log_dir.mkdir(parents=True)
    queue_log = log_dir / "queue_log"
    queue_log.touch()
    fd = os.open(queue_log, os.O_WRONLY | os.O_APPEND)
    ingest_log = open(var_dir / "ingest.log", "wb")
    ingest = subprocess.Popen(kanalpuls_command("ingest", "asterisk_queue_log", str(queue_log), "--follow"),
                              env=settings_environment(settings), cwd=ROOT, stdout=ingest_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Warm-up line: wait until the connector, broker and worker carry one event end to end.
        os.write(fd, f"{FRESHNESS_EPOCH - 10}|warmup.1|pas|NONE|ENTERQUEUE||40000000|1\n".encode())
        deadline = time.monotonic() + 90
        with console.status("freshness: waiting for the connector's first event"):
            while worker_count(settings) < base + 1:
                if ingest.poll() is not None:
                    raise BenchFailed(f"kanalpuls ingest exited with {ingest.returncode}; see {var_dir / 'ingest.log'}")
                if time.monotonic() > deadline:
                    raise BenchFailed("freshness: the warm-up line did not reach the store within 90s")
                time.sleep(0.05)
        base += 1
        total = int(rate * seconds)
        appended = [0.0] * total

        def append_lines() -> None:
            start = time.monotonic()
            i = 0
            while i < total:
                due = min(total, int((time.monotonic() - start) * rate) + 1)
                if due > i:
                    chunk = "".join(f"{FRESHNESS_EPOCH + j // rate}|{FRESHNESS_EPOCH}.{j}|pas|NONE|ENTERQUEUE||"
                                    f"{20000000 + j:08d}|1\n" for j in range(i, due))
                    os.write(fd, chunk.encode())
                    now = time.monotonic()
                    for j in range(i, due):
                        appended[j] = now
                    i = due
                time.sleep(0.002)

        writer = threading.Thread(target=append_lines, daemon=True)
        samples: list[tuple[float, int]] = []
        writer.start()
        deadline = time.monotonic() + seconds + 60
        with console.status("freshness") as status:
            while True:
                count = worker_count(settings) - base
                samples.append((time.monotonic(), count))
                status.update(f"freshness: {count:,} of {total:,} appended lines stored")
                if count >= total:
                    break
                if time.monotonic() > deadline:
                    raise BenchFailed(f"freshness: only {count:,} of {total:,} lines stored 60s after the last append")
                time.sleep(0.05)
        writer.join()
        latencies = []
        k = 0
        for i in range(total):
            while samples[k][1] < i + 1:
                k += 1
            latencies.append(samples[k][0] - appended[i])
        latencies.sort()
        return Freshness(total, percentile(latencies, 0.5), percentile(latencies, 0.95), latencies[-1])
    finally:
        stop_process(ingest)
        ingest_log.close()
        os.close(fd)


def run_naive(bootstrap: str, topic: str, n: int, var_dir: Path, run: str) -> PeerResult:
    progress_file = var_dir / "stored"
    web_port = free_port()
    log_path = var_dir / "naive.log"
    result = PeerResult("naive Faust agent", n)
    launched = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("naive_faust.py")), "--bootstrap", bootstrap,
             "--topic", topic, "--app-id", f"naive-{run}", "--data-dir", str(var_dir / "worker"),
             "--store", str(var_dir / "chdb"), "--web-port", str(web_port), "--progress-file", str(progress_file)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            while not port_open("127.0.0.1", web_port):
                if process.poll() is not None:
                    raise BenchFailed(f"the naive Faust app exited with {process.returncode}; see {log_path}")
                if time.monotonic() - launched > 90:
                    raise BenchFailed(f"the naive Faust app did not start within 90s; see {log_path}")
                time.sleep(0.1)

            def read() -> int:
                if process.poll() is not None:
                    raise BenchFailed(f"the naive Faust app exited with {process.returncode}; see {log_path}")
                return int(progress_file.read_text()) if progress_file.exists() else 0

            measure(result, read, launched, every=0.1)
        finally:
            stop_process(process)
    store = EmbeddedStore(var_dir / "chdb", DATABASE)
    try:
        result.checks.append(f"store count {int(store.query(COUNT_SQL).scalar()):,}, "
                             f"rollup sum(events) {int(store.query(ROLLUP_SQL).scalar()):,}")
    finally:
        store.close()
    return result


async def run_aiokafka(bootstrap: str, topic: str, n: int, ends: dict[int, int], var_dir: Path,
                       batch_messages: int) -> PeerResult:
    """The worker's per-batch work in a bare getmany loop; reads each partition up to `ends`."""
    result = PeerResult("plain aiokafka loop", n)
    launched = time.monotonic()
    store = EmbeddedStore(var_dir / "chdb", DATABASE)
    sink = StoreEventWriter(SerialStore(store))
    sink.shared.setup()
    dedupe = DedupeIndex(sink.stored_ids)
    rollup: dict[tuple[float, tuple[str, ...]], list[float]] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=16 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    await consumer.start()
    stored, t0, last_progress = 0, None, time.monotonic()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        with console.status(f"{result.name}: starting") as status:
            while stored < n:
                fetched = await consumer.getmany(timeout_ms=250, max_records=batch_messages)
                messages = [Message(r.value, tp.partition, r.offset, r.key or b"")
                            for tp, records in fetched.items() for r in records if r.offset < ends.get(tp.partition, 0)]
                if not messages:
                    if time.monotonic() - last_progress > 120:
                        raise BenchFailed(f"{result.name}: stuck at {stored:,} of {n:,} events for 120s")
                    continue
                last_progress = time.monotonic()
                decoded = decode_messages(messages)
                fresh = dedupe.keep_new(decoded.events)
                await sink.write(fresh)
                # The worker's aggregation, into a plain dict where the worker has its Faust table.
                for update in table_updates(minute_rollup(fresh)):
                    window = (update.table_key, update.minute)
                    rollup[window] = add_sums(rollup.get(window, {}), update.sums)
                stored += fresh.num_rows
                now = time.monotonic()
                if t0 is None:
                    t0, result.count_at_t0 = now, stored
                status.update(f"{result.name}: {stored:,} of {n:,} events stored ({now - launched:.0f}s)")
        now = time.monotonic()
        result.steady_seconds, result.wall_seconds = now - t0, now - launched
        result.checks.append(f"store count {int(store.query(COUNT_SQL).scalar()):,}, "
                             f"rollup sum(events) {int(store.query(ROLLUP_SQL).scalar()):,}, "
                             f"in-memory rollup {int(sum(v[0] for sums in rollup.values() for v in sums.values())):,} "
                             f"over {len(rollup):,} table keys x minutes")
    finally:
        await consumer.stop()
        store.close()
    return result


# --- the run ----------------------------------------------------------------------------------


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpus} CPUs (nproc), {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()} on {platform.system()} {platform.release()}; "
            f"load average at start {load}")


def run(args: argparse.Namespace) -> int:
    run_id = uuid.uuid4().hex[:8]
    temp_dirs: list[Path] = []

    def temp(name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"kanalpuls-bench-{name}-"))
        temp_dirs.append(path)
        return path

    results: list[PeerResult] = []
    freshness: Freshness | None = None
    machine_line = machine()
    broker_port = free_port()
    naive_topic = f"naive-inquiries-{run_id}"
    try:
        with EmbeddedBroker(broker_port):
            bootstrap = f"127.0.0.1:{broker_port}"
            worker_dir = temp("worker")
            settings = peer_settings(worker_dir, broker_port, f"kanalpuls-bench-{run_id}")
            main_topic = settings.kafka.inquiries_topic  # the aiokafka peer reads it too, on its own
            asyncio.run(ensure_topics(bootstrap, {**required_topics(settings.kafka), naive_topic: PARTITIONS}))
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console) as progress:
                started = time.monotonic()
                messages, ends = asyncio.run(produce(bootstrap, main_topic, args.events, BATCH_EVENTS, args.seed,
                                                     progress))
                produced_main = time.monotonic() - started
                started = time.monotonic()
                naive_messages, _ = asyncio.run(produce(bootstrap, naive_topic, args.naive_events, 1, args.seed,
                                                        progress))
                produced_naive = time.monotonic() - started
            console.print(f"produced {args.events:,} events in {messages:,} messages to {main_topic} "
                          f"({produced_main:.1f}s) and {args.naive_events:,} in {naive_messages:,} messages "
                          f"to {naive_topic} ({produced_naive:.1f}s); broker {bootstrap}")

            # 1. the kanalpuls worker, then freshness on the same (caught-up) worker
            result = PeerResult("kanalpuls worker", args.events)
            launched = time.monotonic()
            with worker_process(settings, worker_dir / "worker.log"):
                measure(result, lambda: worker_count(settings), launched, every=0.1)
                rollup = worker_count(settings, ROLLUP_SQL)
                result.checks.append(f"store count {worker_count(settings):,}, rollup sum(events) {rollup:,}")
                results.append(result)
                console.print(f"kanalpuls worker: {result.rate:,.0f} events/s")
                if not args.skip_freshness:
                    freshness = measure_freshness(settings, worker_dir, args.events, rate=1000, seconds=15)

            # 2. the naive Faust agent
            results.append(run_naive(bootstrap, naive_topic, args.naive_events, temp("naive"), run_id))
            console.print(f"naive Faust agent: {results[-1].rate:,.0f} events/s")

            # 3. the plain aiokafka loop, in this process
            results.append(asyncio.run(run_aiokafka(bootstrap, main_topic, args.events, ends, temp("aiokafka"),
                                                    settings.worker.batch_max_messages)))
            console.print(f"plain aiokafka loop: {results[-1].rate:,.0f} events/s")
    finally:
        if sys.exc_info()[0] is not None:  # the logs go with the temp dirs: show their ends first
            for log in (p for path in temp_dirs for p in sorted(path.glob("*.log"))):
                data = log.read_bytes()
                first = data.find(b"Traceback")  # the first error is the cause, the rest is shutdown
                tail = (data[max(0, first - 300):first + 2500] + b"\n[...]\n" if first >= 0 else b"") + data[-1500:]
                tail = tail.decode("utf-8", "replace")
                console.print(f"[dim]--- end of {log.name} ---[/dim]\n{tail}", markup=True, highlight=False)
        for path in temp_dirs:
            shutil.rmtree(path, ignore_errors=True)

    out = Console(width=None if sys.stdout.isatty() else 120)
    out.print(f"machine: {machine_line}")
    out.print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    table = Table(title="Throughput: events stored in ClickHouse (chDB) per second, same broker, same run")
    for header in ("peer", "events", "seconds (steady)", "events/s", "wall incl. start-up"):
        table.add_column(header, justify="left" if header == "peer" else "right")
    for r in results:
        table.add_row(r.name, f"{r.events:,}", f"{r.steady_seconds:.2f}", f"{r.rate:,.0f}", f"{r.wall_seconds:.2f}")
    out.print(table)
    for r in results:
        out.print(f"  {r.name}: {'; '.join(r.checks)} (expected {r.events:,})")
    by_name = {r.name: r for r in results}
    worker, naive, plain = by_name["kanalpuls worker"], by_name["naive Faust agent"], by_name["plain aiokafka loop"]
    out.print(f"kanalpuls / aiokafka: {worker.rate / plain.rate:.2f}x    "
              f"kanalpuls / naive: {worker.rate / naive.rate:.1f}x (naive measured on {naive.events:,} events)")
    if freshness:
        out.print(f"freshness (ingest --follow -> worker -> store, {freshness.lines:,} lines at 1000/s, "
                  f"defaults: linger 0.2 s, batch window 0.25 s): p50 {freshness.p50:.2f} s, "
                  f"p95 {freshness.p95:.2f} s, max {freshness.max:.2f} s")
    else:
        out.print("freshness: skipped (--skip-freshness)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="kanalpuls worker throughput and freshness, with peers.")
    parser.add_argument("--events", type=int, default=1_000_000, help="events for the worker and aiokafka peers")
    parser.add_argument("--naive-events", type=int, default=200_000, help="events for the naive Faust peer (slow)")
    parser.add_argument("--skip-freshness", action="store_true", help="skip the ingest --follow latency run")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated events")
    args = parser.parse_args()

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)  # run the same clean-up as Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    try:
        return run(args)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: processes stopped, temp dirs removed[/yellow]")
        return 130
    except BenchFailed as exc:
        console.print(f"[red]bench failed:[/red] {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

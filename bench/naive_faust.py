"""The naive Faust peer of bench/throughput.py: what a first Faust app for kanalpuls looks like.

One event per Kafka message, `async for value in stream`, orjson per event, one windowed-table
update per event, and a chDB insert per 1000 events through the same EventWriter the worker
uses. bench/throughput.py starts it as a child process (Faust owns its event loop):

    python bench/naive_faust.py --bootstrap 127.0.0.1:PORT --topic T --app-id A \
        --data-dir D --store S --web-port P --progress-file F

It rewrites F with the number of events stored after every insert, which is how the bench
measures its rate without touching the chDB directory this process owns.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: pipeline, schemas

import faust  # noqa: E402
import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402

from pipeline.sinks.clickhouse import EventWriter  # noqa: E402
from pipeline.store.clickhouse import EmbeddedStore  # noqa: E402
from pipeline.store.serial import SerialStore  # noqa: E402
from schemas.wire import EVENT_SCHEMA  # noqa: E402

TABLE_NAME = "naive_minute_counts"
WINDOW_SECONDS = 60
INSERT_EVENTS = 1000
FLUSH_SECONDS = 0.5  # a partial insert batch waits at most this long
# The wire schema with occurred_at as a timestamp: this agent parses the time per event itself.
ROW_SCHEMA = EVENT_SCHEMA.set(EVENT_SCHEMA.get_field_index("occurred_at"),
                              pa.field("occurred_at", pa.timestamp("ms", tz="UTC")))


def build_app(args: argparse.Namespace) -> faust.App:
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=6,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_host="127.0.0.1",
        web_port=args.web_port,
        web_in_thread=False,
        table_cleanup_interval=60.0,
    )
    inquiries = app.topic(args.topic, key_serializer="raw", value_serializer="raw", partitions=6)
    counts = app.Table(TABLE_NAME, default=lambda: [0, 0.0, 0.0], key_type=str, partitions=6).tumbling(
        WINDOW_SECONDS, expires=timedelta(days=2)
    )
    store = SerialStore(EmbeddedStore(Path(args.store), "kanalpuls"))
    store.setup()
    sink = EventWriter(store)
    progress = Path(args.progress_file)
    pending: list[dict] = []
    stored = [0]

    async def insert_pending() -> None:
        if not pending:
            return
        rows = pending[:]
        pending.clear()
        await sink.write(pa.Table.from_pylist(rows, schema=ROW_SCHEMA))
        stored[0] += len(rows)
        tmp = progress.with_suffix(".tmp")
        tmp.write_text(str(stored[0]))
        os.replace(tmp, progress)

    @app.agent(inquiries)
    async def count_inquiries(stream: faust.StreamT) -> None:
        async for value in stream:
            event = orjson.loads(value)
            occurred = datetime.fromisoformat(event["occurred_at"])
            event["occurred_at"] = occurred
            key = "|".join((event["channel"], event["task"], event["department"], event["site"], event["stage"]))
            window = counts.relative_to(occurred.timestamp())
            n, wait, handle = window[key].value()
            window[key] = [n + 1, wait + (event["wait_seconds"] or 0.0), handle + (event["handle_seconds"] or 0.0)]
            pending.append(event)
            if len(pending) >= INSERT_EVENTS:
                await insert_pending()

    @app.timer(FLUSH_SECONDS)
    async def flush_partial() -> None:
        await insert_pending()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("bootstrap", "topic", "app-id", "data-dir", "store", "progress-file"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    args = parser.parse_args()
    app = build_app(args)
    from faust.worker import Worker

    sys.argv = sys.argv[:1]  # Faust's worker parses the command line too
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()

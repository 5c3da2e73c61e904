"""Dashboard-style queries on 10 million simulated events in embedded chDB: milliseconds each.

Run from the repository root:  .venv/bin/python bench/dashboard_queries.py [--events 10000000]

1. Simulates four weeks of one municipality (every file source and the HTTP events) and
   reads them with the real connectors, as `kanalpuls run` would.
2. Inserts them into a fresh chDB store (schema and steering tables from deploy/), then
   inserts copies shifted back by whole weeks, each event id rehashed with its shift, until
   the store holds --events events: a year or more of the simulated municipality's traffic,
   with its channel mix, tasks, sites and opening hours. The materialized views fill the
   minute and hour rollups as the worker's inserts would.
3. Merges the tables (OPTIMIZE ... FINAL), as a store that has run for months has, then runs
   each query 7 times and prints the median and the slowest run, and the rows returned.

It prints figures; nothing here asserts a timing. The target is 200 ms per query.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from connectors.base import ConnectorContext, Location, RecordRejected, Skip  # noqa: E402
from connectors.mapping import load_mapping  # noqa: E402
from connectors.registry import get_kind  # noqa: E402
from pipeline.ground.privacy import ContactKeyer  # noqa: E402
from pipeline.ground.settings import DEMO_SECRET  # noqa: E402
from pipeline.ground.steering import load_steering  # noqa: E402
from pipeline.ingest import expand_paths, load_run_file  # noqa: E402
from pipeline.measures.kpis import kpi_sql  # noqa: E402
from pipeline.simulated.municipality import DEFAULT_MAPPING_FILE, RUN_FILE, simulate  # noqa: E402
from pipeline.sinks.clickhouse import to_store_table  # noqa: E402
from pipeline.store.clickhouse import EmbeddedStore, init_schema  # noqa: E402
from schemas import InquiryEvent  # noqa: E402
from schemas.wire import Message, decode_messages  # noqa: E402

DB = "bench"
WEEKS = 4
START = date(2026, 10, 26)  # Monday; the simulated weeks are the newest of the store


def simulated_events(out: Path) -> list[InquiryEvent]:
    """Every event the file connectors and the HTTP ingest make of WEEKS simulated weeks."""
    simulate(out, days=7 * WEEKS, seed=4, start=START)
    mapping = load_mapping(DEFAULT_MAPPING_FILE)
    context = ConnectorContext(mapping.municipality, mapping, ContactKeyer(DEMO_SECRET.encode()))
    events: dict[str, InquiryEvent] = {}
    for entry in load_run_file(out / RUN_FILE).connectors:
        kind = get_kind(entry.kind)
        config = kind.config_model.model_validate(entry.config)
        parser = kind.parser(config, context)
        for path in expand_paths(entry.paths):
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            lines = data.splitlines()
            parser.start_file(str(path), lines[0] if lines else None)
            for number, line in enumerate(lines, start=1):
                try:
                    result = parser.parse(line, Location(config.system, str(path), number, 0))
                except (RecordRejected, ValueError):
                    continue
                if not isinstance(result, Skip):
                    events.update((e.event_id, e) for e in result)
    for line in (out / "http_events.ndjson").read_bytes().splitlines():
        event = InquiryEvent.model_validate_json(line)
        events[event.event_id] = event
    return list(events.values())


def load(store: EmbeddedStore, events: list[InquiryEvent], total: int, console: Console) -> int:
    decoded = decode_messages([Message(b"\n".join(e.model_dump_json().encode() for e in events), 0, 0)])
    store.insert_arrow("inquiry_events", to_store_table(decoded.events))
    base = len(events)
    stored, shift = base, 0
    while stored < total:
        shift += WEEKS
        rows = min(base, total - stored)
        store.command(f"""
            INSERT INTO {DB}.inquiry_events
            SELECT * REPLACE (
                substring(lower(hex(SHA256(concat(toString(event_id), '/{shift}')))), 1, 32) AS event_id,
                occurred_at - toIntervalWeek({shift}) AS occurred_at)
            FROM (SELECT * FROM {DB}.inquiry_events
                  WHERE occurred_at >= toDateTime('{START}', 'Europe/Copenhagen') LIMIT {rows})""")
        stored += rows
        if shift % 20 == 0:
            console.print(f"  {stored:,} events")
    counted = store.query(f"SELECT count() FROM {DB}.inquiry_events").scalar()
    if counted != stored:
        raise SystemExit(f"the store holds {counted:,} events, not {stored:,}: the copies did not land")
    return stored


def queries(today: date) -> dict[str, str]:
    month = (today - timedelta(days=27), today)
    return {
        "channel share per hour, one month (inquiry_hour)": f"""
            SELECT hour, channel, sum(events) AS inquiries,
                   inquiries / sum(inquiries) OVER (PARTITION BY hour) AS share
            FROM {DB}.inquiry_hour
            WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
              AND hour >= toDateTime('{month[0]}', 'Europe/Copenhagen')
              AND hour < toDateTime('{month[1] + timedelta(days=1)}', 'Europe/Copenhagen')
            GROUP BY hour, channel ORDER BY hour, channel""",
        "walk-in per site today (inquiry_minute)": f"""
            SELECT site, sumIf(events, stage = 'arrived') AS tickets,
                   sumIf(events, stage = 'arrived') - sumIf(events, stage IN ('answered', 'abandoned')) AS waiting,
                   sumIf(wait_seconds_sum, stage = 'answered') / sumIf(wait_count, stage = 'answered') AS average_wait
            FROM {DB}.inquiry_minute
            WHERE channel = 'walk_in' AND minute >= toDateTime('{today}', 'Europe/Copenhagen')
              AND minute < toDateTime('{today + timedelta(days=1)}', 'Europe/Copenhagen')
            GROUP BY site ORDER BY site""",
        "kpi_channel_share, one month": kpi_sql(DB, "channel_share", from_day=month[0], to_day=month[1]),
        "kpi_walk_in, today": kpi_sql(DB, "walk_in", from_day=today, to_day=today),
        "kpi_phone, today (raw events)": kpi_sql(DB, "phone", from_day=today, to_day=today, sl_seconds=20),
        "kpi_demand walk_in, one year": kpi_sql(DB, "demand", from_day=today - timedelta(days=364), to_day=today,
                                                channel_name="walk_in"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    console = Console(width=120)
    console.print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
                  f"load average {os.getloadavg()[0]:.2f}; command: {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        events = simulated_events(Path(tmp) / "simulated")
        console.print(f"{WEEKS} simulated weeks: {len(events):,} events ({time.perf_counter() - started:.0f} s)")
        store = EmbeddedStore(Path(tmp) / "chdb", DB)
        try:
            init_schema(store, load_steering(ROOT / "deploy" / "steering.yaml"))
            started = time.perf_counter()
            stored = load(store, events, args.events, console)
            for table in ("inquiry_events", "inquiry_minute", "inquiry_hour"):
                store.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")
            sizes = {t: store.query(f"SELECT count() FROM {DB}.{t}").scalar()
                     for t in ("inquiry_events", "inquiry_minute", "inquiry_hour")}
            console.print(f"stored {stored:,} events in {time.perf_counter() - started:.0f} s; rows: "
                          + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
            today = START + timedelta(days=7 * WEEKS - 5)  # the last simulated Wednesday
            table = Table("query", "median ms", "slowest ms", "rows", title=f"on {stored:,} events, 'today' = {today}")
            for name, sql in queries(today).items():
                timings, rows = [], 0
                for _ in range(7):
                    began = time.perf_counter()
                    rows = len(store.query(sql).rows)
                    timings.append((time.perf_counter() - began) * 1000)
                table.add_row(name, f"{statistics.median(timings):.0f}", f"{max(timings):.0f}", f"{rows:,}")
            console.print(table)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

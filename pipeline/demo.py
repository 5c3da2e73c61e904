"""`kanalpuls demo`: the whole pipeline on embedded parts, checked against ground truth.

Starts the broker and a worker process, simulates a week, runs both connectors, waits until
ClickHouse holds every event, then prints what ClickHouse says beside what really happened,
and returns non-zero if anything differs. Every process it starts is stopped on the way out.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.broker import BrokerError, EmbeddedBroker, ensure_topics, required_topics
from connectors.mapping import load_mapping
from pipeline.ingest import run_ingest
from pipeline.settings import Settings
from pipeline.simulator import GroundTruth, default_start, simulate
from pipeline.store import QueryResult
from pipeline.store_client import run_query
from pipeline.supervise import WorkerStartFailed, free_port, worker_process

TIMEZONE = "Europe/Copenhagen"
KPI_DECIMALS = 6


def demo_settings(base: Settings) -> Settings:
    """Embedded everything in a fresh var/demo, on free ports, whatever the environment says."""
    var_dir = base.var_dir / "demo"
    return Settings(
        var_dir=var_dir,
        log_format=base.log_format,
        kafka=base.kafka.model_copy(update={"bootstrap": None, "embedded_port": free_port()}),
        store=base.store.model_copy(update={"url": None, "path": var_dir / "chdb"}),
        worker=base.worker.model_copy(update={"web_port": free_port(), "data_dir": var_dir / "worker"}),
        connectors=base.connectors.model_copy(update={"checkpoint_dir": var_dir / "checkpoints"}),
        privacy=base.privacy,
    )


def store_query(settings: Settings, sql: str) -> QueryResult:
    """The store as any command reaches it: the worker for embedded chDB, else the server."""
    return run_query(settings, sql)


def wait_until_stored(settings: Settings, expected: int, timeout: float, console: Console) -> int:
    """Poll ClickHouse until it holds `expected` distinct events (or time runs out)."""
    deadline = time.monotonic() + timeout
    stored = 0
    with console.status("") as status:
        while time.monotonic() < deadline:
            stored = int(store_query(settings, f"SELECT uniqExact(event_id) FROM {settings.store.database}.inquiry_events").scalar())
            status.update(f"ClickHouse holds {stored:,} of {expected:,} events")
            if stored >= expected:
                return stored
            time.sleep(0.3)
    return stored


# --- what ClickHouse says, and what really happened ---------------------------------


def stored_inquiries(settings: Settings) -> dict[tuple[str, ...], int]:
    db = settings.store.database
    result = store_query(settings, f"""
        SELECT toString(toDate(minute, '{TIMEZONE}')) AS day, channel, task, department, site, sum(events) AS n
        FROM {db}.inquiry_minute
        WHERE stage = 'arrived' AND direction = 'inbound'
        GROUP BY day, channel, task, department, site""")
    return {tuple(str(v) for v in row[:5]): int(row[5]) for row in result.rows}


def true_inquiries(truth: GroundTruth) -> dict[tuple[str, ...], int]:
    return {(str(r.day), r.channel, r.task, r.department, r.site): r.count for r in truth.inquiries}


PHONE_KPIS = ("offered", "answered", "abandoned", "transferred", "service_level", "abandonment_rate",
              "average_speed_of_answer", "average_handle_time")


def stored_phone_kpis(settings: Settings, service_level_seconds: int) -> dict[str, dict[str, float]]:
    db = settings.store.database
    result = store_query(settings, f"""
        SELECT if(day_or_all = '', 'overall', day_or_all) AS scope, * EXCEPT day_or_all FROM (
        SELECT toString(toDate(occurred_at, '{TIMEZONE}')) AS d,
               countIf(stage = 'arrived') AS offered,
               countIf(stage = 'answered') AS answered,
               countIf(stage = 'abandoned') AS abandoned,
               countIf(stage = 'closed' AND resolved_first_contact = false) AS transferred,
               countIf(stage = 'answered' AND wait_seconds <= {service_level_seconds}) / (answered + abandoned) AS service_level,
               abandoned / (answered + abandoned) AS abandonment_rate,
               avgIf(wait_seconds, stage = 'answered') AS average_speed_of_answer,
               avgIf(handle_seconds, stage = 'closed') AS average_handle_time,
               if(grouping(d) = 1, '', d) AS day_or_all
        FROM {db}.inquiry_events FINAL
        WHERE channel = 'phone'
        GROUP BY GROUPING SETS ((d), ()))""")
    return {row["scope"]: {k: float(row[k]) for k in PHONE_KPIS} for row in result.as_dicts()}


def true_phone_kpis(truth: GroundTruth) -> dict[str, dict[str, float]]:
    phone = truth.phone
    scopes: dict[str, Any] = {str(day): stats for day, stats in phone.by_day.items()}
    scopes["overall"] = phone.overall
    return {scope: {k: float(getattr(stats, k)) for k in PHONE_KPIS} for scope, stats in scopes.items()}


def same(a: float, b: float) -> bool:
    return math.isclose(round(a, KPI_DECIMALS), round(b, KPI_DECIMALS), abs_tol=10 ** -KPI_DECIMALS)


def compare(settings: Settings, truth: GroundTruth, console: Console) -> int:
    """Print ClickHouse beside ground truth; return how many numbers differ."""
    stored, expected = stored_inquiries(settings), true_inquiries(truth)
    mismatches = sum(1 for key in stored.keys() | expected.keys() if stored.get(key, 0) != expected.get(key, 0))

    days = sorted({k[0] for k in expected})
    channels = sorted({k[1] for k in expected})
    table = Table(title=f"Inbound inquiries per channel per day, municipality {truth.municipality} "
                        f"(ClickHouse / ground truth)")
    table.add_column("day")
    for channel in channels:
        table.add_column(channel, justify="right")
    for day in days:
        cells = []
        for channel in channels:
            got = sum(v for k, v in stored.items() if k[0] == day and k[1] == channel)
            want = sum(v for k, v in expected.items() if k[0] == day and k[1] == channel)
            mark = "[green]✓[/green]" if got == want else "[red]✗[/red]"
            cells.append(f"{got:,} / {want:,} {mark}")
        table.add_row(day, *cells)
    console.print(table)
    console.print(f"  {len(expected)} day × channel × task × department × site cells compared, "
                  f"{mismatches} differ")

    kpis_stored = stored_phone_kpis(settings, truth.service_level_seconds)
    kpis_true = true_phone_kpis(truth)
    kpi_table = Table(title=f"Phone KPIs from ClickHouse (✓ = equal to ground truth; service level = "
                            f"answered within {truth.service_level_seconds} s)")
    for header in ("scope", "offered", "answered", "abandoned", "transfer", "SL", "aband.", "ASA s", "AHT s"):
        kpi_table.add_column(header, justify="left" if header == "scope" else "right")
    for scope in sorted(kpis_true, key=lambda s: (s == "overall", s)):
        got, want = kpis_stored.get(scope, {}), kpis_true[scope]
        cells = []
        for name in PHONE_KPIS:
            value = got.get(name, float("nan"))
            ok = name in got and same(value, want[name])
            mismatches += 0 if ok else 1
            shown = f"{value:.3f}" if name in ("service_level", "abandonment_rate") else (
                f"{value:.1f}" if name.startswith("average") else f"{value:,.0f}")
            cells.append(f"{shown}{'✓' if ok else '[red]✗[/red]'}")
        kpi_table.add_row(scope, *cells)
    console.print(kpi_table)
    return mismatches


def run_demo(base: Settings, days: int = 7, seed: int = 1, console: Console | None = None,
             start: date | None = None) -> int:
    console = console or Console(stderr=True)
    started = time.monotonic()
    settings = demo_settings(base)
    shutil.rmtree(settings.var_dir, ignore_errors=True)
    settings.var_dir.mkdir(parents=True)
    logs = settings.var_dir / "logs"
    worker_log = settings.var_dir / "worker.log"

    first = start or default_start(date.today())
    municipality = load_mapping(settings.connectors.mapping_file).municipality  # as the connectors see it
    truth = simulate(logs, days=days, seed=seed, start=first, municipality=municipality)
    expected = sum(sum(stages.model_dump().values()) for stages in truth.totals.values())
    console.print(f"[bold]1/5[/bold] simulated {days} days from {first} (seed {seed}) into {logs}: "
                  f"{expected:,} events expected")
    try:
        with EmbeddedBroker(settings.kafka.embedded_port):
            asyncio.run(ensure_topics(settings.kafka.bootstrap_servers, required_topics(settings.kafka)))
            console.print(f"[bold]2/5[/bold] broker on {settings.kafka.bootstrap_servers}")
            with worker_process(settings, worker_log) as worker:
                console.print(f"[bold]3/5[/bold] worker running (pid {worker.pid}, log {worker_log})")
                queue_logs = sorted(logs.glob("queue_log-*.gz")) + [logs / "queue_log"]
                tickets = sorted(logs.glob("tickets-*.csv"))
                for kind, files in (("asterisk_queue_log", queue_logs), ("ticket_export", tickets)):
                    with console.status(f"{kind}: reading {len(files)} file(s)"):
                        stats = asyncio.run(run_ingest(settings, kind, files))
                    console.print(f"[bold]4/5[/bold] {kind}: {stats.records:,} records -> {stats.events:,} events, "
                                  f"{sum(stats.skipped.values()):,} skipped, {stats.rejected} rejected "
                                  f"to {settings.kafka.dead_letter_topic}")
                stored = wait_until_stored(settings, expected, timeout=90, console=console)
                console.print(f"[bold]5/5[/bold] ClickHouse holds {stored:,} of {expected:,} events")
                mismatches = compare(settings, truth, console)
                if stored != expected:
                    mismatches += 1
    except (WorkerStartFailed, BrokerError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    elapsed = time.monotonic() - started
    if mismatches:
        console.print(f"[red]{mismatches} number(s) differ from ground truth[/red] ({elapsed:.0f}s)")
        return 1
    console.print(f"[green]every count matches ground truth[/green] ({elapsed:.0f}s)")
    return 0

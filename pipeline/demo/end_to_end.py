"""`kanalpuls demo`: the whole pipeline on embedded parts, checked against ground truth.

Starts the broker and a worker process, simulates a week of every channel, runs every file
connector from the simulator's run file side by side, POSTs the telephony and form events
to the HTTP ingest, waits until ClickHouse holds every event, then prints what ClickHouse
says beside what really happened, and returns non-zero if anything differs. Every process
it starts is stopped on the way out. Shared mailboxes over IMAP are left out: they need an
IMAP server, which the test suite starts (Dovecot) and the demo does not.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import shutil
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from connectors.http_ingest import build_http_app
from connectors.mapping import load_mapping
from pipeline.demo.checks import (
    Check,
    alert_checks,
    gain_checks,
    live_week,
    resolution_checks,
    settled_week,
    shift_checks,
    target_checks,
)
from pipeline.ground.directories import private_directory
from pipeline.ground.errors import KanalpulsError, TerminalError
from pipeline.ground.settings import HttpSettings, Settings
from pipeline.ingest import load_run_file, plan_runs, run_many
from pipeline.measures.kpis import kpi_sql
from pipeline.simulated.calendar import default_start
from pipeline.simulated.municipality import RUN_FILE, simulate
from pipeline.simulated.truth import SOURCES, GroundTruth, expected_by_channel, expected_event_count, expected_inquiries
from pipeline.store.clickhouse import QueryResult
from pipeline.store.client import run_query
from pipeline.worker.broker import EmbeddedBroker, ensure_topics, required_topics
from pipeline.worker.supervise import free_port, worker_process

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
        http=HttpSettings(port=free_port(), token=SecretStr(secrets.token_urlsafe(24))),
    )


DEMO_SOURCES = tuple(source for source in SOURCES if source != "imap")  # no IMAP server here
HTTP_BATCH = 100


async def post_http_events(settings: Settings, valid: Path, invalid: Path) -> tuple[int, int]:
    """Serve the HTTP ingest and POST to it as a telephony or form system would: the valid
    events in NDJSON batches, then each invalid one alone. Returns (accepted, refused with 422)."""
    runner = web.AppRunner(build_http_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http.host, settings.http.port).start()
    url = f"http://{settings.http.host}:{settings.http.port}/v1/events"
    headers = {"Authorization": f"Bearer {settings.http.token.get_secret_value()}"}  # type: ignore[union-attr]
    accepted = refused = 0
    try:
        async with aiohttp.ClientSession(headers=headers) as client:
            lines = valid.read_bytes().splitlines()
            for start in range(0, len(lines), HTTP_BATCH):
                async with client.post(url, data=b"\n".join(lines[start:start + HTTP_BATCH])) as response:
                    if response.status != 202:
                        raise DemoFailed(f"POST {url} answered {response.status}: {await response.text()}")
                    accepted += (await response.json())["accepted"]
            for line in invalid.read_bytes().splitlines():
                async with client.post(url, data=line) as response:
                    refused += response.status == 422
    finally:
        await runner.cleanup()
    return accepted, refused


class DemoFailed(TerminalError):
    """A step of the demo did not do what it must; the message says which."""


def store_query(settings: Settings, sql: str) -> QueryResult:
    """The store as any command reaches it: the worker for embedded chDB, else the server."""
    return run_query(settings, sql)


def wait_until_stored(settings: Settings, expected: int, stall: float, console: Console) -> int:
    """Poll ClickHouse until it holds `expected` distinct events, or until it has stored nothing
    new for `stall` seconds: a busy machine slows the worker, which must not read as lost events."""
    stored, last_progress = -1, time.monotonic()
    with console.status("") as status:
        while time.monotonic() - last_progress < stall:
            now = int(store_query(settings, f"SELECT uniqExact(event_id) FROM {settings.store.database}.inquiry_events").scalar())
            if now != stored:
                stored, last_progress = now, time.monotonic()
            status.update(f"ClickHouse holds {stored:,} of {expected:,} events")
            if stored >= expected:
                return stored
            time.sleep(0.3)
    return stored


def wait_for_alerts(settings: Settings, truth: GroundTruth, stall: float) -> None:
    """Until the simulated spike's alert has resolved in the store, or nothing changed for `stall` seconds."""
    if truth.spike is None:
        return
    seen, last_progress = None, time.monotonic()
    while time.monotonic() - last_progress < stall:
        rows = store_query(settings, f"SELECT status, count() FROM {settings.store.database}.walk_in_alerts FINAL "
                                     "GROUP BY status").rows
        if ("resolved", 1) in [(str(s), int(n)) for s, n in rows]:
            return
        if rows != seen:
            seen, last_progress = rows, time.monotonic()
        time.sleep(0.3)


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
    """Phone and walk-in arrivals as `truth.inquiries` lists them, keyed like stored_inquiries."""
    return {(str(r.day), r.channel, r.task, r.department, r.site): r.count for r in truth.inquiries}


PHONE_KPIS = ("offered", "answered", "abandoned", "transferred", "service_level", "abandonment_rate",
              "average_speed_of_answer", "average_handle_time")


def stored_phone_kpis(settings: Settings, from_day: date, to_day: date,
                      service_level_seconds: int) -> dict[str, dict[str, float]]:
    """The phone KPIs per local day and overall, over every phone queue (the PBX's and the contact
    centre's), as the deployed kpi_phone view gives them: its '*' queue rows, the '*' day as 'overall'."""
    sql = kpi_sql(settings.store.database, "phone", from_day=from_day, to_day=to_day, sl_seconds=service_level_seconds)
    return {("overall" if row["day"] == "*" else str(row["day"])): {k: float(row[k]) for k in PHONE_KPIS}
            for row in store_query(settings, sql).as_dicts() if row["queue"] == "*"}


def true_phone_kpis(truth: GroundTruth, sources: tuple[str, ...] = DEMO_SOURCES,
                    period: tuple[date, date] | None = None) -> dict[str, dict[str, float]]:
    """The same KPIs from ground truth's queue sums of `sources` (in `period`, default every day),
    with the BRIEF's definitions."""
    first, last = period or phone_period(truth)
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    for queue_day in truth.queues:
        if queue_day.channel == "phone" and queue_day.source in sources and first <= queue_day.day <= last:
            values = queue_day.model_dump(exclude={"source", "day", "channel", "place"})
            sums[str(queue_day.day)].update(values)
            sums["overall"].update(values)

    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    return {scope: {
        "offered": s["arrived"], "answered": s["answered"], "abandoned": s["abandoned"],
        "transferred": s["not_resolved"],
        "service_level": ratio(s["answered_within_service_level"], s["answered"] + s["abandoned"]),
        "abandonment_rate": ratio(s["abandoned"], s["answered"] + s["abandoned"]),
        "average_speed_of_answer": ratio(s["answered_wait_seconds"], s["answered"]),
        "average_handle_time": ratio(s["closed_handle_seconds"], s["closed"]),
    } for scope, s in sums.items()}


def phone_period(truth: GroundTruth) -> tuple[date, date]:
    """The simulated days, as kpi_phone's from_day and to_day."""
    return truth.start, truth.start + timedelta(days=truth.days - 1)


def same(a: float, b: float) -> bool:
    """Equal to KPI_DECIMALS places; an average of nothing (NaN) equals only another."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(round(a, KPI_DECIMALS), round(b, KPI_DECIMALS), abs_tol=10 ** -KPI_DECIMALS)


def stored_by_channel(settings: Settings) -> dict[tuple[str, str], int]:
    db = settings.store.database
    result = store_query(settings, f"SELECT channel, direction, count() FROM {db}.inquiry_events FINAL "
                                   "GROUP BY channel, direction")
    return {(str(channel), str(direction)): int(n) for channel, direction, n in result.rows}


def compare(settings: Settings, truth: GroundTruth, console: Console, sources: tuple[str, ...] = DEMO_SOURCES) -> int:
    """Print ClickHouse beside ground truth (the tables show the live week; every day is
    compared); return how many numbers differ."""
    stored, expected = stored_inquiries(settings), expected_inquiries(truth, sources)
    mismatches = sum(1 for key in stored.keys() | expected.keys() if stored.get(key, 0) != expected.get(key, 0))
    week = live_week(truth)

    days = sorted({k[0] for k in expected if week[0] <= date.fromisoformat(k[0]) <= week[1]})
    channels = sorted({k[1] for k in expected}, key=lambda c: -sum(v for k, v in expected.items() if k[1] == c))
    table = Table(title=f"Inbound arrivals per channel per day, municipality {truth.municipality}, from ClickHouse",
                  caption="✓ = equal to ground truth; web = task-page views, not inquiries")
    table.add_column("channel")
    for day in days:
        table.add_column(date.fromisoformat(day).strftime("%a %d"), justify="right")
    table.add_column("total", justify="right")
    for channel in channels:
        cells = []
        for day in days:
            got = sum(v for k, v in stored.items() if k[0] == day and k[1] == channel)
            want = sum(v for k, v in expected.items() if k[0] == day and k[1] == channel)
            cells.append(f"{got:,}{'✓' if got == want else '[red]✗[/red]'}")
        got = sum(v for k, v in stored.items() if k[1] == channel and k[0] in days)
        want = sum(v for k, v in expected.items() if k[1] == channel and k[0] in days)
        table.add_row(channel, *cells, f"{got:,}{'✓' if got == want else '[red]✗[/red]'}")
    console.print(table)
    console.print(f"  {len(expected)} day × channel × task × department × site cells compared over all "
                  f"{truth.days} days, {mismatches} differ")
    events_stored, events_true = stored_by_channel(settings), expected_by_channel(truth, sources)
    differ = [k for k in events_stored.keys() | events_true.keys() if events_stored.get(k, 0) != events_true.get(k, 0)]
    mismatches += len(differ)
    console.print(f"  every stage, per channel and direction: {len(events_true)} counts compared, {len(differ)} differ"
                  + (f" ({', '.join('/'.join(k) for k in sorted(differ))})" if differ else ""))

    kpis_stored = stored_phone_kpis(settings, *week, truth.service_level_seconds)
    kpis_true = true_phone_kpis(truth, sources, week)
    kpi_table = Table(title=f"Phone queue KPIs from ClickHouse (✓ = equal to ground truth; service level = "
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


def spike_day(settings: Settings, first: date, days: int, history_weeks: int) -> date | bool:
    """The live days' walk-in spike: their middle open weekday; False when they have none, or
    when the history is too short for the worker to page on (spike.min_baseline_weeks)."""
    from pipeline.ground.steering import load_steering

    steering = load_steering(settings.steering.file)
    if history_weeks < steering.spike.min_baseline_weeks:
        return False
    open_days = [first + timedelta(days=i) for i in range(days)
                 if (first + timedelta(days=i)).weekday() < 5 and not steering.closed_day(first + timedelta(days=i))]
    return open_days[len(open_days) // 2] if open_days else False


def print_checks(console: Console, title: str, checks: list[Check]) -> int:
    """The demo's summary lines for one feature; returns how many differ from ground truth."""
    table = Table(title=title, title_justify="left")
    for header in ("", "ClickHouse", "ground truth", ""):
        table.add_column(header)
    for check in checks:
        table.add_row(check.what, check.stored, check.truth, "✓" if check.ok else "[red]✗[/red]")
    console.print(table)
    return sum(not check.ok for check in checks)


def steering_summary(settings: Settings, truth: GroundTruth, console: Console) -> int:
    """Alert, shift, gain, targets and first-contact resolution, each checked against ground truth."""
    from pipeline.ground.steering import load_steering

    steering = load_steering(settings.steering.file)

    def query(sql: str) -> QueryResult:
        return store_query(settings, sql)

    db, week, sources = settings.store.database, live_week(truth), DEMO_SOURCES
    mismatches = print_checks(console, "Walk-in spike alert (worker -> walk_in_alerts)", alert_checks(query, db, truth))
    if truth.days > 7:  # a baseline exists: the four weeks before the live one
        mismatches += print_checks(console, f"Channel shift {week[0]} – {week[1]} against the 4 weeks before",
                                   shift_checks(query, db, steering, truth, sources, week))
        mismatches += print_checks(console, "Realised gain (per task, at each task's baseline mix)",
                                   gain_checks(query, db, steering, truth, sources, week))
        settled = settled_week(truth)
        mismatches += print_checks(console, f"First-contact resolution {settled[0]} – {settled[1]} (its "
                                            f"{steering.resolution_within_days} follow-up days have passed)",
                                   resolution_checks(query, db, steering, truth, sources, settled))
    mismatches += print_checks(console, f"Targets on {week[1]}",
                               target_checks(query, db, steering, truth, sources, week[1]))
    return mismatches


def run_demo(base: Settings, days: int = 7, seed: int = 1, console: Console | None = None,
             start: date | None = None, history_weeks: int = 4) -> int:
    """Simulate `history_weeks` weeks before `days` live days (from `start`, default last week's
    Monday), run everything on embedded parts and compare ClickHouse with ground truth."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    settings = demo_settings(base)
    shutil.rmtree(settings.var_dir, ignore_errors=True)
    private_directory(settings.var_dir)
    logs = settings.var_dir / "logs"
    worker_log = settings.var_dir / "worker.log"

    first = start or default_start(date.today())
    history_start = first - timedelta(weeks=history_weeks)
    municipality = load_mapping(settings.connectors.mapping_file).municipality  # as the connectors see it
    truth = simulate(logs, days=days + 7 * history_weeks, seed=seed, start=history_start,
                     municipality=municipality, spike=spike_day(settings, first, days, history_weeks))
    expected = expected_event_count(truth, DEMO_SOURCES)
    console.print(f"[bold]1/6[/bold] simulated {history_weeks} weeks of history from {history_start} and {days} live "
                  f"days from {first} of every channel (seed {seed}"
                  + (f", a walk-in spike at {truth.spike.site} on {truth.spike.day}" if truth.spike else "")
                  + f") into {logs}: {expected:,} events expected")
    try:
        with EmbeddedBroker(settings.kafka.embedded_port):
            asyncio.run(ensure_topics(settings.kafka.bootstrap_servers, required_topics(settings.kafka)))
            console.print(f"[bold]2/6[/bold] broker on {settings.kafka.bootstrap_servers}")
            with worker_process(settings, worker_log) as worker:
                console.print(f"[bold]3/6[/bold] worker running (pid {worker.pid}, log {worker_log})")
                run_file = load_run_file(logs / RUN_FILE)
                with console.status(f"{len(run_file.connectors)} connectors reading {logs / RUN_FILE}"):
                    results = asyncio.run(run_many(settings, run_file, asyncio.Event()))
                for plan, stats in zip(plan_runs(run_file), results):
                    if stats.error:
                        raise DemoFailed(f"{plan.name} stopped: {stats.error}")
                    console.print(f"[bold]4/6[/bold] {plan.name}: {stats.records:,} records -> {stats.events:,} "
                                  f"events sent, {sum(stats.skipped.values()):,} skipped, {stats.rejected} rejected "
                                  f"to {settings.kafka.dead_letter_topic}")
                accepted, refused = asyncio.run(post_http_events(
                    settings, logs / "http_events.ndjson", logs / "http_events_invalid.ndjson"))
                console.print(f"[bold]5/6[/bold] HTTP ingest: {accepted:,} events accepted (202), "
                              f"{refused} invalid ones refused (422)")
                stored = wait_until_stored(settings, expected, stall=60, console=console)
                wait_for_alerts(settings, truth, stall=30)
                console.print(f"[bold]6/6[/bold] ClickHouse holds {stored:,} of {expected:,} events")
                mismatches = compare(settings, truth, console)
                mismatches += steering_summary(settings, truth, console)
                if stored != expected:
                    mismatches += 1
    except KanalpulsError as exc:  # the broker, the worker or a step of the demo
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    elapsed = time.monotonic() - started
    if mismatches:
        console.print(f"[red]{mismatches} number(s) differ from ground truth[/red] ({elapsed:.0f}s)")
        return 1
    console.print(f"[green]every count matches ground truth[/green] ({elapsed:.0f}s); the store stays in "
                  f"{settings.var_dir}: KANALPULS_VAR_DIR={settings.var_dir} kanalpuls query \"...\" asks it")
    return 0

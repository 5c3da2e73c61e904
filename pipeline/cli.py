"""The `kanalpuls` command: every way an operator starts, feeds and asks the pipeline."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.ground.errors import KanalpulsError, TransientError
from pipeline.ground.messages import KPI_TITLES, kpi_title
from pipeline.ground.settings import get_settings

app = typer.Typer(help="kanalpuls: live channel telemetry for citizen service.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
store_app = typer.Typer(help="The ClickHouse store.", no_args_is_help=True)
app.add_typer(store_app, name="store")
Result = TypeVar("Result")
Moment = TypeVar("Moment", bound=date)  # a day, or a time of day (datetime is a date)
# Not a terminal (CI logs, pipes): wide enough for the demo's tables.
# Markup off: file names, labels and values from events are printed as they are ('[/x]' in a
# department name is text, not a closing tag); styles are given as Text, never inline.
console = Console(stderr=True, markup=False, width=None if sys.stderr.isatty() else 120)


def _stdout() -> Console:
    """Where a command's result goes: a terminal's width, or wide enough that a pipe, a file or
    a test reads every row on one line."""
    return Console(markup=False, width=None if sys.stdout.isatty() else 250)


def _iso(option: str, text: str, parse: Callable[[str], Moment], expected: str, unit: str) -> Moment:
    """A day or time the user typed for `option`; an error naming the option otherwise. Years
    outside 2000–2099 are refused as the events' are: 9999-12-31 + 1 day is no date."""
    try:
        value = parse(text.strip())
    except ValueError:
        raise _fail(f"{option} '{text[:40]}' is not {expected}") from None
    if not 2000 <= value.year <= 2099:
        raise _fail(f"{option} {text.strip()[:40]}: choose a {unit} from 2000 to 2099")
    return value


def _day(option: str, text: str) -> date:
    """A local day the user typed for `option`."""
    return _iso(option, text, date.fromisoformat, "a date like 2026-11-23", "day")


def _period(first: date, last: date) -> None:
    """The period of --from and --to, in order and at most ten years."""
    if last < first:
        raise _fail(f"--to {last} is before --from {first}")
    if (last - first).days > 3660:
        raise _fail(f"--from {first} --to {last}: at most ten years at a time")


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(Text.assemble(("error:", "red"), f" {message}"))
    return typer.Exit(code)


@app.callback()
def _setup() -> None:
    from pydantic import ValidationError

    from pipeline.ground.logs import configure_logging

    try:
        settings = get_settings()
    except ValidationError as exc:
        raise _fail("; ".join(
            f"KANALPULS_{'__'.join(str(part).upper() for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)), code=2)
    configure_logging(settings.log_format)


@app.command()
def broker() -> None:
    """Run the embedded Kafka-API broker (Tansu) and create the topics, until Ctrl-C; restart it if it dies."""
    import threading

    from pipeline.worker.broker import required_topics, supervise_broker

    settings = get_settings()
    if settings.kafka.bootstrap:
        raise _fail(f"KANALPULS_KAFKA__BOOTSTRAP is set ({settings.kafka.bootstrap}): use that broker, "
                    "or unset it to run the embedded one")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    wanted = required_topics(settings.kafka, settings.worker.app_id)

    def started(_: object) -> None:
        console.print(Text.assemble("broker on ", (settings.kafka.bootstrap_servers, "bold"),
                                    f" (memory only); topics {', '.join(wanted)}. Ctrl-C stops it."))

    supervise_broker(settings.kafka.embedded_port, wanted, stop, on_start=started)


@app.command()
def topics() -> None:
    """Create the topics kanalpuls needs on the configured Kafka (idempotent)."""
    from pipeline.worker.broker import ensure_topics, required_topics

    settings = get_settings()
    wanted = required_topics(settings.kafka, settings.worker.app_id)
    asyncio.run(ensure_topics(settings.kafka.bootstrap_servers, wanted))
    console.print(f"topics ready on {settings.kafka.bootstrap_servers}: "
                  + ", ".join(f"{name} ({n} partitions)" for name, n in wanted.items()))


@app.command()
def worker(
    restart: Annotated[bool, typer.Option(help="Start the worker process anew when it exits: at once when the "
                                               "broker lost its log, after a growing pause when it failed.")] = True,
) -> None:
    """Run the Faust worker: consume inquiries, aggregate, store in ClickHouse."""
    if restart:
        raise typer.Exit(_supervise_worker())
    from faust.worker import Worker

    from pipeline.worker.app import build_app

    settings = get_settings()
    faust_app = build_app(settings)
    Worker(faust_app, loglevel="WARNING", quiet=True).execute_from_commandline()


def _die_with_parent() -> None:
    """In the worker child: be killed when `kanalpuls worker` is (kill -9 of the pid an operator
    sees must not leave a worker holding the store and the partitions)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _supervise_worker() -> int:
    """Run `kanalpuls worker --no-restart` as a child and start it again when it exits: at once
    when the broker lost its log, after a pause that grows to a minute when it failed (the
    store away, a crash); stop when told to (signals are passed on to the child)."""
    import subprocess
    import time

    from pipeline.worker.app import EXIT_BROKER_LOST

    stopping = False
    pause = 1.0
    while True:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker", "--no-restart"],
                                 preexec_fn=_die_with_parent)

        def forward(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True
            child.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            status = child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if stopping or status == 0:
            return status if status >= 0 else 128 - status
        if status == EXIT_BROKER_LOST:
            console.print("the broker lost its log; starting the worker anew", style="yellow")
            continue
        pause = 1.0 if time.monotonic() - started > 120 else min(pause * 2, 60.0)
        console.print(Text.assemble((f"the worker exited with status {status}", "red"),
                                    f" (its log above says why); starting it again in {pause:.0f} s"))
        time.sleep(pause)


@app.command()
def serve() -> None:
    """HTTP ingest: POST /v1/events (bearer token), GET /v1/schema, GET /healthz, until Ctrl-C or SIGTERM."""
    from pipeline.ingest import run_ingest

    settings = get_settings()
    stats = asyncio.run(_until_signalled(lambda stop: run_ingest(settings, "http_ingest", [], follow=True, stop=stop)))
    if not _summarise("http_ingest", stats, "request(s)"):
        raise typer.Exit(1)


async def _until_signalled(start: Callable[[asyncio.Event], Awaitable[Result]]) -> Result:
    """Run `start(stop)` with `stop` set by SIGINT or SIGTERM: a source finishes what it sent and returns."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await start(stop)


@store_app.command("init")
def store_init() -> None:
    """Create the database, tables and views (idempotent)."""
    from pipeline.ground.steering import load_steering
    from pipeline.store.clickhouse import init_schema
    from pipeline.store.open import open_store

    settings = get_settings()
    steering = load_steering(settings.steering.file)
    store = open_store(settings.store)
    applied = init_schema(store, steering, backfill=True)
    store.close()
    console.print(f"store ready: database {settings.store.database}, applied {', '.join(applied)}")


@store_app.command("cluster-ddl")
def store_cluster_ddl(
    database: Annotated[str, typer.Option(help="The database the tables go in.")] = "kanalpuls",
) -> None:
    """Print the ClickHouse cluster variant of the events and rollups (Replicated + Distributed), to run once."""
    from pipeline.store.cluster import cluster_ddl

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", database):
        raise _fail(f"--database {database[:40]!r}: use ASCII letters, digits and _ only (at most 64)")
    sys.stdout.write(cluster_ddl(database))


@store_app.command("serve")
def store_serve(
    port: Annotated[int, typer.Option(help="Loopback port; point workers and commands at it with "
                                           "KANALPULS_STORE__URL=kanalpuls://127.0.0.1:<port>.")] = 8124,
) -> None:
    """Own the embedded store and answer workers and commands on loopback (two workers on one chDB store)."""
    from pipeline.store.server import serve_store

    settings = get_settings()
    if settings.store.url and not settings.store.url.startswith("kanalpuls://"):
        raise _fail(f"KANALPULS_STORE__URL is a ClickHouse server ({settings.store.url}): every process connects "
                    "to it on its own; `store serve` is for the embedded store")
    console.print(f"embedded store {settings.store.path} on 127.0.0.1:{port}: set "
                  f"KANALPULS_STORE__URL=kanalpuls://127.0.0.1:{port} for workers and commands")
    serve_store(settings.store.path, settings.store.database, port)


def _known_kind(name: str) -> str:
    """The kind checked before the paths are: an unknown one is answered with the list."""
    from connectors.registry import get_kind

    return get_kind(name).name


@app.command()
def ingest(
    kind: Annotated[str, typer.Argument(help="Connector kind, e.g. asterisk_queue_log, ticket_export, imap_mailbox.",
                                        callback=_known_kind, is_eager=True)],
    paths: Annotated[list[Path] | None, typer.Argument(help="Log files, oldest first (.gz allowed); none for "
                                                          "imap_mailbox and http_ingest.", exists=True, dir_okay=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print events to stdout, rejections to stderr; no broker.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Keep reading the last file as it grows.")] = False,
    config: Annotated[Optional[Path], typer.Option(help="Connector config (YAML) for this kind.")] = None,
) -> None:
    """Read logs, or shared mailboxes over IMAP, and produce inquiry events (or check them with --dry-run)."""
    from connectors.registry import get_kind
    from pipeline.ingest import run_ingest

    settings = get_settings()
    source_kind = get_kind(kind)
    stats = asyncio.run(_until_signalled(lambda stop: run_ingest(
        settings, kind, paths or [], dry_run=dry_run, follow=follow, config_file=config, stop=stop)))
    if not _summarise(source_kind.name, stats, source_kind.traits.unit):
        raise typer.Exit(1)


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="YAML listing connectors: kind, paths (globs), follow, config.",
                                         exists=True, dir_okay=False)],
    check: Annotated[bool, typer.Option("--check", help="Validate the file and list the files each connector "
                                                        "would read now; start nothing.")] = False,
) -> None:
    """Run several connectors side by side from one file, until Ctrl-C or SIGTERM."""
    from pipeline.ingest import check_sources, load_run_file, plan_runs, run_many

    settings = get_settings()
    run_file = load_run_file(config)
    planned = plan_runs(run_file)
    if check:
        check_sources(settings, planned)  # the listing is the command's output: stdout
        out = Console(markup=False, width=None if sys.stdout.isatty() else 200)
        for plan in planned:
            mode = "follow" if plan.entry.follow else "read once"
            out.print(f"{plan.number}. {plan.name} ({mode}): {plan.kind.reads(plan.files)}", highlight=False)
            for path in plan.files:
                out.print(f"     {path}", highlight=False)
        out.print(f"{config}: {len(planned)} connector(s), valid", highlight=False)
        return

    results = asyncio.run(_until_signalled(lambda stop: run_many(settings, run_file, stop)))
    fine = [_summarise(plan.name, stats, plan.kind.traits.unit) for plan, stats in zip(planned, results)]
    if not all(fine):
        raise typer.Exit(1)


def _summarise(name: str, stats, unit: str) -> bool:  # type: ignore[no-untyped-def]
    """One connector's result for the operator, skip reasons included; False when it failed,
    could not read a file, or rejected every record it read (the wrong connector or mapping)."""
    skipped = sum(stats.skipped.values())
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in stats.skipped.most_common(8))
    more = len(stats.skipped) - 8
    console.print(f"{name}: {stats.files} {unit}, {stats.records:,} records: {stats.events:,} events, "
                  f"{skipped:,} skipped{f' ({reasons}' + (f', {more} more reasons' if more > 0 else '') + ')' if skipped else ''}, "
                  f"{stats.rejected:,} rejected", highlight=False)
    fine = True
    if stats.error:
        console.print(Text.assemble(("error:", "red"), f" {name} stopped: {stats.error}"))
        fine = False
    if stats.failed_files:
        console.print(Text.assemble(("error:", "red"), f" {name}: {len(stats.failed_files)} file(s) could not be "
                                    "read: " + ", ".join(sorted(stats.failed_files)[:5])), highlight=False)
        fine = False
    if stats.everything_rejected:
        console.print(Text.assemble(("error:", "red"), f" {name}: every one of its {stats.rejected:,} records was "
                                    "rejected: is this the right connector kind, and its column mapping, for these "
                                    "files? See the reasons above or on inquiries.dlq"), highlight=False)
        fine = False
    return fine


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Directory for the logs and ground_truth.json.")] = Path("var/simulated"),
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same logs.")] = 1,
    start: Annotated[Optional[str], typer.Option(help="First day (YYYY-MM-DD); default: Monday of last week.")] = None,
) -> None:
    """Write realistic logs of every channel for one municipality, with personal data on purpose and ground truth."""
    from datetime import date

    from pipeline.simulated.calendar import default_start
    from pipeline.simulated.municipality import simulate as run_simulation

    first = _day("--start", start) if start else default_start(date.today())
    from connectors.mapping import load_mapping

    # The municipality is the one the mapping rules are for, as in the connectors.
    municipality = load_mapping(get_settings().connectors.mapping_file).municipality
    run_simulation(out, days=days, seed=seed, start=first, municipality=municipality)
    console.print(f"wrote {out}/ (ground truth in {out / 'ground_truth.json'})")


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL to run on the store.")]) -> None:
    """Run SQL on the store (embedded or server) and print a table."""
    from pipeline.store.client import run_query

    result = run_query(get_settings(), sql)
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    _stdout().print(table)


KpiName = Enum("KpiName", {name: name for name in KPI_TITLES}, type=str)  # type: ignore[misc]
OutputFormat = Enum("OutputFormat", {name: name for name in ("table", "csv", "json")}, type=str)  # type: ignore[misc]


@app.command(help="Compute a KPI from its ClickHouse view (deploy/clickhouse/1xx_kpi_*.sql) and print it.\n\n"
             + "\n\n".join(f"[bold]{name}[/bold]: {kpi_title(name, 'da')}" for name in KPI_TITLES))
def kpi(
    name: Annotated[KpiName, typer.Argument(help="The KPI.", show_choices=True)],
    from_day: Annotated[Optional[str], typer.Option("--from", help="First local day, YYYY-MM-DD; default Monday "
                                                    "of last week.")] = None,
    to_day: Annotated[Optional[str], typer.Option("--to", help="Last local day (inclusive), YYYY-MM-DD.")] = None,
    baseline: Annotated[Optional[str], typer.Option(help="Named baseline, of the steering file or imported "
                                                         "(channel_shift, realised_gain; `kanalpuls baseline list`).")] = None,
    within_days: Annotated[Optional[int], typer.Option(min=1, max=365, help="repeat_contacts: look back this many "
                                                       "days; first_contact_resolution: a requester back within them "
                                                       "was not resolved. Default: the steering file's "
                                                       "resolution_within_days (7).")] = None,
    sl_seconds: Annotated[int, typer.Option(min=1, max=3600, help="phone: service level threshold in seconds.")] = 20,
    channel: Annotated[Optional[str], typer.Option(help="Only this channel (demand: the channel, default walk_in).")] = None,
    task: Annotated[Optional[str], typer.Option(help="Only this task (KLE code).")] = None,
    site: Annotated[Optional[str], typer.Option(help="Only this site.")] = None,
    queue: Annotated[Optional[str], typer.Option(help="Only this phone queue.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people; csv or json with the view's "
                                                 "columns and raw values.")] = OutputFormat.table,  # type: ignore[attr-defined]
    sql: Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it.")] = False,
) -> None:
    from datetime import date, datetime, timezone

    from pipeline.ground.messages import channel_code, kpi_title, word
    from pipeline.ground.steering import load_steering
    from pipeline.measures import kpi_output
    from pipeline.measures.baselines import require_data, resolve_baseline
    from pipeline.measures.kpis import KpiError, known_values, kpi_sql
    from pipeline.store.client import run_query

    settings = get_settings()
    language = settings.language
    kpi_name = name.value

    def read(statement: str):  # type: ignore[no-untyped-def]
        return run_query(settings, statement)

    try:
        from pipeline.measures.kpis import KPIS

        wanted = KPIS[kpi_name].parameters
        today = date.today()
        first = _day("--from", from_day) if from_day else today - timedelta(days=today.weekday() + 7)
        last = _day("--to", to_day) if to_day else first + timedelta(days=6)
        _period(first, last)
        if channel is not None:
            channel = channel_code(channel) or channel  # a Danish or English name as well as the code
        filters = {column: value for column, value in (("channel", channel), ("task", task), ("site", site),
                                                       ("queue", queue)) if value is not None}
        if "channel_name" in wanted:
            filters.pop("channel", None)
        if within_days is None and "within_days" in wanted:
            within_days = load_steering(settings.steering.file).resolution_within_days
        given: dict[str, object] = {"from_day": first, "to_day": last, "within_days": within_days,
                                    "sl_seconds": sl_seconds, "channel_name": channel or "walk_in",
                                    "at": datetime.now(timezone.utc)}
        if "channel_name" in wanted:
            known_values(read, settings.store.database, "channel", channel or "walk_in", language)
        if "base_from" in wanted:
            steering = load_steering(settings.steering.file)
            if not baseline:
                raise KpiError(f"{kpi_name} compares with a baseline: pass --baseline NAME, one of "
                               f"{', '.join(steering.baselines) or 'none in the steering file'} or an imported one "
                               "(`kanalpuls baseline list`)")
            resolved = resolve_baseline(steering, read, settings.store.database, baseline, first, last)
            if not sql:
                require_data(read, settings.store.database, steering.timezone, resolved)
            given.update(resolved.arguments())
        statement = kpi_sql(settings.store.database, kpi_name, **{p: given[p] for p in wanted})
        if sql:
            _stdout().print(statement, highlight=False, soft_wrap=True)
            return
        result = run_query(settings, statement)
        for column, value in filters.items():
            if column not in result.columns and not (column == "queue" and "place" in result.columns):
                raise KpiError(word("no_column", language, kpi=kpi_name, what=column))
            known_values(read, settings.store.database, column, value, language)
    except ValueError as exc:
        raise _fail(str(exc))
    index = {c: i for i, c in enumerate(result.columns)}
    rows = [row for row in result.rows if all(
        row[index["place" if c == "queue" and c not in index else c]] == v for c, v in filters.items())]
    rows = kpi_output.ordered(result.columns, rows)
    if output.value == "csv":
        sys.stdout.write(kpi_output.as_csv(result.columns, rows))
    elif output.value == "json":
        sys.stdout.write(kpi_output.as_json(result.columns, rows) + "\n")
    elif not rows and "at" in wanted:
        from zoneinfo import ZoneInfo

        local = given["at"].astimezone(ZoneInfo(load_steering(settings.steering.file).timezone))  # type: ignore[attr-defined]
        console.print(word("nobody_waiting", language, at=f"{local:%Y-%m-%d %H:%M}"))
    elif not rows:
        console.print(word("no_rows", language, period=f"{first} – {last}"))
    else:
        title = kpi_title(kpi_name, language, given["within_days"] if "within_days" in wanted else None)  # type: ignore[arg-type]
        _stdout().print(kpi_output.table(f"{title} ({first} – {last})", result.columns, rows, language, kpi_name))


@app.command()
def targets(
    on: Annotated[Optional[str], typer.Option(help="Evaluate on this local day (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Evaluate the steering file's channel-strategy targets: value, target, progress, on/off track."""
    from datetime import date

    from pipeline.ground.messages import translate
    from pipeline.ground.steering import load_steering
    from pipeline.measures.kpi_output import number
    from pipeline.measures.targets import evaluate_targets
    from pipeline.store.client import run_query

    settings = get_settings()
    try:
        day = _day("--on", on) if on else date.today()
        steering = load_steering(settings.steering.file)
        statuses = evaluate_targets(steering, lambda sql: run_query(settings, sql), settings.store.database, day,
                                    settings.language)
    except ValueError as exc:
        raise _fail(str(exc))
    language = settings.language
    if not statuses:
        console.print(translate("no targets in {file}", language).format(file=settings.steering.file))
        return

    def shown(value: float | None, unit: str) -> str:
        if value is None or value != value:
            return translate("no data", language)
        if unit in ("share", "rate"):  # two decimals: 20.3 % against 20.3 % must not read as on track
            return f"{number(value * 100, language, 2)} %"
        return number(value, language, 3)

    table = Table(*(translate(h, language) for h in ("target", "window", "value", "target value", "progress",
                                                     "status")), title=translate("Targets on {day}", language)
                  .format(day=day))
    for status in statuses:
        verdict = (Text(translate("on track", language), style="green") if status.on_track
                   else Text(translate("off track", language), style="red") if status.on_track is not None
                   else Text(translate("no verdict", language)))
        if status.note:
            verdict.append(f"\n{status.note}", style="dim")
        progress = "" if status.progress is None else f"{number(status.progress * 100, language)} %"
        table.add_row(Text.assemble(status.name, (f"\n{status.description}", "dim")), f"{status.window[0]} – {status.window[1]}",
                      shown(status.value, status.unit), shown(status.target, status.unit), progress, verdict)
    _stdout().print(table)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=62, help="Live days to simulate (from last week's Monday).")] = 7,
    history_weeks: Annotated[int, typer.Option(min=0, max=12, help="Weeks of history before them: the rolling "
                                               "baseline and the spike detector's yardstick.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Run everything on embedded parts and compare ClickHouse with ground truth: counts, phone KPIs,
    the walk-in spike alert, channel shift, realised gain, targets and first-contact resolution."""
    from pipeline.demo.end_to_end import run_demo

    # The demo's own lines carry markup; everything in them is the simulator's, none of it a user's.
    shown = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    raise typer.Exit(run_demo(get_settings(), days=days, seed=seed, console=shown, history_weeks=history_weeks))


baseline_app = typer.Typer(help="Named baselines: import a past counting week, list what shift and gain can compare with.",
                           no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("import")
def baseline_import(
    file: Annotated[Path, typer.Argument(help="A counting week: the KOMHEN CSV/XLSX `report komhen` writes, or a "
                                              "task x channel (x direction) table, long or wide, Danish or English "
                                              "headings.", dir_okay=False)],
    name: Annotated[str, typer.Option(help="The name to compare with, e.g. komhen_2025 (lower case, digits, _).")],
    days: Annotated[Optional[int], typer.Option(min=1, max=3660, help="Days the counts cover; default: the file's "
                                                "ISO weeks, else 7 (one counting week).")] = None,
) -> None:
    """Store a past counting week as a named baseline for channel shift, realised gain and targets.
    Importing a name again replaces what it compares with (earlier imports are kept in baseline_counts)."""
    from pipeline.ground.steering import BASELINE_NAME, load_steering
    from pipeline.measures.baseline_files import BaselineFileError, read_baseline_file
    from pipeline.measures.baselines import store_baseline
    from pipeline.store.clickhouse import StoreError
    from pipeline.store.open import open_store

    settings = get_settings()
    steering = load_steering(settings.steering.file)
    if not BASELINE_NAME.fullmatch(name):
        raise BaselineFileError(f"--name '{name[:60]}': lower-case letters, digits and _, starting with a letter")
    if name in steering.baselines:
        raise BaselineFileError(f"--name {name} is a baseline of the steering file {settings.steering.file}: "
                                "choose another name")
    counts = read_baseline_file(file)
    covered = days or (((counts.period[1] - counts.period[0]).days + 1) if counts.period else 7)
    store = open_store(settings.store)
    try:
        if not store.query("SELECT count() FROM system.tables WHERE database = {db:String} AND "
                           "name = 'baseline_counts'", {"db": settings.store.database}).scalar():
            raise StoreError(f"the store ({settings.store.url or settings.store.path}) has no "
                             f"{settings.store.database} tables yet: run `kanalpuls store init` first")
        # Only the file's name is kept: a path may name the person whose folder it sat in.
        store_baseline(store, name, counts, file.name, covered)
    finally:
        store.close()
    tasks = {task for task, _, _ in counts.counts}
    total = sum(counts.counts.values())
    inbound = sum(n for (_, _, direction), n in counts.counts.items() if direction == "inbound")
    period = f" ({counts.period[0]} – {counts.period[1]})" if counts.period else ""
    console.print(f"baseline {name}: {len(tasks)} tasks, {total:,.0f} inquiries ({inbound:,.0f} inbound) over "
                  f"{covered} days{period}, from {file}; compare with `--baseline {name}`", highlight=False)


@baseline_app.command("list")
def baseline_list() -> None:
    """Every baseline shift, gain and targets can compare with: the steering file's and the imported ones."""
    from pipeline.ground.messages import translate
    from pipeline.ground.steering import load_steering
    from pipeline.measures.baselines import imported_baselines
    from pipeline.measures.kpi_output import number
    from pipeline.store.client import run_query

    settings = get_settings()
    steering = load_steering(settings.steering.file)
    stored = imported_baselines(lambda sql: run_query(settings, sql), settings.store.database)
    language = settings.language
    table = Table(*(translate(h, language) for h in ("baseline", "kind", "what")))
    for name, baseline in steering.baselines.items():
        what = {"fixed": f"{baseline.start} – {baseline.end}",
                "same_period_last_year": translate("the same days a year earlier", language),
                "rolling_weeks": translate("the {weeks} weeks before the period", language).format(weeks=baseline.weeks),
                "channel_mix": translate("shares for {tasks} task(s)", language).format(tasks=len(baseline.mix))
                }[baseline.kind]
        table.add_row(name, translate(baseline.kind, language),
                      f"{what}{' – ' + baseline.description if baseline.description else ''}")
    for name, row in stored.items():
        if name in steering.baselines:
            continue
        period = f"{row['period_from']} – {row['period_to']}, " if row["period_from"] else ""
        table.add_row(name, translate("imported", language), period + translate(
            "{days} days, {tasks} tasks, {inquiries} inquiries, from {source}", language).format(
            days=row["days"], tasks=int(row["tasks"]), inquiries=number(float(row["inquiries"]), language),  # type: ignore[call-overload, arg-type]
            source=row["source"]))
    _stdout().print(table)


report_app = typer.Typer(help="Reports from the stored data: the KOMHEN counting week, the channel-strategy report.",
                         no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("komhen")
def report_komhen(
    week: Annotated[str, typer.Option(help="ISO week, Monday to Sunday in local time, e.g. 2026-W12.")],
    out: Annotated[Path, typer.Option(help="Directory for komhen-<municipality>-<week>.csv and .xlsx.")] = Path("."),
    municipality: Annotated[Optional[str], typer.Option(
        help="Municipality code; needed only when the store holds several.")] = None,
) -> None:
    """The KOMHEN counting-week table (task x channel x direction, in and out) for any week, as CSV and XLSX.

    A week with no inquiries stored writes nothing and exits 1: a table of zeros handed in would
    report a week that was in fact not measured.
    """
    from pipeline.ground.steering import load_steering
    from pipeline.measures.iso_week import IsoWeek
    from pipeline.reports.komhen import NoInquiries, read_komhen_week
    from pipeline.reports.labels import count as count_text
    from pipeline.reports.workbook import write_komhen
    from pipeline.store.client import run_query

    settings = get_settings()
    try:
        iso_week = IsoWeek.parse(week)
        steering = load_steering(settings.steering.file)
        table = read_komhen_week(lambda sql: run_query(settings, sql), settings.store.database, iso_week,
                                 municipality, steering.timezone, steering.resolution_within_days,
                                 tuple(steering.komhen_tasks))
    except NoInquiries as exc:
        raise _fail(f"{exc}; nothing written", code=1)
    try:
        written = write_komhen(table, out)
    except OSError as exc:  # --out is a file, or not writable
        raise _fail(f"--out {out}: cannot write the files there ({exc.strerror})")
    total = count_text(table.count(classified=True), "da")  # the KOMHEN sheet is KL's, in Danish
    console.print(f"KOMHEN {iso_week} ({iso_week.monday} – {iso_week.sunday}), kommune {table.municipality}: "
                  f"{total} henvendelser i I alt; skrev {', '.join(str(path) for path in written)}", highlight=False)
    for warning in table.warnings():
        console.print(Text.assemble(("OBS:", "yellow"), f" {warning}"), highlight=False)


@report_app.command("strategy")
def report_strategy(
    from_day: Annotated[str, typer.Option("--from", help="First local day, YYYY-MM-DD.")],
    to_day: Annotated[str, typer.Option("--to", help="Last local day (inclusive), YYYY-MM-DD.")],
    baseline: Annotated[Optional[str], typer.Option(help="Named baseline (the steering file's or an imported one) "
                                                         "for channel shift and realised gain; default: the steering "
                                                         "file's first.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Directory for index.html and its PNG charts; "
                                                     "default strategy-<from>_<to>.")] = None,
) -> None:
    """The channel-strategy report: channel mix, shift per task, self-service, cost and gain, targets, demand."""

    from pipeline.ground.messages import translate
    from pipeline.ground.steering import load_steering
    from pipeline.reports.strategy import strategy_report
    from pipeline.store.client import run_query

    settings = get_settings()
    try:
        first, last = _day("--from", from_day), _day("--to", to_day)
        _period(first, last)
        steering = load_steering(settings.steering.file)
        report = strategy_report(lambda sql: run_query(settings, sql), settings.store.database, steering, first,
                                 last, out or Path(f"strategy-{first}_{last}"), baseline, language=settings.language)
    except OSError as exc:  # --out is a file, or not writable
        raise _fail(f"--out {out}: cannot write the report there ({exc.strerror})")
    except ValueError as exc:
        raise _fail(str(exc))
    without = [s.title for s in report.sections if s.state != "chart"]
    console.print(translate("wrote {path} with {charts} chart(s)", settings.language).format(
        path=report.path, charts=len(report.pngs))
        + (translate("; in words only (no data or nothing to compare): {sections}", settings.language).format(
            sections=", ".join(without)) if without else ""), highlight=False)


dashboards_app = typer.Typer(help="Grafana boards as code (dashboards/): build the JSON, preview without Grafana, "
                                  "push to a Grafana.", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("build")
def dashboards_build(
    out: Annotated[Optional[Path], typer.Option(help="Directory for the board JSON; default dashboards/json "
                                                     "(what provisioning mounts and the repo commits).")] = None,
) -> None:
    """Write every board's JSON from the code in dashboards/boards.py."""
    from dashboards.boards import JSON_DIR, write_json

    for path in write_json(out or JSON_DIR, get_settings().language):
        console.print(f"wrote {path}")


@dashboards_app.command("preview")
def dashboards_preview(
    out: Annotated[Path, typer.Option(help="Directory for index.html and a PNG per panel.")],
    from_time: Annotated[Optional[str], typer.Option("--from", help="Range start, ISO time (local if no offset); "
                                                                    "default: a week before --to.")] = None,
    to_time: Annotated[Optional[str], typer.Option("--to", help="Range end, ISO time (local if no offset): 'now' "
                                                                "for the panels that show the moment; default: the "
                                                                "newest minute in the store.")] = None,
) -> None:
    """Render each board's panels from the same SQL Grafana runs to PNG, with an index.html, for a look without Grafana."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from dashboards.boards import TZ
    from dashboards.macros import TimeRange
    from dashboards.preview import render_preview
    from dashboards.queries import newest_week
    from pipeline.ground.messages import translate
    from pipeline.store.client import run_query

    settings = get_settings()

    def query(sql: str):
        return run_query(settings, sql)

    def moment(option: str, text: str) -> datetime:
        parsed = _iso(option, text, datetime.fromisoformat, "a time like 2026-03-12T11:30", "time")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(TZ))

    try:
        if to_time is None and from_time is None:
            time_range = newest_week(query)
        else:
            end = moment("--to", to_time) if to_time else newest_week(query).end
            start = moment("--from", from_time) if from_time else end - timedelta(days=7)
            if start >= end:
                raise ValueError(f"--from {start} is not before --to {end}")
            time_range = TimeRange(start, end, interval_seconds=3600)
        rendered = render_preview(query, out, time_range, language=settings.language)
    except OSError as exc:  # --out is a file, or not writable
        raise _fail(f"--out {out}: cannot write the preview there ({exc.strerror})")
    except ValueError as exc:
        raise _fail(str(exc))
    drawn = [r for r in rendered if r.png is not None]
    empty = [translate(r.panel.title, settings.language) for r in drawn if r.rows == 0]
    console.print(f"wrote {out / 'index.html'} with {len(drawn)} panel(s)"
                  + (f"; no data in the range for: {', '.join(empty)}" if empty else ""))


@dashboards_app.command("push")
def dashboards_push(
    url: Annotated[str, typer.Option(help="Grafana's base URL.")] = "http://localhost:3000",
    token_file: Annotated[Optional[Path], typer.Option(help="File holding a service-account token (kept out of "
                                                            "shell history); without it, --user and a prompted "
                                                            "password.")] = None,
    user: Annotated[str, typer.Option(help="Grafana user when no token file is given.")] = "admin",
    folder_uid: Annotated[Optional[str], typer.Option(help="Existing folder to save the boards in.")] = None,
) -> None:
    """Upload every board to an existing Grafana (grafana-client), replacing boards with the same uid."""
    from grafana_client import GrafanaApi

    from dashboards.push import PushError, push_boards

    if token_file is not None:
        try:
            credential: object = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _fail(f"cannot read the token file {token_file}: {exc.strerror}")
    else:
        credential = (user, typer.prompt(f"Grafana password for {user}", hide_input=True))
    api = GrafanaApi.from_url(url, credential=credential)
    try:
        urls = push_boards(api.dashboard, folder_uid, language=get_settings().language)
    except PushError as exc:
        raise PushError(f"{url}: {exc}") from exc
    for path in urls:
        console.print(f"pushed {url.rstrip('/')}{path}")


def main() -> None:
    """The console script: a command stopped by a KanalpulsError exits with what it means.
    75 (EX_TEMPFAIL) when trying again later may work: a service was away. 2 when something
    must be changed first: a configuration, a file, a query."""
    try:
        app()
    except KanalpulsError as exc:
        console.print(Text.assemble(("error:", "red"), f" {exc}"))
        sys.exit(75 if isinstance(exc, TransientError) else 2)


if __name__ == "__main__":
    main()

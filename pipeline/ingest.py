"""Wire a source kind to settings, its inputs and a sink: what `kanalpuls ingest`, `run` and `serve` start."""

from __future__ import annotations

import asyncio
import glob
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.config import ConnectorConfig
from connectors.outbox import ConnectorStats
from connectors.registry import ConnectorKind, UnknownConnector, get_kind
from pipeline.ground.errors import KanalpulsError, TerminalError
from pipeline.ground.settings import DEMO_SECRET, Settings, weak_secret
from pipeline.ground.validation import describe
from pipeline.sinks.dry_run import DryRunSink
from pipeline.sinks.kafka import kafka_sink

logger = logging.getLogger(__name__)


class IngestError(TerminalError):
    """The ingest cannot start: bad connector config, paths or secret; the message says which."""


def load_connector_config(model: type[ConnectorConfig], path: Path | None) -> ConnectorConfig:
    if path is None:
        return model()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return model.model_validate(data)
    except OSError as exc:
        raise IngestError(f"cannot read connector config {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise IngestError(f"connector config {path} is not YAML kanalpuls reads: {_why_unreadable(exc)}") from exc
    except yaml.YAMLError as exc:
        raise IngestError(f"connector config {path}: {exc}") from exc
    except ValidationError as exc:
        raise IngestError(f"connector config {path}: {describe(exc)}") from exc


def _refuse_public_secret(settings: Settings) -> None:
    """Contact keys go to a real broker only under a secret of the municipality's own."""
    secret = settings.privacy.contact_key_secret.get_secret_value()
    if settings.kafka.bootstrap and secret == DEMO_SECRET:
        raise IngestError(
            f"KANALPULS_PRIVACY__CONTACT_KEY_SECRET is the public demo secret; with it anyone can recompute "
            f"contact keys from phone numbers. Set your own secret before ingesting into {settings.kafka.bootstrap}"
        )
    if settings.kafka.bootstrap and weak_secret(secret):
        raise IngestError(f"KANALPULS_PRIVACY__CONTACT_KEY_SECRET {weak_secret(secret)}: with a guessable secret "
                          "anyone can recompute contact keys from phone numbers")


async def run_ingest(settings: Settings, kind_name: str, paths: list[Path], *, dry_run: bool = False,
                     follow: bool = False, config_file: Path | None = None, config: ConnectorConfig | None = None,
                     stop: asyncio.Event | None = None,
                     discover: Callable[[], list[Path]] | None = None) -> ConnectorStats:
    """Build one source of `kind_name` and run it into Kafka (or, with `dry_run`, stdout).
    `discover` (a followed run-file entry's glob patterns) lets a followed file source move on
    to files that appear later, and wait for the first one."""
    kind = get_kind(kind_name)
    problem = kind.paths_problem(paths) if discover is None else None
    if problem:
        raise IngestError(problem)
    if config is None:
        config = load_connector_config(kind.config_model, config_file)
    if dry_run:
        source = kind.source(settings, config, paths, follow=follow, discover=discover, checkpointed=False)
        return await source.run(DryRunSink(), stop)
    if kind.traits.keys_contacts:
        _refuse_public_secret(settings)
    source = kind.source(settings, config, [p.resolve() for p in paths], follow=follow, discover=discover)
    sink = kafka_sink(settings, kind.source_name(config))
    await sink.start()
    try:
        return await source.run(sink, stop)
    finally:
        await sink.stop()


class ConnectorRun(BaseModel):
    """One connector in a `kanalpuls run` file."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Connector kind, e.g. asterisk_queue_log.")
    paths: list[str] = Field(
        default_factory=list,
        description="Files or glob patterns, read in sorted order; required for file kinds, none for imap_mailbox "
                    "and http_ingest.",
    )
    follow: bool = Field(default=True, description="Keep reading the last file as it grows and rotates.")
    config: dict[str, Any] = Field(default_factory=dict, description="The connector kind's own configuration.")

    @model_validator(mode="after")
    def _paths_fit_kind(self) -> ConnectorRun:
        try:
            kind = get_kind(self.kind)
        except UnknownConnector:
            return self  # run_many names the known kinds
        problem = kind.paths_problem(self.paths)
        if problem:
            raise ValueError(f"paths: {problem}")
        return self


class RunFile(BaseModel):
    """`kanalpuls run --config kanalpuls.yaml`: several connectors side by side."""

    model_config = ConfigDict(extra="forbid")

    connectors: list[ConnectorRun] = Field(min_length=1)


def load_run_file(path: Path) -> RunFile:
    try:
        return RunFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise IngestError(f"{path} is not YAML kanalpuls reads: {_why_unreadable(exc)}") from exc
    except yaml.YAMLError as exc:
        raise IngestError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        raise IngestError(f"{path}: {describe(exc)}") from exc


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files named or matched by the patterns, sorted, each once."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        try:
            matches = sorted(Path(p) for p in glob.glob(pattern)) if glob.has_magic(pattern) else [Path(pattern)]
            found.update((m, None) for m in matches if m.is_file())
        except OSError as exc:  # a name too long, a folder this user may not list
            raise IngestError(f"paths: {pattern[:200]!r} cannot be looked up ({exc.strerror})") from exc
    return list(found)


def _why_unreadable(exc: UnicodeDecodeError | RecursionError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 at byte {exc.start}"
    return "nested too deeply"


def _discover(patterns: list[str]) -> Callable[[], list[Path]]:
    return lambda: [p.resolve() for p in expand_paths(patterns)]


@dataclass(frozen=True)
class PlannedConnector:
    """One run-file entry, checked: its validated config and the files its patterns match now."""

    number: int
    entry: ConnectorRun
    kind: ConnectorKind
    config: ConnectorConfig
    files: list[Path]

    @property
    def watches_for_files(self) -> bool:
        """A followed file source: its patterns are looked at again for files that appear later."""
        return self.entry.follow and self.kind.traits.takes_paths

    @property
    def name(self) -> str:
        return self.kind.source_name(self.config)


def plan_runs(run_file: RunFile) -> list[PlannedConnector]:
    """Check every entry before any starts (`kanalpuls run --check` shows the result): each
    config validates, no two share a checkpoint file or a file, a source that listens is listed
    once, and an entry that is not followed matches at least one file."""
    planned: list[PlannedConnector] = []
    owners: dict[tuple[str, str], int] = {}
    readers: dict[Path, int] = {}
    kinds_seen: dict[str, int] = {}
    for number, entry in enumerate(run_file.connectors, start=1):
        kind = get_kind(entry.kind)
        try:
            config = kind.config_model.model_validate(entry.config)
        except ValidationError as exc:
            raise IngestError(f"connector {number} ({entry.kind}): {describe(exc)}") from exc
        if kind.traits.one_per_process and kind.name in kinds_seen:
            raise IngestError(f"connectors {kinds_seen[kind.name]} and {number} are both {kind.name}, which listens on "
                              "one address (KANALPULS_HTTP__HOST/PORT): list it once")
        kinds_seen.setdefault(kind.name, number)
        checkpoint = (kind.name, config.system)
        if checkpoint in owners:
            raise IngestError(
                f"connectors {owners[checkpoint]} and {number} are both {kind.name} with system "
                f"'{checkpoint[1]}' and would overwrite each other's checkpoints: give each its own config.system")
        owners[checkpoint] = number
        plan = PlannedConnector(number, entry, kind, config, expand_paths(entry.paths))
        for path in plan.files:
            reader = readers.setdefault(path.resolve(), number)
            if reader != number:
                raise IngestError(f"connectors {reader} and {number} both read {path}: every event of it would be "
                                  "counted twice (event ids include config.system); let one entry read it")
        if not plan.files and kind.traits.takes_paths and not entry.follow:
            raise IngestError(f"connector {number} ({entry.kind}): no file matches {entry.paths}")
        planned.append(plan)
    return planned


async def run_many(settings: Settings, run_file: RunFile, stop: asyncio.Event) -> list[ConnectorStats]:
    """Run every connector of the file until `stop` is set (or all have read to the end).

    A followed file entry re-expands its patterns while it runs, so tomorrow's export or a
    log created after the start is read too; one that matches nothing yet waits for its
    first file instead of failing, as a connector deployed before the first export must."""
    planned = plan_runs(run_file)
    for plan in planned:
        if plan.watches_for_files and not plan.files:
            logger.warning("connector %d (%s): no file matches %s yet; waiting for one", plan.number, plan.name,
                           plan.entry.paths)
    return list(await asyncio.gather(*(_run_one(settings, plan, stop) for plan in planned)))


async def _run_one(settings: Settings, plan: PlannedConnector, stop: asyncio.Event) -> ConnectorStats:
    """One run-file entry; whatever stops it is reported with its name and stops it alone."""
    try:
        return await run_ingest(settings, plan.entry.kind, plan.files, follow=plan.entry.follow, config=plan.config,
                                stop=stop, discover=_discover(plan.entry.paths) if plan.watches_for_files else None)
    except asyncio.CancelledError:
        raise
    except (KanalpulsError, OSError) as exc:
        logger.error("connector %d (%s) stopped: %s; the other connectors go on", plan.number, plan.name, exc)
        return ConnectorStats(error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a fault in one connector must not take the others down
        logger.exception("connector %d (%s) failed; the other connectors go on", plan.number, plan.name)
        return ConnectorStats(error=f"{type(exc).__name__}: {exc}")


def check_sources(settings: Settings, planned: list[PlannedConnector]) -> None:
    """Build every planned source without running it, as `run` would: a mapping file that does
    not load, a missing HTTP token or an IMAP config refused fails now, naming the entry."""
    for plan in planned:
        try:
            plan.kind.source(settings, plan.config, plan.files, follow=plan.entry.follow, checkpointed=False)
        except KanalpulsError as exc:
            raise IngestError(f"connector {plan.number} ({plan.name}): {exc}") from exc

"""Every error kanalpuls raises on purpose says by its class whether trying again can help,
and the CLI exits by that class: 75 (EX_TEMPFAIL) for transient, 2 for terminal."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
from pathlib import Path

import pytest

import connectors
import dashboards
import pipeline
from pipeline.ground.errors import KanalpulsError, TerminalError, TransientError
from pipeline.ground.settings import Settings
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment

# Bases that only group their subclasses; everything raised is one of those below them.
GROUPS = {"KanalpulsError", "TransientError", "TerminalError", "ConnectorError", "ImapError", "StoreError",
          "BrokerError"}


def _every_error() -> list[type[KanalpulsError]]:
    for package in (pipeline, connectors, dashboards):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    found: list[type[KanalpulsError]] = []
    todo = [KanalpulsError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_is_transient_or_terminal_and_never_both() -> None:
    errors = _every_error()
    assert len(errors) > 25  # the walk found the product's errors, not only the bases
    undecided = [cls.__qualname__ for cls in errors
                 if cls.__name__ not in GROUPS and not issubclass(cls, (TransientError, TerminalError))]
    both = [cls.__qualname__ for cls in errors if issubclass(cls, TransientError) and issubclass(cls, TerminalError)]
    assert undecided == [] and both == []


@pytest.mark.parametrize(("name", "transient"), [
    ("StoreUnavailable", True), ("ProduceFailed", True), ("Unconfirmed", True), ("ImapUnavailable", True),
    ("BrokerUnavailable", True), ("StoreQueryError", False), ("SteeringError", False), ("MappingError", False),
    ("IngestError", False), ("ImapLoginFailed", False), ("RecordRejected", False), ("KpiError", False),
])
def test_the_services_that_come_back_are_transient_and_what_must_be_changed_is_terminal(name: str,
                                                                                        transient: bool) -> None:
    cls = next(cls for cls in _every_error() if cls.__name__ == name)
    assert issubclass(cls, TransientError) is transient
    assert issubclass(cls, TerminalError) is not transient


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kanalpuls_command(*args), env=settings_environment(settings), capture_output=True,
                          text=True, timeout=120, cwd=settings.var_dir.parent)


def test_a_store_that_does_not_answer_exits_75_and_a_wrong_query_exits_2(tmp_path: Path) -> None:
    away = Settings(var_dir=tmp_path / "var").model_copy(deep=True)
    away.store.url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = _run(away, "query", "SELECT 1")
    assert done.returncode == 75, done.stderr
    assert "error:" in done.stderr and "Traceback" not in done.stderr

    embedded = Settings(var_dir=tmp_path / "var")
    assert _run(embedded, "store", "init").returncode == 0
    done = _run(embedded, "query", "DROP TABLE inquiry_events")
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_a_mapping_file_that_is_not_there_exits_2_naming_it(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("")
    settings = Settings(var_dir=tmp_path / "var").model_copy(deep=True)
    settings.connectors.mapping_file = tmp_path / "nowhere.yaml"
    done = _run(settings, "ingest", "asterisk_queue_log", str(log), "--dry-run")
    assert done.returncode == 2, done.stderr
    assert "nowhere.yaml" in done.stderr and "Traceback" not in done.stderr

"""Start and stop the worker as a child process, for the demo, the tests and the benchmarks.

The child gets its configuration the way any operator's process would: KANALPULS_*
variables derived from a Settings object.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, SecretStr

from pipeline.ground.errors import TransientError
from pipeline.ground.network import port_open
from pipeline.ground.settings import Settings

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.25) -> T:
    """The predicate's first truthy result; AssertionError naming `what` after `timeout` seconds
    (for the tests and benchmarks that wait on processes started here)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class WorkerStartFailed(TransientError):
    """The worker process exited or did not open its web port; its log says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every KANALPULS_* variable taken from `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANALPULS_")}

    def text(value: object) -> str:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        return "" if value is None else str(value)

    for name, value in settings:
        if isinstance(value, BaseModel):
            for field, inner in value:
                env[f"KANALPULS_{name.upper()}__{field.upper()}"] = text(inner)
        else:
            env[f"KANALPULS_{name.upper()}"] = text(value)
    return env


def kanalpuls_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def _group_alive(group: int) -> bool:
    """Whether any process of the group is still running (zombies waiting for init do not
    count: they hold no files and no locks)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; a process started in its own session takes its
    whole group along and is waited for until no member runs (`kanalpuls worker` runs the
    real worker as a child, which holds the store's lock until it is gone)."""
    try:  # before poll(): an exited child not yet reaped still names its group
        group: int | None = process.pid if os.getpgid(process.pid) == process.pid else None
    except ProcessLookupError:
        group = None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if group is None:
        return
    deadline = time.monotonic() + timeout
    while _group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(group):
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        wait_for(lambda: not _group_alive(group), 10.0, f"process group {group} to exit", every=0.05)


@contextmanager
def worker_process(settings: Settings, log_file: Path, start_timeout: float = 90.0) -> Iterator[subprocess.Popen[bytes]]:
    """A running `kanalpuls worker` whose web port answers; stopped on exit."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as log:
        process = subprocess.Popen(kanalpuls_command("worker"), env=settings_environment(settings),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + start_timeout
            while not port_open(settings.worker.web_host, settings.worker.web_port):
                if process.poll() is not None:
                    raise WorkerStartFailed(f"the worker exited with status {process.returncode}; see {log_file}")
                if time.monotonic() > deadline:
                    raise WorkerStartFailed(f"the worker did not start within {start_timeout:.0f}s; see {log_file}")
                time.sleep(0.1)
            yield process
        finally:
            stop_process(process)

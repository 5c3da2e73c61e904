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
from typing import TypeVar
from pathlib import Path

from pydantic import BaseModel, SecretStr

from pipeline.broker import port_open
from pipeline.settings import Settings


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


class WorkerStartFailed(Exception):
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


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.broker import port_open
from pipeline.settings import Settings


class WorkerStartFailed(Exception):
    """The worker process exited or did not open its web port; its log says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with KANALPULS_* replaced by `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANALPULS_")}
    env.update(
        KANALPULS_VAR_DIR=str(settings.var_dir),
        KANALPULS_MUNICIPALITY=settings.municipality,
        KANALPULS_KAFKA__BOOTSTRAP=settings.kafka.bootstrap or "",
        KANALPULS_KAFKA__EMBEDDED_PORT=str(settings.kafka.embedded_port),
        KANALPULS_KAFKA__PARTITIONS=str(settings.kafka.partitions),
        KANALPULS_STORE__URL=settings.store.url or "",
        KANALPULS_STORE__PATH=str(settings.store.path),
        KANALPULS_STORE__DATABASE=settings.store.database,
        KANALPULS_STORE__USER=settings.store.user,
        KANALPULS_STORE__PASSWORD=settings.store.password.get_secret_value(),
        KANALPULS_WORKER__APP_ID=settings.worker.app_id,
        KANALPULS_WORKER__WEB_PORT=str(settings.worker.web_port),
        KANALPULS_WORKER__DATA_DIR=str(settings.worker.data_dir),
        KANALPULS_WORKER__BATCH_MAX_MESSAGES=str(settings.worker.batch_max_messages),
        KANALPULS_WORKER__BATCH_WITHIN_SECONDS=str(settings.worker.batch_within_seconds),
        KANALPULS_CONNECTORS__BATCH_EVENTS=str(settings.connectors.batch_events),
        KANALPULS_CONNECTORS__LINGER_SECONDS=str(settings.connectors.linger_seconds),
        KANALPULS_CONNECTORS__CHECKPOINT_DIR=str(settings.connectors.checkpoint_dir),
        KANALPULS_CONNECTORS__MAPPING_FILE=str(settings.connectors.mapping_file),
        KANALPULS_PRIVACY__CONTACT_KEY_SECRET=settings.privacy.contact_key_secret.get_secret_value(),
    )
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

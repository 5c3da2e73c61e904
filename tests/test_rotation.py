"""Log rotation, both ways, while the connector follows the log and while it is killed.

A writer replays a simulated queue_log into a live file the connector follows, and rotates it
four times: rename-and-create while followed, rename + compress while the connector is
SIGKILLed, copytruncate while followed (with lines written just before the copy), and
copytruncate while killed. ClickHouse must then hold exactly the ground truth's phone events.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

from pipeline.demo.end_to_end import stored_inquiries, true_inquiries
from pipeline.ground.settings import Settings
from pipeline.simulated.municipality import simulate
from pipeline.store.client import run_query
from pipeline.worker.supervise import kanalpuls_command, settings_environment, stop_process, worker_process
from tests.waiting import wait_for

START = date(2026, 10, 19)  # Monday; the week before the autumn DST change
CHECKPOINT = "asterisk_queue_log-asterisk.json"




def complete_lines(logs: Path) -> list[bytes]:
    """Every newline-terminated queue_log line, oldest first (the simulator's cut-off last line is left out)."""
    data = b"".join(gzip.decompress(p.read_bytes()) for p in sorted(logs.glob("queue_log-*.gz")))
    data += (logs / "queue_log").read_bytes()
    return data[: data.rindex(b"\n") + 1].splitlines(keepends=True)


def phone_events(settings: Settings) -> int:
    db = settings.store.database
    return int(run_query(settings, f"SELECT count() FROM {db}.inquiry_events FINAL WHERE channel = 'phone'").scalar())


def test_rotation_both_ways_while_followed_and_while_killed_loses_and_repeats_nothing(
    topics: Settings, tmp_path: Path
) -> None:
    settings = topics.model_copy(update={"connectors": topics.connectors.model_copy(
        update={"batch_events": 50, "linger_seconds": 0.05, "poll_seconds": 0.1})})
    truth = simulate(tmp_path / "simulated", days=3, seed=5, start=START)
    lines = complete_lines(tmp_path / "simulated")
    chunks = [lines[len(lines) * k // 7: len(lines) * (k + 1) // 7] for k in range(7)]
    live = tmp_path / "live"
    live.mkdir()
    log = live / "queue_log"
    checkpoint = settings.connectors.checkpoint_dir / CHECKPOINT
    env = settings_environment(settings)

    def write(path: Path, chunk: list[bytes]) -> None:
        with open(path, "ab") as fh:
            fh.write(b"".join(chunk))

    def caught_up() -> bool:
        """The connector has acknowledged and checkpointed everything in the live file."""
        if not checkpoint.exists():
            return False
        saved = json.loads(checkpoint.read_text())["files"].get(str(log))
        return bool(saved) and saved["inode"] == log.stat().st_ino and saved["offset"] == log.stat().st_size

    def connector() -> subprocess.Popen[bytes]:
        return subprocess.Popen(kanalpuls_command("ingest", "asterisk_queue_log", str(log), "--follow"), env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / "connector.log", "ab"))

    with worker_process(settings, tmp_path / "worker.log"):
        write(log, chunks[0])
        follower = connector()
        wait_for(caught_up, 60, "the first chunk")

        # 1. Rename and create, while followed; the writer finishes a line in the old file first.
        log.rename(live / "queue_log.1")
        write(live / "queue_log.1", chunks[1][:10])
        write(log, chunks[1][10:])
        wait_for(caught_up, 60, "the file created by the rotation")

        # 2. Killed; meanwhile more lines, then rename + compress (logrotate `compress`) and a new file.
        os.kill(follower.pid, signal.SIGKILL)
        follower.wait()
        write(log, chunks[2])
        log.rename(live / "queue_log.2")
        with open(live / "queue_log.2", "rb") as src, gzip.open(live / "queue_log.2.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        (live / "queue_log.2").unlink()
        write(log, chunks[3])
        follower = connector()
        wait_for(caught_up, 60, "the rotated .gz to be finished and the new file read")

        # 3. copytruncate while followed, with lines written just before the copy.
        write(log, chunks[4])
        shutil.copyfile(log, live / "queue_log.3")
        os.truncate(log, 0)
        time.sleep(0.5)
        write(log, chunks[5][:5])
        wait_for(caught_up, 60, "the file after copytruncate")

        # 4. Killed; meanwhile more lines, then copytruncate, then the writer goes on past the old size.
        os.kill(follower.pid, signal.SIGKILL)
        follower.wait()
        write(log, chunks[5][5:])
        shutil.copyfile(log, live / "queue_log.4")
        os.truncate(log, 0)
        write(log, chunks[6])
        follower = connector()
        wait_for(caught_up, 60, "the copy to be finished and the live file read")

        expected = sum(truth.totals["phone"].model_dump().values())
        try:
            wait_for(lambda: phone_events(settings) >= expected, 120, f"{expected} phone events in ClickHouse")
        finally:
            stop_process(follower)
        db = settings.store.database
        stored_rows = int(run_query(settings, f"SELECT count() FROM {db}.inquiry_events WHERE channel = 'phone'").scalar())
        assert phone_events(settings) == expected
        assert stored_rows == expected, "an event was stored twice: the worker's deduplication let a repeat through"
        phone = {cell: n for cell, n in true_inquiries(truth).items() if cell[1] == "phone"}
        assert {cell: n for cell, n in stored_inquiries(settings).items() if cell[1] == "phone"} == phone

"""Simulated logs -> connectors -> Kafka -> worker -> ClickHouse, on real services.

One pipeline per test module run: the connector is SIGKILLed midway and restarted, every
file is then replayed from scratch, and ClickHouse must still equal ground truth; then
every topic and table is searched for the callers' phone numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from pipeline.demo.end_to_end import (
    phone_period,
    same,
    stored_inquiries,
    stored_phone_kpis,
    true_inquiries,
    true_phone_kpis,
)
from pipeline.ground.settings import Settings
from pipeline.ground.steering import load_steering
from pipeline.ingest import run_ingest
from pipeline.simulated.municipality import simulate
from pipeline.simulated.truth import GroundTruth
from pipeline.store.client import run_query
from pipeline.worker.supervise import kanalpuls_command, settings_environment, worker_process
from tests.personal_data import without_digests
from tests.topics import read_topic
from tests.waiting import wait_for

START = date(2026, 3, 23)  # Monday; the week of the spring DST change


def expected_events(truth: GroundTruth) -> int:
    return sum(sum(stage.model_dump().values()) for stage in truth.totals.values())


def stored_count(settings: Settings) -> int:
    db = settings.store.database
    return int(run_query(settings, f"SELECT count() FROM {db}.inquiry_events FINAL").scalar())




def worker_metric(settings: Settings, name: str) -> float:
    url = f"http://{settings.worker.web_host}:{settings.worker.web_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def list_topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return await consumer.topics()
    finally:
        await consumer.stop()


def digit_runs(text: str) -> set[str]:
    """Every maximal run of digits, with and without a leading +: where a number would hide
    (hex digests left out: an event id holds an 8-digit run by chance now and then)."""
    runs = set(re.findall(r"\+?\d+", without_digests(text)))
    return runs | {r.lstrip("+") for r in runs}


def queue_log_files(logs: Path) -> list[Path]:
    return sorted(logs.glob("queue_log-*.gz")) + [logs / "queue_log"]


@pytest.fixture
def simulated(tmp_path: Path) -> tuple[Path, GroundTruth]:
    logs = tmp_path / "logs"
    truth = simulate(logs, days=3, seed=7, start=START)
    # Written a minute ago: the connector treats an unterminated last line as complete (and
    # dead-letters the simulator's truncated one) only once the file has settled.
    for path in logs.iterdir():
        os.utime(path, (time.time() - 60, time.time() - 60))
    return logs, truth


def test_connector_killed_midway_and_full_replay_leave_clickhouse_equal_to_ground_truth(
    topics: Settings, simulated: tuple[Path, GroundTruth], tmp_path: Path
) -> None:
    # The worker evaluates the steering file's targets every second here (5 minutes by default).
    settings = topics.model_copy(update={"worker": topics.worker.model_copy(update={"targets_seconds": 1.0})})
    logs, truth = simulated
    expected = expected_events(truth)
    # Small batches: the connector checkpoints every few hundred events, so a kill lands between checkpoints.
    small = settings.model_copy(update={"connectors": settings.connectors.model_copy(
        update={"batch_events": 50, "linger_seconds": 0.05})})
    env = settings_environment(small)
    queue_logs = [str(p) for p in queue_log_files(logs)]
    checkpoint = settings.connectors.checkpoint_dir / "asterisk_queue_log-asterisk.json"

    with worker_process(settings, tmp_path / "worker.log"):
        # 1. SIGKILL the queue_log connector after its first checkpoint.
        connector = subprocess.Popen(kanalpuls_command("ingest", "asterisk_queue_log", *queue_logs), env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(checkpoint.exists, 60, "the connector's first checkpoint")
        os.kill(connector.pid, signal.SIGKILL)
        connector.wait()
        saved = json.loads(checkpoint.read_text())["files"]
        assert len(saved) < len(queue_logs) or any(
            pos["offset"] < os.path.getsize(name) for name, pos in saved.items()
        ), "the kill came after the connector had finished: nothing was tested"

        # 2. Restart it to completion, and load the walk-ins.
        rerun = subprocess.run(kanalpuls_command("ingest", "asterisk_queue_log", *queue_logs),
                               env=settings_environment(settings),
                               capture_output=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
        tickets = sorted(logs.glob("tickets-*.csv"))
        stats = asyncio.run(run_ingest(settings, "ticket_export", tickets))
        assert stats.rejected == truth.malformed["tickets"]

        wait_for(lambda: stored_count(settings) >= expected, 120, f"{expected} events in ClickHouse")
        assert stored_count(settings) == expected
        assert stored_inquiries(settings) == true_inquiries(truth)
        # Through the deployed kpi_phone view; only the PBX's calls were ingested here.
        kpis = stored_phone_kpis(settings, *phone_period(truth), truth.service_level_seconds)
        want = true_phone_kpis(truth, ("queue_log", "tickets"))
        assert set(kpis) == set(want) == {*(str(day) for day in truth.phone.by_day), "overall"}
        for scope in want:
            for name, value in want[scope].items():
                assert same(kpis[scope][name], value), (scope, name, kpis[scope][name], value)

        # 3. Replay every file from scratch: every event arrives again, nothing may change.
        duplicates_before = worker_metric(settings, "kanalpuls_worker_events_duplicate_total")
        replay = settings.model_copy(update={"connectors": settings.connectors.model_copy(
            update={"checkpoint_dir": tmp_path / "replay-checkpoints"})})
        asyncio.run(run_ingest(replay, "asterisk_queue_log", [Path(p) for p in queue_logs]))
        asyncio.run(run_ingest(replay, "ticket_export", tickets))
        wait_for(lambda: worker_metric(settings, "kanalpuls_worker_events_duplicate_total")
                 >= duplicates_before + expected, 120, "the worker to see the replayed events")
        assert stored_count(settings) == expected
        db = settings.store.database
        assert int(run_query(settings, f"SELECT count() FROM {db}.inquiry_events").scalar()) == expected
        assert stored_inquiries(settings) == true_inquiries(truth)

        # The boards' targets: every target of the steering file evaluated for today and stored.
        names = set(load_steering(settings.steering.file).targets)
        wait_for(lambda: {r[0] for r in run_query(settings, f"SELECT name FROM {db}.target_status FINAL").rows}
                 == names, 30, "target_status filled by the worker")

        # 4. Every malformed line is in the dead-letter topic with file, line and reason.
        letters = [json.loads(value) for _, value in
                   asyncio.run(read_topic(settings.kafka.bootstrap_servers, settings.kafka.dead_letter_topic))]
        located = {(Path(d["source"]["file"]).name, d["source"]["line"]) for d in letters}
        assert len(located) == truth.malformed["queue_log"] + truth.malformed["tickets"]
        assert all(d["reason"] for d in letters)
        reasons = " ".join(d["reason"] for d in letters)
        for expected_reason in ("invalid UTF-8", "timestamp", "expected at least 5"):
            assert expected_reason in reasons
        # ... and stored by the worker, so they outlive a memory-only broker.
        stored_letters = wait_for(lambda: {(Path(f).name, n) for f, n in run_query(
            settings, f"SELECT source_file, source_line FROM {db}.dead_letters FINAL").rows} or None, 30,
            "dead letters stored")
        assert stored_letters == located

        # 5. No caller number in any topic of this pipeline, nor in any table.
        numbers = set(truth.personal_data.phone_numbers)
        assert numbers, "the simulator wrote no caller numbers"
        dead_lettered = b"\n".join(value for _, value in asyncio.run(
            read_topic(settings.kafka.bootstrap_servers, settings.kafka.dead_letter_topic))).decode()
        assert "ENTERQUEUE" in dead_lettered and "Jens" not in dead_lettered  # the caller's name, too
        run_id = settings.worker.app_id.removeprefix("kanalpuls-")
        ours = [t for t in asyncio.run(list_topics(settings.kafka.bootstrap_servers)) if run_id in t]
        assert settings.kafka.inquiries_topic in ours and any("changelog" in t for t in ours)
        for topic in ours:
            blob = b"\n".join(key + b" " + value for key, value in
                               asyncio.run(read_topic(settings.kafka.bootstrap_servers, topic))).decode("utf-8", "replace")
            # Three days give the spike detector no baseline weeks, so no alert: the only topic allowed to stay empty.
            assert blob or topic == settings.kafka.alerts_topic, f"topic {topic} is empty"
            leaked = numbers & digit_runs(blob)
            assert not leaked, f"caller numbers in topic {topic}: {sorted(leaked)[:3]}"
        # Views only re-read the tables (and the parameterized ones cannot be read without arguments).
        tables = run_query(settings, f"SELECT name FROM system.tables WHERE database = '{db}' AND engine != 'View'").rows
        for (table,) in tables:
            rows = run_query(settings, f"SELECT * FROM {db}.`{table}`").rows
            text = "\n".join("\t".join(str(v) for v in row) for row in rows)
            leaked = numbers & digit_runs(text)
            assert not leaked, f"caller numbers in table {table}: {sorted(leaked)[:3]}"

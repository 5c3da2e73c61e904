"""Kill test: SIGKILL connectors, workers, the HTTP ingest and the embedded broker at random
points while a simulated municipality is replayed, then count what ClickHouse holds.

Run from the repository root (the script puts the root on sys.path itself):

    .venv/bin/python bench/soak.py                  # ~1,000,000 events, 20 kills of each, two workers
    .venv/bin/python bench/soak.py --days 14 --kills 3 --workers 1 --json   # what the test suite runs

What it does, all on embedded parts, all cleaned up on the way out:

1. Simulates `--days` of one municipality (pipeline/simulated/municipality.py: every file source, the
   HTTP events, ground truth).
2. Starts `kanalpuls broker` (which restarts the Tansu broker when it dies), `--workers`
   workers in one consumer group, `kanalpuls serve` (the HTTP ingest) and `kanalpuls run` on
   the simulator's run file (every file connector side by side). With more than one worker
   the store is `kanalpuls store serve` (one process owns chDB; workers reach it over loopback).
3. A poster sends the HTTP events in batches of 100 as a telephony system would: each batch
   again until it is answered 202 (a 503 or a dropped connection means "send it again").
4. Every 1-4 s (random, `--seed`) one victim gets SIGKILL: the connector run, a worker, the
   HTTP ingest, or the Tansu broker itself (its supervisor restarts it, empty). A killed
   process is started again at once; a worker that exits by itself is restarted too.
   When the run has read everything, its checkpoints are deleted and it replays every file
   from the start, so kills keep landing mid-replay (a replay must change no count).
5. After `--kills` kills of each victim, the last replay and the poster finish, and the
   workers catch up; then it compares ClickHouse with ground truth per table:
   inquiry_events (distinct event ids; rows beyond them), the inquiry_minute and
   inquiry_hour rollups (sums of events: a duplicate insert shows up here even after
   ReplacingMergeTree merged it away), and dead_letters (distinct letters).

It prints lost and double-counted per table and exits 1 if any is not 0. It asserts no
timing; the figures it prints are measured in the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ground.settings import (  # noqa: E402
    ConnectorSettings,
    HttpSettings,
    KafkaSettings,
    PrivacySettings,
    Settings,
    StoreSettings,
    WorkerSettings,
)
from pipeline.simulated.municipality import simulate  # noqa: E402
from pipeline.simulated.truth import GroundTruth  # noqa: E402
from pipeline.store.client import run_query  # noqa: E402
from pipeline.worker.broker import port_open  # noqa: E402
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment, wait_for  # noqa: E402

FILE_SOURCES = ("queue_log", "tickets", "exchange", "web_combined", "web_json", "channel_csv", "channel_jsonl")
TOKEN = "soak-token-for-the-harness"


@dataclass
class Child:
    """One kanalpuls process the harness keeps alive (and kills)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "ab") as log:
            log.write(f"\n--- start {self.starts} at {time.strftime('%H:%M:%S')} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=ROOT, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Poster:
    """Sends the simulator's HTTP events in batches until each is answered 202 (or 422)."""

    url: str
    batches: list[bytes]
    accepted: int = 0
    refused: int = 0
    retries: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        for body in self.batches:
            while True:
                status = self._post(body)
                if status == 202:
                    self.accepted += body.count(b"\n") + 1
                    break
                if status == 422:
                    self.refused += 1
                    break
                self.retries += 1
                time.sleep(0.5)
        self.done.set()

    def _post(self, body: bytes) -> int:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0


def expected_counts(truth: GroundTruth) -> dict[str, int]:
    sources = [*FILE_SOURCES, "http"]
    return {
        "events": sum(truth.sources[s].events for s in sources),
        "dead_letters": sum(truth.sources[s].rejected for s in FILE_SOURCES),
    }


def stored_counts(settings: Settings) -> dict[str, int]:
    db = settings.store.database
    row = run_query(settings, f"""
        SELECT (SELECT uniqExact(event_id) FROM {db}.inquiry_events),
               (SELECT count() FROM {db}.inquiry_events),
               (SELECT sum(events) FROM {db}.inquiry_minute),
               (SELECT sum(events) FROM {db}.inquiry_hour),
               (SELECT uniqExact(letter_id) FROM {db}.dead_letters)""").rows[0]
    return dict(zip(("distinct", "rows", "minute", "hour", "letters"), (int(v or 0) for v in row)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=165, help="simulated days (165: over a million events)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of each victim")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2), help="workers in the consumer group")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--every", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"),
                        help="seconds between kills, drawn uniformly")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kanalpuls-soak-"))
    children: list[Child] = []
    started = time.monotonic()
    try:
        logs = work / "logs"
        truth = simulate(logs, days=args.days, seed=args.seed, start=date(2026, 1, 5), municipality="751")
        expected = expected_counts(truth)
        say(args, f"simulated {args.days} days: {expected['events']:,} events, {expected['dead_letters']} "
                  f"malformed records ({time.monotonic() - started:.0f} s) in {work}")
        port, web_ports = free_port(), [free_port() for _ in range(args.workers)]
        store_port = free_port()
        base = Settings(
            var_dir=work / "var",
            kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", embedded_port=port),
            store=StoreSettings(path=work / "var" / "chdb",
                                url=f"kanalpuls://127.0.0.1:{store_port}" if args.workers > 1 else None),
            worker=WorkerSettings(app_id="kanalpuls-soak", web_port=web_ports[0], data_dir=work / "var" / "worker-0",
                                  session_timeout_seconds=6),
            connectors=ConnectorSettings(checkpoint_dir=work / "var" / "checkpoints", confirm_seconds=10),
            privacy=PrivacySettings(contact_key_secret="soak-secret-for-the-harness"),
            http=HttpSettings(token=TOKEN, port=free_port(), confirm_seconds=10),
        )
        env = settings_environment(base)
        broker_env = {k: v for k, v in env.items() if k != "KANALPULS_KAFKA__BOOTSTRAP"}
        broker = Child("broker", kanalpuls_command("broker"), broker_env, work / "broker.log")
        children.append(broker)
        if args.workers > 1:
            store = Child("store", kanalpuls_command("store", "serve", "--port", str(store_port)), env,
                          work / "store.log")
            children.append(store)
        workers = []
        for n, web_port in enumerate(web_ports):
            worker_env = dict(env, KANALPULS_WORKER__WEB_PORT=str(web_port),
                              KANALPULS_WORKER__DATA_DIR=str(work / "var" / f"worker-{n}"))
            workers.append(Child(f"worker-{n}", kanalpuls_command("worker"), worker_env, work / f"worker-{n}.log"))
        children.extend(workers)
        connectors = Child("connectors", kanalpuls_command("run", "--config", str(logs / "connectors.yaml")), env,
                           work / "connectors.log")
        http = Child("http", kanalpuls_command("serve"), env, work / "http.log")
        children.extend([connectors, http])

        broker.start()
        wait_for(lambda: port_open("127.0.0.1", port), 30, "the broker")
        if args.workers > 1:
            store.start()
            wait_for(lambda: port_open("127.0.0.1", store_port), 60, "the store")
        for worker in workers:
            worker.start()
        wait_for(lambda: port_open("127.0.0.1", web_ports[0]), 90, "the first worker")
        http.start()
        wait_for(lambda: port_open("127.0.0.1", base.http.port), 30, "the HTTP ingest")
        connectors.start()
        lines = (logs / "http_events.ndjson").read_bytes().splitlines()
        invalid = (logs / "http_events_invalid.ndjson").read_bytes().splitlines()
        poster = Poster(f"http://127.0.0.1:{base.http.port}/v1/events",
                        [b"\n".join(lines[i:i + 100]) for i in range(0, len(lines), 100)] + invalid)
        threading.Thread(target=poster.run, daemon=True).start()

        victims = {"connectors": [connectors], "worker": workers, "http": [http], "broker": [broker]}
        kills: Counter[str] = Counter()
        replays = 0
        next_kill = time.monotonic() + rng.uniform(*args.every)
        while min(kills[v] for v in victims) < args.kills:
            time.sleep(0.2)
            replays += keep_alive(children, connectors, base)
            if time.monotonic() < next_kill:
                continue
            victim = rng.choice([v for v in victims if kills[v] < args.kills])
            target = rng.choice(victims[victim])
            if victim == "broker":
                tansu = children_of(broker.process.pid) if broker.alive() else []
                for pid in tansu:
                    os.kill(pid, signal.SIGKILL)
            else:
                target.kill()
                target.start()
            kills[victim] += 1
            say(args, f"{time.monotonic() - started:6.0f} s  killed {target.name:10}  "
                      f"({', '.join(f'{v} {kills[v]}' for v in victims)})")
            next_kill = time.monotonic() + rng.uniform(*args.every)

        say(args, "kills done; letting the last replay, the poster and the workers finish")
        wait_for(lambda: (keep_alive(children, connectors, base, replay=False) >= 0
                            and connectors.process.poll() == 0 and poster.done.is_set()), 1800,
                   "the connectors and the poster to finish")
        final = wait_for(lambda: settled(base, expected), 600, "the workers to store everything")
        took = time.monotonic() - started
        result = compare(expected, final)
        result.update({"kills": dict(kills), "replays": replays, "seconds": round(took),
                       "http_accepted": poster.accepted, "http_retries": poster.retries,
                       "broker_starts": broker_restarts(work / "broker.log"),
                       "worker_starts": sum(w.starts for w in workers)})
        if args.json:
            print(json.dumps(result))
        else:
            show(result)
        return 0 if all(v == 0 for t in result["tables"].values() for v in t.values()) else 1
    finally:
        for child in reversed(children):
            child.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def keep_alive(children: list[Child], connectors: Child, settings: Settings, replay: bool = True) -> int:
    """Restart what died by itself; start a full replay once the run has read everything. 1 if a replay began."""
    began = 0
    for child in children:
        if child.alive() or child.process is None:
            continue
        if child is connectors and child.process.returncode == 0:
            if not replay:
                continue
            shutil.rmtree(settings.connectors.checkpoint_dir, ignore_errors=True)  # replay every file
            began = 1
        child.start()
    return began


def settled(settings: Settings, expected: dict[str, int]) -> dict[str, int] | None:
    """The store's counts once the events are all there and nothing moved for 10 s."""
    try:
        first = stored_counts(settings)
    except Exception:  # noqa: BLE001 - a worker restarting: ask again
        return None
    if first["distinct"] < expected["events"] or first["letters"] < expected["dead_letters"]:
        return None
    time.sleep(10)
    second = stored_counts(settings)
    return second if second == first else None


def compare(expected: dict[str, int], stored: dict[str, int]) -> dict:
    events = expected["events"]
    return {
        "expected_events": events,
        "tables": {
            "inquiry_events": {"lost": max(events - stored["distinct"], 0),
                               "double": stored["rows"] - stored["distinct"],
                               "unexpected": max(stored["distinct"] - events, 0)},
            "inquiry_minute": {"lost": max(events - stored["minute"], 0), "double": max(stored["minute"] - events, 0)},
            "inquiry_hour": {"lost": max(events - stored["hour"], 0), "double": max(stored["hour"] - events, 0)},
            "dead_letters": {"lost": max(expected["dead_letters"] - stored["letters"], 0),
                             "double": max(stored["letters"] - expected["dead_letters"], 0)},
        },
    }


def broker_restarts(log: Path) -> int:
    return log.read_text(errors="replace").count("the embedded broker died (") if log.exists() else 0


def show(result: dict) -> None:
    print(f"\n{result['expected_events']:,} events expected; kills: "
          + ", ".join(f"{k} {v}" for k, v in result["kills"].items())
          + f"; {result['replays']} full replays; the broker died {result['broker_starts']} times; "
          f"{result['http_retries']} HTTP batches sent again; {result['seconds']} s")
    print(f"{'table':16} {'lost':>6} {'double':>7}")
    for table, counts in result["tables"].items():
        print(f"{table:16} {counts['lost']:>6} {counts['double']:>7}"
              + (f"  unexpected {counts['unexpected']}" if counts.get("unexpected") else ""))


def say(args: argparse.Namespace, message: str) -> None:
    print(message, file=sys.stderr if args.json else sys.stdout, flush=True)


if __name__ == "__main__":
    sys.exit(main())

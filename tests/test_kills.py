"""The kill test, bounded for the suite: bench/soak.py on a simulated week with two workers
sharing the embedded store, each of connectors, workers, HTTP ingest and broker SIGKILLed
three times at random points; ClickHouse must hold every event and dead letter once.
bench/soak.py with its defaults is the long run (about a million events, 20 kills of each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kills_of_every_process_lose_nothing_and_count_nothing_twice() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--days", "7", "--kills", "3", "--workers", "2",
         "--every", "2", "5", "--seed", "11", "--json"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(count >= 3 for count in result["kills"].values()), result
    assert set(result["kills"]) == {"connectors", "worker", "http", "broker"}
    assert result["broker_starts"] >= 3  # the broker really died and was restarted, empty
    for table, counts in result["tables"].items():
        assert counts == {name: 0 for name in counts}, (table, result)
    assert result["http_accepted"] > 0
    assert done.returncode == 0

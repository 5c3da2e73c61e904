"""`kanalpuls demo` is the README's first command: it must agree with ground truth and clean up."""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

from rich.console import Console

from pipeline.demo.end_to_end import demo_settings, run_demo
from pipeline.ground.network import port_open
from pipeline.ground.settings import Settings


def child_processes() -> list[str]:
    """Command lines of this process's live children (zombies excluded)."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_demo_counts_equal_ground_truth_and_every_process_is_stopped(tmp_path: Path) -> None:
    base = Settings(var_dir=tmp_path / "var")
    out = io.StringIO()
    before = set(child_processes())  # e.g. the session's broker fixture
    # Two weeks of history and a Monday-to-Friday live week: enough for the spike to page (two baseline
    # weeks), and for a settled week of first-contact resolution.
    status = run_demo(base, days=5, seed=3, start=date(2026, 3, 23), console=Console(file=out, width=200),
                      history_weeks=2)
    text = out.getvalue()
    assert status == 0, text
    assert "every count matches ground truth" in text
    for shown in ("Walk-in spike alert", "fired at", "resolved", "Channel shift", "Realised gain",
                  "First-contact resolution", "Targets on"):
        assert shown in text, shown
    assert "✗" not in text
    assert "ClickHouse holds" in text
    assert not [c for c in set(child_processes()) - before if "tansu" in c or "pipeline.cli worker" in c]


def test_demo_settings_ignore_a_configured_broker_and_server(tmp_path: Path) -> None:
    base = Settings(var_dir=tmp_path / "var").model_copy()
    base = base.model_copy(update={
        "kafka": base.kafka.model_copy(update={"bootstrap": "kafka.example:9092"}),
        "store": base.store.model_copy(update={"url": "http://clickhouse.example:8123"}),
    })
    settings = demo_settings(base)
    assert settings.kafka.bootstrap is None and settings.store.url is None
    assert settings.store.path == tmp_path / "var" / "demo" / "chdb"
    assert not port_open("127.0.0.1", settings.kafka.embedded_port)

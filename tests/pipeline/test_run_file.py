"""`kanalpuls run --config`: several connectors from one file, against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import date
from pathlib import Path

import pytest

from pipeline.ingest import IngestError, RunFile, load_run_file, run_many
from pipeline.settings import Settings
from pipeline.simulator import simulate
from tests.topics import read_topic


def test_run_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "kanalpuls.yaml"
    bad.write_text("connectors:\n  - kind: asterisk_queue_log\n    pathz: [x]\n")
    with pytest.raises(IngestError, match="kanalpuls.yaml") as caught:
        load_run_file(bad)
    assert "pathz" in str(caught.value)


def test_a_pattern_matching_no_file_is_an_error(topics: Settings, tmp_path: Path) -> None:
    run_file = RunFile.model_validate({"connectors": [{"kind": "ticket_export", "paths": [str(tmp_path / "*.csv")]}]})
    with pytest.raises(IngestError, match="no file matches"):
        asyncio.run(run_many(topics, run_file, asyncio.Event()))


def test_both_connectors_run_side_by_side_and_every_event_reaches_the_topic(topics: Settings, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    truth = simulate(logs, days=1, seed=11, start=date(2026, 3, 24))
    for path in logs.iterdir():  # settled files: their unterminated last lines count as complete
        os.utime(path, (time.time() - 60, time.time() - 60))
    config = tmp_path / "kanalpuls.yaml"
    config.write_text(json.dumps({"connectors": [
        {"kind": "asterisk_queue_log", "paths": [str(logs / "queue_log")], "follow": False,
         "config": {"system": "pbx1"}},
        {"kind": "ticket_export", "paths": [str(logs / "tickets-*.csv")], "follow": False},
    ]}))  # JSON is YAML
    phone, walk_in = asyncio.run(run_many(topics, load_run_file(config), asyncio.Event()))
    expected = {channel: sum(t.model_dump().values()) for channel, t in truth.totals.items()}
    assert (phone.events, walk_in.events) == (expected["phone"], expected["walk_in"])
    values = asyncio.run(read_topic(topics.kafka.bootstrap_servers, topics.kafka.inquiries_topic))
    events = [json.loads(line) for _, value in values for line in value.split(b"\n")]
    assert len(events) == expected["phone"] + expected["walk_in"]
    assert {e["source"]["system"] for e in events if e["channel"] == "phone"} == {"pbx1"}

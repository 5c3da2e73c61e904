"""`kanalpuls run --config`: several connectors from one file, against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import date
from pathlib import Path

import pytest

from pipeline.ground.settings import Settings
from pipeline.ingest import IngestError, RunFile, check_sources, load_run_file, plan_runs, run_many
from pipeline.simulated.municipality import simulate
from tests.topics import read_topic


def test_run_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "kanalpuls.yaml"
    bad.write_text("connectors:\n  - kind: asterisk_queue_log\n    pathz: [x]\n")
    with pytest.raises(IngestError, match="kanalpuls.yaml") as caught:
        load_run_file(bad)
    assert "pathz" in str(caught.value)


def test_a_pattern_matching_no_file_is_an_error_when_not_followed(no_worker: Settings, tmp_path: Path) -> None:
    run_file = RunFile.model_validate(
        {"connectors": [{"kind": "ticket_export", "paths": [str(tmp_path / "*.csv")], "follow": False}]})
    with pytest.raises(IngestError, match="no file matches"):
        asyncio.run(run_many(no_worker, run_file, asyncio.Event()))


def test_two_connectors_sharing_a_checkpoint_file_are_refused(no_worker: Settings, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n")
    entry = {"kind": "channel_export", "paths": [str(tmp_path / "a.csv")], "follow": False}
    run_file = RunFile.model_validate({"connectors": [entry, entry]})
    with pytest.raises(IngestError, match="connectors 1 and 2 .* config.system"):
        asyncio.run(run_many(no_worker, run_file, asyncio.Event()))


def _read_to_the_end(checkpoint: Path, folder: Path) -> bool:
    """Whether the connector checkpointed (so the broker acknowledged) every file in `folder` to its end."""
    if not checkpoint.exists():
        return False
    saved = json.loads(checkpoint.read_text())["files"]
    return all(saved.get(str(path), {}).get("offset") == path.stat().st_size for path in folder.iterdir())


def test_a_followed_pattern_waits_for_its_first_file_and_moves_on_to_later_ones(
        no_worker: Settings, tmp_path: Path) -> None:
    """A connector deployed before the first export exists, then tomorrow's export appears."""
    logs = tmp_path / "logs"
    simulate(logs, days=2, seed=12, start=date(2026, 3, 24))
    exports = sorted(logs.glob("tickets-*.csv"))
    assert len(exports) == 2
    drop = tmp_path / "drop"
    drop.mkdir()
    run_file = RunFile.model_validate({"connectors": [{"kind": "ticket_export", "paths": [str(drop / "tickets-*.csv")],
                                                      "follow": True, "config": {"system": "qmatic-test"}}]})
    settings = no_worker
    expected = sum(len(path.read_text().splitlines()) for path in exports)  # the header is a record too

    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(run_many(settings, run_file, stop))
        for export in exports:  # one export a "day", each after the connector started
            await asyncio.sleep(3)
            target = drop / export.name
            target.write_bytes(export.read_bytes())
        checkpoint = settings.connectors.checkpoint_dir / "ticket_export-qmatic-test.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _read_to_the_end(checkpoint, drop):
            await asyncio.sleep(0.5)
        stop.set()
        (stats,) = await task
        return stats.files, stats.records

    files, records = asyncio.run(scenario())
    assert (files, records) == (2, expected)


def test_both_connectors_run_side_by_side_and_every_event_reaches_the_topic(no_worker: Settings, tmp_path: Path) -> None:
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
    phone, walk_in = asyncio.run(run_many(no_worker, load_run_file(config), asyncio.Event()))
    expected = {channel: sum(t.model_dump().values()) for channel, t in truth.totals.items()}
    assert (phone.events, walk_in.events) == (expected["phone"], expected["walk_in"])
    values = asyncio.run(read_topic(no_worker.kafka.bootstrap_servers, no_worker.kafka.inquiries_topic))
    events = [json.loads(line) for _, value in values for line in value.split(b"\n")]
    assert len(events) == expected["phone"] + expected["walk_in"]
    assert {e["source"]["system"] for e in events if e["channel"] == "phone"} == {"pbx1"}


def test_the_shipped_run_file_is_valid() -> None:
    """deploy/connectors/kanalpuls.yaml is what docker compose's connector service runs."""
    planned = plan_runs(load_run_file(Path(__file__).parents[2] / "deploy" / "connectors" / "kanalpuls.yaml"))
    assert {plan.entry.kind for plan in planned} >= {"asterisk_queue_log", "ticket_export", "exchange_tracking",
                                                     "web_access_log", "channel_export"}
    assert all(plan.watches_for_files for plan in planned)


def test_a_bad_config_is_named_without_quoting_its_values() -> None:
    """A password typed under a misspelt key must not end up on the operator's terminal or in logs."""
    run_file = RunFile.model_validate({"connectors": [
        {"kind": "imap_mailbox", "config": {"host": "imap.kommune.dk", "passwrd": "hunter2-secret"}}]})
    with pytest.raises(IngestError) as caught:
        plan_runs(run_file)
    assert "connector 1 (imap_mailbox)" in str(caught.value) and "passwrd" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_two_entries_reading_the_same_file_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("")
    run_file = RunFile.model_validate({"connectors": [
        {"kind": "asterisk_queue_log", "paths": [str(log)], "follow": False, "config": {"system": "pbx1"}},
        {"kind": "asterisk_queue_log", "paths": [str(tmp_path / "queue_*")], "follow": False,
         "config": {"system": "pbx2"}},
    ]})
    with pytest.raises(IngestError, match="both read .*counted twice"):
        plan_runs(run_file)


@pytest.mark.parametrize(("content", "said"), [
    (b"connectors: \xff\n", "not UTF-8 at byte 12"),
    (b"connectors: " + b"[" * 20000 + b"\n", "nested too deeply"),
    (b"connectors:\n  - kind: asterisk_queue_log\n    paths: ['/" + b"a" * 5000 + b"']\n", "cannot be looked up"),
    (b"connectors:\n  - kind: http_ingest\n  - kind: http\n    config: {system: other}\n", "list it once"),
])
def test_a_run_file_that_cannot_work_is_an_error_naming_why(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=said):
        plan_runs(load_run_file(path))


def test_check_builds_every_source_so_a_missing_http_token_is_found_before_the_run(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("connectors:\n  - kind: http_ingest\n")
    with pytest.raises(IngestError, match="connector 1 .http_ingest/http_ingest.: set KANALPULS_HTTP__TOKEN"):
        check_sources(Settings(var_dir=tmp_path / "var"), plan_runs(load_run_file(path)))

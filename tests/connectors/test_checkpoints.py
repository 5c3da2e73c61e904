"""A checkpoint file that is damaged, or cannot be written, is one terminal error naming the
file (exit 2 from the CLI), found before any broker is contacted; never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from connectors.checkpoints import CheckpointFileError, Checkpoints
from connectors.imap_source import ImapCheckpoints
from pipeline.ground.settings import Settings
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment

LINE = "1709539920|1709539920.1|pas|NONE|ENTERQUEUE||+4512345678|1\n"


@pytest.mark.parametrize("position", [
    {"inode": 1, "offset": -5, "line": 0}, {"inode": 1, "offset": "y", "line": 0}, {"inode": 1, "offset": None, "line": 0},
    {"inode": 1, "offset": 1.5, "line": 0}, {"inode": 1, "offset": 0}, {"inode": 1, "offset": 0, "line": 0, "x": 1},
    {"inode": 1, "offset": 0, "line": 0, "fingerprint": 7}, {"inode": True, "offset": 0, "line": 0}, [1, 2, 3],
])
def test_a_file_position_of_the_wrong_shape_is_refused_naming_the_file(tmp_path: Path, position: object) -> None:
    path = tmp_path / "asterisk_queue_log-asterisk.json"
    path.write_text(json.dumps({"files": {"/var/log/asterisk/queue_log": position}}))
    with pytest.raises(CheckpointFileError, match=str(path)):
        Checkpoints(path)


@pytest.mark.parametrize("text", ["not json", "[]", '"x"', "null", '{"folders": 5}', '{"folders": {"k": [1]}}',
                                  '{"folders": {"k": {"uidvalidity": 1, "last_uid": "x"}}}'])
def test_a_damaged_imap_checkpoint_file_is_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "imap_mailbox-imap.json"
    path.write_text(text)
    with pytest.raises(CheckpointFileError, match=str(path)):
        ImapCheckpoints(path)


def _ingest(tmp_path: Path, checkpoint_dir: Path) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "queue_log"
    log.write_text(LINE)
    settings = Settings(var_dir=tmp_path / "var").model_copy(deep=True)
    settings.connectors.checkpoint_dir = checkpoint_dir
    settings.kafka.embedded_port = free_port()  # no broker there: a damaged file must be said first
    settings.privacy.contact_key_secret = settings.privacy.contact_key_secret.__class__("a-test-secret-of-some-length")
    return subprocess.run(kanalpuls_command("ingest", "asterisk_queue_log", str(log)), env=settings_environment(settings),
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_the_cli_says_a_damaged_checkpoint_file_before_it_looks_for_a_broker(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "asterisk_queue_log-asterisk.json").write_text('{"files": {"x": {"inode": 1, "offset": -5}}}')
    done = _ingest(tmp_path, checkpoints)
    assert done.returncode == 2, done.stderr
    assert "asterisk_queue_log-asterisk.json is unreadable" in done.stderr and "Traceback" not in done.stderr


def test_a_checkpoint_directory_that_cannot_be_made_is_a_terminal_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    checkpoints = Checkpoints(tmp_path / "afile" / "sub" / "asterisk_queue_log-asterisk.json")
    log = tmp_path / "queue_log"
    log.write_text(LINE)
    with pytest.raises(CheckpointFileError, match="KANALPULS_CONNECTORS__CHECKPOINT_DIR"):
        checkpoints.save(log, checkpoints.start(log))

"""`kanalpuls ingest` wiring (pipeline/ingest.py): a connector run by the runner keys
requesters with the secret the settings configure, not with any other."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.ground.settings import DEMO_SECRET, ConnectorSettings, PrivacySettings, Settings
from pipeline.ingest import run_ingest

# One call from +45 12 34 56 78: the connector normalises the caller id to 12345678.
QUEUE_LOG = "1709543520|1709543520.101|pas|NONE|ENTERQUEUE||+4512345678|1\n"
NORMALISED_CALLER = b"12345678"


def settings_with_secret(secret: str, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var",
                    connectors=ConnectorSettings(checkpoint_dir=tmp_path / "var" / "checkpoints"),
                    privacy=PrivacySettings(contact_key_secret=SecretStr(secret)))


def emitted_contact_keys(secret: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str | None]:
    log = tmp_path / "queue_log"
    log.write_text(QUEUE_LOG, encoding="utf-8")
    stats = asyncio.run(run_ingest(settings_with_secret(secret, tmp_path), "asterisk_queue_log", [log],
                                   dry_run=True))
    assert stats.events == 1
    return [json.loads(line)["contact_key"] for line in capsys.readouterr().out.splitlines()]


def test_a_run_connector_keys_the_caller_with_the_configured_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = {}
    for secret in ("the-municipality's-own-secret", "another-secret-entirely"):
        (tmp_path / secret).mkdir()
        keys[secret] = emitted_contact_keys(secret, tmp_path / secret, capsys)
        assert keys[secret] == [hmac.new(secret.encode(), NORMALISED_CALLER, hashlib.sha256).hexdigest()], secret
    assert len({key for found in keys.values() for key in found}) == 2  # the secret, not the number alone, decides
    demo = hmac.new(DEMO_SECRET.encode(), NORMALISED_CALLER, hashlib.sha256).hexdigest()
    assert demo not in [key for found in keys.values() for key in found]

"""The one settings object: demo defaults with no configuration, env overrides, secrets hidden."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from pipeline.ground.settings import DEMO_SECRET, KafkaSettings, Settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No KANALPULS_* variables and a working directory without a .env file."""
    for name in list(os.environ):
        if name.upper().startswith("KANALPULS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_run_the_embedded_demo_without_configuration(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.store.url is None and settings.var_dir == Path("var")
    assert settings.kafka.bootstrap is None
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert (settings.kafka.inquiries_topic, settings.kafka.dead_letter_topic) == ("inquiries", "inquiries.dlq")
    assert settings.embedded_store and settings.store.url is None
    assert settings.store.path == Path("var/chdb")
    assert settings.worker.data_dir == Path("var/worker")
    assert settings.connectors.checkpoint_dir == Path("var/checkpoints")
    assert settings.connectors.mapping_file == REPO / "deploy" / "mapping.yaml"
    assert settings.connectors.mapping_file.is_file()
    assert settings.privacy.contact_key_secret.get_secret_value() == DEMO_SECRET


def test_nested_env_override_wins(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KANALPULS_KAFKA__BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    clean_env.setenv("KANALPULS_KAFKA__PARTITIONS", "12")
    clean_env.setenv("KANALPULS_STORE__URL", "http://clickhouse:8123")
    settings = Settings()
    assert settings.kafka.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.kafka.partitions == 12
    assert settings.kafka.inquiries_topic == "inquiries"  # the rest of the section keeps its defaults
    assert not settings.embedded_store


def test_dotenv_file_in_the_working_directory_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KANALPULS_KAFKA__EMBEDDED_PORT=29092\n", encoding="utf-8")
    assert Settings().kafka.bootstrap_servers == "127.0.0.1:29092"


def test_environment_beats_dotenv(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KANALPULS_LOG_FORMAT=console\n", encoding="utf-8")
    clean_env.setenv("KANALPULS_LOG_FORMAT", "json")
    assert Settings().log_format == "json"


def test_dotenv_is_read_and_may_hold_docker_compose_keys(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CLICKHOUSE_PASSWORD=x\nKANALPULS_LOG_FORMAT=json\n", encoding="utf-8")
    assert Settings().log_format == "json"


def test_unknown_key_inside_a_section_is_rejected(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KANALPULS_KAFKA__NOPE", "1")
    with pytest.raises(ValidationError) as info:
        Settings()
    errors = info.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("kafka", "nope"), "extra_forbidden")]


def test_invalid_value_is_rejected_with_its_field(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KANALPULS_KAFKA__PARTITIONS", "0")
    with pytest.raises(ValidationError, match="partitions"):
        Settings()
    clean_env.setenv("KANALPULS_KAFKA__PARTITIONS", "6")
    clean_env.setenv("KANALPULS_STORE__DATABASE", "kanal-puls")
    with pytest.raises(ValidationError, match="database"):
        Settings()


def test_secrets_never_print(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KANALPULS_PRIVACY__CONTACT_KEY_SECRET", "s3cret-hmac-key")
    clean_env.setenv("KANALPULS_STORE__PASSWORD", "clickhouse-pa55word")
    settings = Settings()
    assert settings.privacy.contact_key_secret.get_secret_value() == "s3cret-hmac-key"
    assert settings.store.password.get_secret_value() == "clickhouse-pa55word"
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.privacy)):
        assert "s3cret-hmac-key" not in text
        assert "clickhouse-pa55word" not in text
    assert isinstance(settings.privacy.contact_key_secret, SecretStr)


def test_var_dir_moves_the_default_state_paths(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("KANALPULS_VAR_DIR", str(tmp_path / "state"))
    settings = Settings()
    assert settings.store.path == tmp_path / "state" / "chdb"
    assert settings.worker.data_dir == tmp_path / "state" / "worker"
    assert settings.connectors.checkpoint_dir == tmp_path / "state" / "checkpoints"


def test_var_dir_leaves_explicitly_set_paths_alone(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("KANALPULS_VAR_DIR", str(tmp_path / "state"))
    clean_env.setenv("KANALPULS_STORE__PATH", str(tmp_path / "fast-disk" / "chdb"))
    settings = Settings()
    assert settings.store.path == tmp_path / "fast-disk" / "chdb"
    assert settings.worker.data_dir == tmp_path / "state" / "worker"


def test_var_dir_of_one_settings_object_does_not_leak_into_the_next(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    moved = Settings(var_dir=tmp_path / "elsewhere")
    assert moved.store.path == tmp_path / "elsewhere" / "chdb"
    assert Settings().store.path == Path("var/chdb")
    assert KafkaSettings().bootstrap_servers == "127.0.0.1:19092"

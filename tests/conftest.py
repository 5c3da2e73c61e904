"""The one place where test services start.

Each service is chosen in this order: an address given in the environment
(KANALPULS_KAFKA__BOOTSTRAP, KANALPULS_STORE__URL — read through Settings like any
kanalpuls process), else a container through testcontainers when a Docker engine
answers, else the embedded part (Tansu broker binary, chDB on disk).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.broker import EmbeddedBroker, ensure_topics, required_topics
from pydantic import SecretStr

from pipeline.settings import (
    ConnectorSettings, KafkaSettings, PrivacySettings, Settings, StoreSettings, WorkerSettings,
)
from pipeline.supervise import free_port


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "not here"
        return False


@dataclass(frozen=True)
class KafkaService:
    bootstrap: str
    kind: str  # "environment", "container" or "embedded"


@dataclass(frozen=True)
class StoreService:
    url: str | None  # None: embedded chDB
    kind: str


@pytest.fixture(scope="session")
def environment_settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def kafka_service(environment_settings: Settings) -> Iterator[KafkaService]:
    if environment_settings.kafka.bootstrap:
        yield KafkaService(environment_settings.kafka.bootstrap, "environment")
    elif docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield KafkaService(kafka.get_bootstrap_server(), "container")
    else:
        port = free_port()
        with EmbeddedBroker(port):
            yield KafkaService(f"127.0.0.1:{port}", "embedded")


@pytest.fixture(scope="session")
def store_service(environment_settings: Settings) -> Iterator[StoreService]:
    if environment_settings.store.url:
        yield StoreService(environment_settings.store.url, "environment")
    elif docker_engine_answers():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer() as clickhouse:
            host, port = clickhouse.get_container_host_ip(), clickhouse.get_exposed_port(8123)
            yield StoreService(f"http://{clickhouse.username}:{clickhouse.password}@{host}:{port}", "container")
    else:
        yield StoreService(None, "embedded")


@pytest.fixture
def pipeline_settings(kafka_service: KafkaService, store_service: StoreService, tmp_path: Path) -> Settings:
    """Settings for one isolated pipeline: own topics, consumer group, database and var dir."""
    run = uuid.uuid4().hex[:8]
    return Settings(
        var_dir=tmp_path / "var",
        kafka=KafkaSettings(
            bootstrap=kafka_service.bootstrap,
            inquiries_topic=f"inquiries-{run}",
            dead_letter_topic=f"inquiries-{run}.dlq",
        ),
        store=StoreSettings(url=store_service.url, path=tmp_path / "var" / "chdb", database=f"kanalpuls_{run}"),
        worker=WorkerSettings(app_id=f"kanalpuls-{run}", web_port=free_port(), data_dir=tmp_path / "var" / "worker"),
        connectors=ConnectorSettings(checkpoint_dir=tmp_path / "var" / "checkpoints"),
        privacy=PrivacySettings(contact_key_secret=SecretStr(f"test-secret-{run}")),
    )


@pytest.fixture
def topics(pipeline_settings: Settings) -> Settings:
    asyncio.run(ensure_topics(pipeline_settings.kafka.bootstrap_servers, required_topics(pipeline_settings.kafka)))
    return pipeline_settings

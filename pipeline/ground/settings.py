"""The one settings object. Nothing else in kanalpuls reads the environment.

Every value can be set as `KANALPULS_<SECTION>__<FIELD>` (for example
`KANALPULS_KAFKA__BOOTSTRAP=kafka:9092`) or in a `.env` file. The defaults run the
embedded demo on this machine with no configuration at all.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET = "kanalpuls-demo-secret-change-me"
MIN_SECRET_LENGTH = 16


def weak_secret(secret: str) -> str | None:
    """Why a secret for production will not do (a placeholder from .env.example, or too short); None if it will."""
    if "change-me" in secret.lower() or "change_me" in secret.lower():
        return "is still the placeholder from .env.example: put a long random string there (openssl rand -hex 32)"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters: put a long random string there (openssl rand -hex 32)"
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaSettings(_Section):
    bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers, e.g. 'kafka:9092'. Unset: the embedded broker on embedded_port.",
        examples=["kafka-1:9092,kafka-2:9092"],
    )
    embedded_port: int = Field(default=19092, description="Loopback port of the embedded Tansu broker.")
    partitions: int = Field(default=6, ge=1, description="Partitions of the inquiries topic.")
    inquiries_topic: str = Field(default="inquiries", description="Normalised inquiry events (NDJSON batches).")
    dead_letter_topic: str = Field(default="inquiries.dlq", description="Rejected records with file, line and reason.")
    alerts_topic: str = Field(default="alerts", description="Walk-in spike alerts, fired and resolved (JSON).")
    acks_topic: str = Field(default="inquiries.acks",
                            description="The worker's acknowledgements of what it stored, for sources to confirm.")
    acks_timeout_seconds: float = Field(default=30.0, gt=0, description="How long a produce may wait for acks.")

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap or f"127.0.0.1:{self.embedded_port}"


class StoreSettings(_Section):
    url: str | None = Field(
        default=None,
        description="ClickHouse server HTTP URL, or kanalpuls://127.0.0.1:PORT for `kanalpuls store serve` "
        "(the embedded store shared by several processes). Unset: embedded chDB under path, owned by the worker.",
        examples=["http://clickhouse:8123"],
    )
    path: Path = Field(default=Path("var/chdb"), description="Embedded chDB data directory.")
    database: str = Field(default="kanalpuls", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    user: str = Field(default="default")
    password: SecretStr = Field(default=SecretStr(""))
    reader_user: str | None = Field(
        default=None,
        description="Read-only ClickHouse user for `kanalpuls query`, KPIs and reports (server only); "
        "unset: `user`, with readonly=1 sent as a request setting.",
        examples=["grafana"],
    )
    reader_password: SecretStr = Field(default=SecretStr(""), description="Password of reader_user.")


class WorkerSettings(_Section):
    app_id: str = Field(default="kanalpuls", description="Faust app id = Kafka consumer group.")
    web_host: str = Field(default="127.0.0.1", description="Where the worker's web server (metrics, store queries) listens.")
    web_port: int = Field(default=6066, description="Worker web port: /metrics and, embedded, /store/query.")
    batch_max_messages: int = Field(default=200, ge=1, description="Kafka messages taken per aggregation batch.")
    batch_within_seconds: float = Field(default=0.25, gt=0, description="Longest a partial batch waits.")
    dedupe_days_in_memory: int = Field(default=45, ge=1, description="Days of event ids kept to drop duplicates.")
    session_timeout_seconds: float = Field(
        default=10.0, ge=6, description="Kafka consumer-group session timeout; a dead worker's partitions move after it."
    )
    max_fetch_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024 * 1024, description="Most bytes fetched per partition in one request."
    )
    data_dir: Path = Field(default=Path("var/worker"), description="Faust's local data directory.")
    targets_seconds: float = Field(
        default=300.0, gt=0, description="How often a worker evaluates the steering targets into target_status.")


class ConnectorSettings(_Section):
    batch_events: int = Field(default=500, ge=1, description="Events per Kafka message (one NDJSON batch).")
    linger_seconds: float = Field(default=0.2, ge=0, description="Longest a partial batch waits before it is sent.")
    checkpoint_dir: Path = Field(default=Path("var/checkpoints"), description="Where read positions are kept.")
    mapping_file: Path = Field(
        default=Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml",
        description="Rules mapping queues, ticket services, mailboxes and URLs to task and department.",
    )
    poll_seconds: float = Field(default=0.2, gt=0, description="How often --follow looks for new lines.")
    settle_seconds: float = Field(
        default=2.0, ge=0,
        description="Without --follow, a last line with no newline counts as complete once the file is this old.",
    )
    confirm: Literal["stored", "broker"] = Field(
        default="stored",
        description="When a checkpoint moves (and the HTTP ingest answers 202): once the worker has stored "
        "the events ('stored', end-to-end), or once the broker has them ('broker', acks=all: enough with a "
        "replicated Kafka, not with the memory-only embedded broker).",
    )
    confirm_seconds: float = Field(
        default=30.0, gt=0, description="How long a batch may wait for its confirmation before it is sent again.")
    max_unconfirmed_events: int = Field(
        default=100_000, ge=1, description="A connector reads no further while this many events wait for confirmation.")
    resend_attempts: int = Field(
        default=3, ge=0, description="Without --follow: how often unconfirmed events are sent again before giving up.")
    max_record_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="A longer line is dead-lettered with its size, never parsed or held in memory whole.")


class HttpSettings(_Section):
    host: str = Field(default="127.0.0.1", description="Where `kanalpuls serve` listens.")
    port: int = Field(default=8080, description="Port of the HTTP ingest.")
    token: SecretStr | None = Field(default=None, description="Bearer token clients must send; required.")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="Largest request body accepted.")
    confirm_seconds: float = Field(
        default=15.0, gt=0,
        description="How long a request waits for the worker to confirm its events stored before answering 503.")


class SteeringSettings(_Section):
    file: Path = Field(
        default=Path(__file__).resolve().parents[2] / "deploy" / "steering.yaml",
        description="Opening hours, unit prices, baselines, spike thresholds and targets (pipeline/ground/steering.py).",
    )


class PrivacySettings(_Section):
    contact_key_secret: SecretStr = Field(
        default=SecretStr(DEMO_SECRET),
        description="HMAC key turning requester identifiers into contact_key. Set your own in production.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KANALPULS_",
        env_nested_delimiter="__",
        env_file=".env",
        # The .env file is shared with docker compose, whose own keys (CLICKHOUSE_PASSWORD, ...)
        # must not stop kanalpuls; unknown keys inside a section are still refused.
        extra="ignore",
    )

    var_dir: Path = Field(default=Path("var"), description="Working directory for embedded state.")
    log_format: str = Field(default="console", pattern="^(console|json)$")
    language: Literal["da", "en"] = Field(
        default="da", description="What users read (CLI tables, reports, boards): Danish, or English.")
    kafka: KafkaSettings = KafkaSettings()
    store: StoreSettings = StoreSettings()
    worker: WorkerSettings = WorkerSettings()
    connectors: ConnectorSettings = ConnectorSettings()
    privacy: PrivacySettings = PrivacySettings()
    http: HttpSettings = HttpSettings()
    steering: SteeringSettings = SteeringSettings()

    @model_validator(mode="after")
    def _relative_to_var(self) -> "Settings":
        # Embedded state follows var_dir unless a path was set explicitly.
        for section, field, default in (
            (self.store, "path", Path("var/chdb")),
            (self.worker, "data_dir", Path("var/worker")),
            (self.connectors, "checkpoint_dir", Path("var/checkpoints")),
        ):
            if getattr(section, field) == default and self.var_dir != Path("var"):
                object.__setattr__(section, field, self.var_dir / default.name)
        return self

    @property
    def embedded_store(self) -> bool:
        return not self.store.url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

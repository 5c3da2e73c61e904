"""deploy/clickhouse/users.xml: the `grafana` user is read-only and sees only the kanalpuls
database. chDB has no users, profiles or grants (CREATE USER and system.users are refused),
so embedded, the profile's settings are applied to each statement exactly as the server
applies them to the user's session; against a ClickHouse server (KANALPULS_STORE__URL, or
a testcontainers server that has not loaded this file) the server's own view of the user
is checked as far as that server has it."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.ground.settings import StoreSettings
from pipeline.store.clickhouse import StoreQueryError
from pipeline.store.open import open_store

USERS_XML = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse" / "users.xml"


def users_xml() -> ET.Element:
    return ET.parse(USERS_XML).getroot()


def grafana_profile() -> ET.Element:
    (user,) = users_xml().findall("./users/grafana")
    name = user.findtext("profile")
    (profile,) = users_xml().findall(f"./profiles/{name}")
    return profile


def profile_settings() -> dict[str, str]:
    """The settings the profile sets (constraints aside), as a server applies them on login."""
    return {child.tag: (child.text or "").strip() for child in grafana_profile() if child.tag != "constraints"}


def with_profile(sql: str) -> str:
    return sql + " SETTINGS " + ", ".join(f"{name} = {value}" for name, value in profile_settings().items())


def test_grafana_user_has_a_password_from_the_environment_and_only_select_on_kanalpuls() -> None:
    (user,) = users_xml().findall("./users/grafana")
    (password,) = user.findall("password")
    assert password.get("from_env") == "CLICKHOUSE_GRAFANA_PASSWORD" and not (password.text or "").strip()
    assert not user.findall("password_sha256_hex") and not user.findall("password_double_sha1_hex")
    grants = [q.text.strip() for q in user.findall("./grants/query")]
    # SELECT on kanalpuls; CREATE TEMPORARY TABLE because ClickHouse demands it for table
    # functions (numbers() in the demand view), while readonly=1 refuses the statement itself.
    assert grants == ["GRANT SELECT, SHOW ON kanalpuls.*", "GRANT CREATE TEMPORARY TABLE ON *.*"]
    # ClickHouse refuses a user with both <grants> and these; and none may widen access.
    for widening in ("allow_databases", "access_management", "named_collection_control"):
        assert user.find(widening) is None


def test_profile_is_readonly_1_with_only_max_execution_time_changeable() -> None:
    assert profile_settings()["readonly"] == "1"  # 2 would let every query change any setting
    constraints = grafana_profile().find("constraints")
    changeable = [c.tag for c in constraints if c.find("changeable_in_readonly") is not None]
    assert changeable == ["max_execution_time"]  # the plugin's client sends it with every query


@pytest.fixture
def store_with_a_table(store_service, tmp_path: Path):
    database = f"kanalpuls_ro_{uuid.uuid4().hex[:8]}"
    settings = StoreSettings(url=store_service.url, path=tmp_path / "chdb", database=database)
    if store_service.kind == "environment":
        from pipeline.ground.settings import Settings

        configured = Settings().store
        settings = settings.model_copy(update={"user": configured.user, "password": configured.password})
    store = open_store(settings)
    store.command(f"CREATE DATABASE {database}")
    store.command(f"CREATE TABLE {database}.events (n UInt32) ENGINE = MergeTree ORDER BY n")
    store.command(f"INSERT INTO {database}.events VALUES (1), (2)")
    try:
        yield store, database
    finally:
        store.command(f"DROP DATABASE IF EXISTS {database}")
        store.close()


@pytest.mark.parametrize("statement", [
    "CREATE TEMPORARY TABLE scratch (n UInt8)",
    "INSERT INTO {db}.events SELECT 3",
    "ALTER TABLE {db}.events ADD COLUMN extra UInt8",
    "ALTER TABLE {db}.events DELETE WHERE n = 1",
    "DROP TABLE {db}.events",
    "TRUNCATE TABLE {db}.events",
    "CREATE TABLE {db}.other (n UInt8) ENGINE = Memory",
])
def test_the_grafana_profile_cannot_write_alter_or_drop(store_with_a_table, statement: str) -> None:
    store, database = store_with_a_table
    with pytest.raises(StoreQueryError, match="readonly"):
        store.command(with_profile(statement.format(db=database)))
    assert store.query(f"SELECT count() FROM {database}.events").scalar() == 2
    assert store.query(f"EXISTS TABLE {database}.events").scalar() == 1


def test_the_grafana_profile_reads_but_needs_its_constraint_for_the_plugin_timeout(store_with_a_table) -> None:
    store, database = store_with_a_table
    assert store.query(with_profile(f"SELECT sum(n) FROM {database}.events")).scalar() == 3
    assert store.query(with_profile("SELECT count() FROM numbers(168)")).scalar() == 168  # as the demand view does
    # clickhouse-go adds max_execution_time to each query. readonly=1 alone refuses it (chDB
    # shows this); the profile's changeable_in_readonly constraint is what lets it through
    # on the server. chDB has no profiles, so that half is checked on a server only.
    with pytest.raises(StoreQueryError, match="max_execution_time"):
        store.query(with_profile(f"SELECT count() FROM {database}.events") + ", max_execution_time = 30")


def test_a_server_that_loaded_users_xml_has_the_grafana_user_as_written(store_with_a_table) -> None:
    """Runs its checks only on a server that has users.xml (docker compose mounts it into
    users.d); chDB and a plain testcontainers server have no `grafana` user to look at."""
    store, _ = store_with_a_table
    try:
        users = store.query("SELECT name FROM system.users WHERE name = 'grafana'").rows
    except StoreQueryError:  # chDB: no access control at all
        users = []
    if not users:
        return
    grants = " ".join(row[0] for row in store.query("SHOW GRANTS FOR grafana").rows)
    assert "ON kanalpuls.*" in grants and "SELECT" in grants
    for write in ("INSERT", "ALTER", "DROP", "TRUNCATE", "CREATE TABLE", "CREATE DATABASE", "CREATE USER"):
        assert write not in grants, grants
    readonly = store.query("SELECT value FROM system.settings_profile_elements "
                           "WHERE profile_name = 'grafana_readonly' AND setting_name = 'readonly'").scalar()
    assert str(readonly) == "1"

"""deploy/clickhouse/cluster/*.sql, the ReplicatedMergeTree + Distributed variant of the
raw events and the rollups for a ClickHouse cluster: parsed by ClickHouse itself (chDB's
EXPLAIN AST; no Keeper here, so they are not executed), the same columns, sort keys and
view queries as the single-node DDL, and never picked up by `kanalpuls store init`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.store.clickhouse import ddl_statements

DDL = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
CLUSTER = sorted((DDL / "cluster").glob("*.sql"))


def statements(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").replace("{db}", "kanalpuls")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


def block(sql: str, start: str, end: str) -> str:
    body = sql[sql.index(start):]
    return re.sub(r"\s+", " ", body[:body.index(end)] if end in body else body).strip()


def uncommented(path: Path) -> str:
    text = path.read_text(encoding="utf-8").replace("{db}", "kanalpuls")
    return "\n".join(line.split("--")[0] for line in text.splitlines())


@pytest.fixture(scope="module")
def chdb_session(tmp_path_factory):
    from chdb import session

    s = session.Session(str(tmp_path_factory.mktemp("chdb")))
    yield s
    s.close()


def test_cluster_files_cover_the_events_and_both_rollups_with_their_views() -> None:
    assert [p.name for p in CLUSTER] == ["001_inquiry_events.sql", "002_inquiry_minute.sql",
                                         "003_inquiry_minute_mv.sql", "005_inquiry_hour.sql",
                                         "006_inquiry_hour_mv.sql"]


def test_store_init_does_not_apply_the_cluster_variant() -> None:
    assert not any("_local" in sql or "ON CLUSTER" in sql for _, sql in ddl_statements("kanalpuls"))


@pytest.mark.parametrize("path", CLUSTER, ids=lambda p: p.name)
def test_every_cluster_statement_parses_in_clickhouse(chdb_session, path: Path) -> None:
    for sql in statements(path):
        assert "ON CLUSTER kanalpuls" in sql
        chdb_session.query(f"EXPLAIN AST {sql}", "CSV")  # raises on a syntax error


@pytest.mark.parametrize("name", ["001_inquiry_events.sql", "002_inquiry_minute.sql", "005_inquiry_hour.sql"])
def test_local_tables_replicate_the_single_node_columns_and_keys(name: str) -> None:
    single, cluster = uncommented(DDL / name), uncommented(DDL / "cluster" / name)
    assert block(cluster, "\n(", "ENGINE") == block(single, "\n(", "ENGINE")
    assert block(cluster, "PARTITION BY", "SETTINGS") == block(single, "PARTITION BY", "SETTINGS")
    single_engine = re.search(r"ENGINE = (\w+)", single).group(1)
    table = re.search(r"EXISTS kanalpuls\.(\w+)", single).group(1)
    assert f"ENGINE = Replicated{single_engine}('/clickhouse/tables/{{shard}}/kanalpuls/{table}', '{{replica}}')" in cluster
    # Readers keep the single-node name: a Distributed table over the shards' local tables.
    assert f"kanalpuls.{table} ON CLUSTER kanalpuls AS kanalpuls.{table}_local" in cluster
    assert f"Distributed(kanalpuls, kanalpuls, {table}_local, cityHash64(municipality))" in cluster


@pytest.mark.parametrize("name", ["003_inquiry_minute_mv.sql", "006_inquiry_hour_mv.sql"])
def test_views_aggregate_exactly_as_on_one_node_but_per_shard(name: str) -> None:
    single, cluster = uncommented(DDL / name), uncommented(DDL / "cluster" / name)
    assert block(cluster, "SELECT", "FROM") == block(single, "SELECT", "FROM")
    assert "FROM kanalpuls.inquiry_events_local" in cluster and re.search(r"TO kanalpuls\.\w+_local AS", cluster)

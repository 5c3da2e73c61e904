"""`kanalpuls store cluster-ddl`, the ReplicatedMergeTree + Distributed variant of the raw
events and the rollups for a ClickHouse cluster, derived from the single-node DDL: parsed by
ClickHouse itself (chDB's EXPLAIN AST; no Keeper here, so it is not executed), the same
columns, sort keys and view queries as the single-node DDL, and never applied by
`kanalpuls store init`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pipeline.store.clickhouse import ddl_statements
from pipeline.store.cluster import CLUSTERED, cluster_ddl
from pipeline.worker.supervise import kanalpuls_command

DDL = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
CLUSTER_DDL = cluster_ddl("kanalpuls")


def statements(text: str) -> list[str]:
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]


def block(sql: str, start: str, end: str) -> str:
    body = sql[sql.index(start):]
    return re.sub(r"\s+", " ", body[:body.index(end)] if end in body else body).strip()


def single(name: str) -> str:
    return statements((DDL / name).read_text(encoding="utf-8").replace("{db}", "kanalpuls"))[0]


def derived(table: str) -> list[str]:
    """The cluster statements that create `table` (a table, its local table, or a view)."""
    return [s for s in statements(CLUSTER_DDL) if re.search(rf"EXISTS kanalpuls\.{table}(_local)?\b", s)]


@pytest.fixture(scope="module")
def chdb_session(tmp_path_factory):
    from chdb import session

    s = session.Session(str(tmp_path_factory.mktemp("chdb")))
    yield s
    s.close()


def test_the_variant_covers_the_events_and_both_rollups_with_their_views() -> None:
    created = re.findall(r"CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS kanalpuls\.(\w+)", CLUSTER_DDL)
    assert created == ["inquiry_events_local", "inquiry_events", "inquiry_minute_local", "inquiry_minute",
                       "inquiry_minute_mv", "inquiry_hour_local", "inquiry_hour", "inquiry_hour_mv"]


def test_store_init_does_not_apply_the_cluster_variant() -> None:
    assert not any("_local" in sql or "ON CLUSTER" in sql for _, sql in ddl_statements("kanalpuls"))


def test_every_cluster_statement_parses_in_clickhouse(chdb_session) -> None:
    found = statements(CLUSTER_DDL)
    assert len(found) == 9 and found[0] == "CREATE DATABASE IF NOT EXISTS kanalpuls ON CLUSTER kanalpuls"
    for sql in found:
        assert "ON CLUSTER kanalpuls" in sql
        chdb_session.query(f"EXPLAIN AST {sql}", "CSV")  # raises on a syntax error


@pytest.mark.parametrize("name", ["001_inquiry_events.sql", "002_inquiry_minute.sql", "005_inquiry_hour.sql"])
def test_local_tables_replicate_the_single_node_columns_and_keys(name: str) -> None:
    one = single(name)
    table = re.search(r"EXISTS kanalpuls\.(\w+)", one).group(1)
    local, distributed = derived(table)
    assert block(local, "\n(", "ENGINE") == block(one, "\n(", "ENGINE")
    assert block(local, "PARTITION BY", "SETTINGS") == block(one, "PARTITION BY", "SETTINGS")
    engine = re.search(r"ENGINE = (\w+)", one).group(1)
    assert f"ENGINE = Replicated{engine}('/clickhouse/tables/{{shard}}/kanalpuls/{table}', '{{replica}}')" in local
    assert "SETTINGS replicated_deduplication_window = 10000" in local
    # Readers keep the single-node name: a Distributed table over the shards' local tables.
    assert f"kanalpuls.{table} ON CLUSTER kanalpuls AS kanalpuls.{table}_local" in distributed
    assert f"Distributed(kanalpuls, kanalpuls, {table}_local, cityHash64(municipality))" in distributed


@pytest.mark.parametrize("name", ["003_inquiry_minute_mv.sql", "006_inquiry_hour_mv.sql"])
def test_views_aggregate_exactly_as_on_one_node_but_per_shard(name: str) -> None:
    one = single(name)
    (view,) = derived(re.search(r"EXISTS kanalpuls\.(\w+)", one).group(1))
    assert block(view, "SELECT", "FROM") == block(one, "SELECT", "FROM")
    assert "FROM kanalpuls.inquiry_events_local" in view and re.search(r"TO kanalpuls\.\w+_local AS", view)


def test_the_command_prints_it_for_the_database_asked_and_refuses_a_name_that_is_not_one(tmp_path: Path) -> None:
    done = subprocess.run(kanalpuls_command("store", "cluster-ddl", "--database", "borger"), capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == cluster_ddl("borger") and "{db}" not in done.stdout
    done = subprocess.run(kanalpuls_command("store", "cluster-ddl", "--database", "x; DROP"), capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and "--database" in done.stderr


def test_every_clustered_file_is_one_of_the_store_files() -> None:
    assert all((DDL / name).is_file() for name in CLUSTERED)

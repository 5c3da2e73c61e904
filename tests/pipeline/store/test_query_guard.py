"""The read-only query door (pipeline/store/query_guard.py) against real chDB: every bypass the
tester found, and more, is refused before it runs; what analysts and the product ask runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.store.clickhouse import EmbeddedStore, StoreQueryError, init_schema
from pipeline.store.query_guard import LIMITS, QueryRefused, judge, read_only_query

DB = "kanalpuls_guard"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(tmp_path_factory.mktemp("guard-store") / "chdb", DB)
    init_schema(opened)
    try:
        yield opened
    finally:
        opened.close()


def stored_events(store: EmbeddedStore) -> int:
    return int(store.query(f"SELECT count() FROM {DB}.inquiry_events").scalar())


@pytest.mark.parametrize("sql", [
    f"SELECT count() FROM {DB}.inquiry_events",
    "select 1 -- a comment is fine",
    "WITH c AS (SELECT 1 AS a) SELECT a FROM c",
    f"SELECT * FROM {DB}.kpi_volume(from_day = '2026-01-01', to_day = '2026-01-07')",
    "SELECT number FROM numbers(3)",
    f"SELECT name FROM system.tables WHERE database = '{DB}'",
    f"DESCRIBE TABLE {DB}.inquiry_events",
    f"SHOW TABLES FROM {DB}",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT 'text with -- and ; and /* inside a string */'",
])
def test_reading_queries_run(store: EmbeddedStore, sql: str) -> None:
    read_only_query(store, sql)


@pytest.mark.parametrize("sql", [
    # the tester's bypasses of the old guard
    "SELECT * FROM file('/etc/passwd', 'LineAsString') --",
    "INSERT INTO FUNCTION file('/tmp/kanalpuls-guard.csv', 'CSV') SELECT 1 --",
    "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
    f"WITH 1 AS x INSERT INTO {DB}.inquiry_events (event_id) SELECT toString(number) FROM numbers(1000) --",
    "SELECT 42 INTO /**/ OUTFILE '/tmp/kanalpuls-guard.csv'",
    # comments, stacked statements, outfile, table functions, writes, SYSTEM, settings
    f"SELECT 1; DROP TABLE {DB}.inquiry_events",
    f"SELECT 1 /* ; */ ; INSERT INTO {DB}.unit_prices VALUES ('phone', 1)",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1', system.one)",
    "SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', 'CSV')",
    "SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')",
    "SELECT * FROM executable('x.sh', 'CSV', 'a String')",
    "SELECT * FROM merge('system', '.*')",
    "SELECT * FROM (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
    f"SELECT count() FROM {DB}.inquiry_events WHERE 1 IN (SELECT 1 FROM url('http://127.0.0.1:9/'))",
    f"INSERT INTO {DB}.inquiry_events SELECT * FROM {DB}.inquiry_events",
    f"ALTER TABLE {DB}.inquiry_events DELETE WHERE 1",
    f"TRUNCATE TABLE {DB}.inquiry_events",
    f"CREATE TABLE {DB}.x (a UInt8) ENGINE = Memory",
    "SYSTEM DROP DNS CACHE",
    "SET readonly = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT * FROM (SELECT 1 SETTINGS readonly = 0)",
    "SELECT 1 FORMAT JSON",
    "EXPLAIN SELECT 1",
    # scalar functions that reach outside, also hidden in arguments and view parameters
    "SELECT file('/etc/hostname')",
    "SELECT * FROM numbers(length(file('/etc/hostname')))",
    f"SELECT * FROM {DB}.kpi_volume(from_day = '2026-01-01', to_day = (SELECT file('/etc/hostname')))",
    # other databases
    "SELECT * FROM system.users",
    "SELECT * FROM `system`.`users`",
    f"SELECT * FROM {DB}.inquiry_events AS e JOIN system.settings AS s ON 1",
    "SHOW TABLES FROM system",
    # found by the attack review: DESCRIBE and SHOW TABLES with INTO OUTFILE wrote files
    "DESCRIBE (SELECT 1 AS `import os` ) INTO OUTFILE '/tmp/kanalpuls-guard.csv' FORMAT TSVRaw",
    f"DESCRIBE TABLE {DB}.inquiry_events INTO OUTFILE '/tmp/kanalpuls-guard.csv' TRUNCATE",
    f"SHOW TABLES FROM {DB} INTO OUTFILE '/tmp/kanalpuls-guard.csv' APPEND",
    f"SHOW TABLES FROM {DB} FORMAT JSON",
    "SELECT 1 INTERSECT SELECT 1 INTO OUTFILE '/tmp/kanalpuls-guard.csv'",
    "SELECT 'Europe/Copenhagen' IN system.time_zones",
    "SELECT 1 NOT IN system.users",
    "SELECT joinGet('other.t', 'a', 1)",
    "SELECT dictGet('d', 'a', 1)",
    "SELECT getServerSetting('path')",
    "SELECT 1 AS `a\n  TableExpression (children 1)\n   Function file (children 1)`",
    "",
    "   ",
])
def test_anything_but_one_read_only_query_on_the_database_is_refused(store: EmbeddedStore, sql: str) -> None:
    before = stored_events(store)
    with pytest.raises(QueryRefused):
        read_only_query(store, sql)
    assert stored_events(store) == before
    assert not Path("/tmp/kanalpuls-guard.csv").exists()


def test_the_query_runs_with_readonly_set() -> None:
    assert list(LIMITS)[-1] == "readonly" and LIMITS["readonly"] == 1


def test_a_query_may_not_take_the_workers_memory(store: EmbeddedStore) -> None:
    with pytest.raises(StoreQueryError, match="(?i)memory"):
        read_only_query(store, "SELECT length(groupArray(repeat('x', 1000000))) FROM numbers(3000)")


def test_clickhouse_itself_sees_readonly(store: EmbeddedStore) -> None:
    assert read_only_query(store, "SELECT getSetting('readonly')").scalar() == 1


def test_an_oversized_statement_is_refused_before_clickhouse_parses_it(store: EmbeddedStore) -> None:
    with pytest.raises(QueryRefused, match="characters"):
        read_only_query(store, "SELECT 1 " + " " * 200_000)


def test_bad_sql_is_refused_with_clickhouses_own_message(store: EmbeddedStore) -> None:
    with pytest.raises(QueryRefused, match="(?i)syntax error"):
        read_only_query(store, "SELEC 1")


def test_a_refusal_is_a_store_query_error_so_every_command_reports_it() -> None:
    assert issubclass(QueryRefused, StoreQueryError)


@pytest.mark.parametrize(("lines", "allowed"), [
    (["SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 1)"], True),
    (["SelectWithUnionQuery (children 2)", " ExpressionList (children 1)", " Literal 'x'"], False),
    (["InsertQuery (children 1)"], False),
    (["SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 2)",
      "   TablesInSelectQuery (children 1)", "    TablesInSelectQueryElement (children 1)",
      "     TableExpression (children 1)", "      Function numbers (children 1)"], True),
    (["SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 2)",
      "   TablesInSelectQuery (children 1)", "    TablesInSelectQueryElement (children 1)",
      "     TableExpression (children 1)", "      Function generateRandom (children 1)"], False),
    (["SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 2)",
      "   TablesInSelectQuery (children 1)", "    TablesInSelectQueryElement (children 1)",
      "     TableExpression (children 1)", f"      TableIdentifier {DB}x.inquiry_events"], False),
])
def test_judging_reads_the_tree_not_the_text(lines: list[str], allowed: bool) -> None:
    if allowed:
        judge(lines, DB)
    else:
        with pytest.raises(QueryRefused):
            judge(lines, DB)

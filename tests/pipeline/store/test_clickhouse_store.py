"""The ClickHouse store against real embedded chDB on disk: schema, inserts, the rollup view, locking.

chDB allows one data directory per process (a second path fails with "EmbeddedServer already
initialized"), so this module opens one store for all its tests and closes it at the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ground.steering import load_steering
from pipeline.sinks.clickhouse import EventWriter, to_store_table
from pipeline.store.clickhouse import DDL_DIR, EmbeddedStore, StoreQueryError, init_schema
from pipeline.store.serial import SerialStore
from schemas import Channel, Stage
from schemas.wire import Message, decode_messages
from tests.factories import T0, phone_event
from tests.stores import insert_events

REPO = Path(__file__).resolve().parents[3]
DDL_FILES = sorted(p.name for p in (REPO / "deploy" / "clickhouse").glob("*.sql"))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store") / "chdb"


@pytest.fixture(scope="module")
def store(store_path: Path) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(store_path, "kanalpuls_test")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def database(store: EmbeddedStore, request: pytest.FixtureRequest) -> EmbeddedStore:
    """A fresh database with the schema for each test, in the module's one store."""
    store.database = f"t_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}"[:60]
    store.command(f"DROP DATABASE IF EXISTS {store.database}")
    init_schema(store)
    return store


event = phone_event


insert = insert_events


# --------------------------------------------------------------------------- schema


def test_init_schema_is_idempotent_and_creates_the_tables(database: EmbeddedStore) -> None:
    assert init_schema(database) == DDL_FILES  # second run on top of the fixture's first
    assert init_schema(database) == DDL_FILES
    tables = database.query(
        f"SELECT name FROM system.tables WHERE database = '{database.database}' ORDER BY name"
    ).rows
    # The first {db}.name in each CREATE file is what it creates (the others alter a table of an older store).
    created = sorted(re.search(r"\{db\}\.(\w+)", (DDL_DIR / name).read_text()).group(1) for name in DDL_FILES
                     if "CREATE " in (DDL_DIR / name).read_text())
    assert [t[0] for t in tables] == created
    assert {"inquiry_events", "inquiry_minute", "inquiry_hour", "kpi_channel_share"} <= set(created)


def test_the_steering_file_fills_its_tables_and_a_second_init_replaces_them(database: EmbeddedStore) -> None:
    steering = load_steering(REPO / "deploy" / "steering.yaml")
    init_schema(database, steering)
    init_schema(database, steering.model_copy(update={"unit_prices_dkk": {"phone": 45.0}}))
    db = database.database
    assert database.query(f"SELECT channel, price_dkk FROM {db}.unit_prices").rows == [("phone", 45.0)]
    thursday = database.query(f"SELECT opens, closes FROM {db}.opening_hours "
                              "WHERE channel = 'walk_in' AND site = '' AND weekday = 4").rows
    assert thursday == [(10 * 3600, 17 * 3600 + 30 * 60)]
    assert not [t for (t,) in database.query(f"SHOW TABLES FROM {db}").rows if "_loading_" in t]
    christmas = database.query(f"SELECT name FROM {db}.closed_days WHERE day = '2026-12-25'").scalar()
    assert christmas and not database.query(f"SELECT count() FROM {db}.closed_days WHERE day = '2026-12-23'").scalar()


def test_init_fills_the_hour_rollup_once_for_events_stored_before_it_existed(database: EmbeddedStore) -> None:
    insert(database, [event(1), event(2)])
    db = database.database
    database.command(f"DROP TABLE {db}.inquiry_hour_mv")
    database.command(f"DROP TABLE {db}.inquiry_hour")
    init_schema(database)  # a worker's start: no backfill
    assert database.query(f"SELECT count() FROM {db}.inquiry_hour").scalar() == 0
    init_schema(database, backfill=True)  # kanalpuls store init
    assert database.query(f"SELECT sum(events) FROM {db}.inquiry_hour").scalar() == 2
    init_schema(database, backfill=True)
    assert database.query(f"SELECT sum(events) FROM {db}.inquiry_hour").scalar() == 2


def test_init_schema_keeps_existing_rows(database: EmbeddedStore) -> None:
    insert(database, [event(1)])
    init_schema(database)
    assert database.query(f"SELECT count() FROM {database.database}.inquiry_events").scalar() == 1


# --------------------------------------------------------------------------- inserts


def test_insert_fills_the_minute_rollup_through_the_view(database: EmbeddedStore) -> None:
    events = [
        event(1, at=T0 + timedelta(seconds=1), wait_seconds=10.0),
        event(2, at=T0 + timedelta(seconds=59), wait_seconds=20.5),
        event(3, at=T0 + timedelta(seconds=30)),  # no wait: counted, not in wait_count
        event(1, stage=Stage.answered, at=T0 + timedelta(seconds=40), wait_seconds=10.0, handle_seconds=90.0),
        event(4, at=T0 + timedelta(minutes=1, seconds=2), wait_seconds=4.0),
    ]
    insert(database, events)
    db = database.database
    assert database.query(f"SELECT count() FROM {db}.inquiry_events").scalar() == len(events)
    assert database.query(f"SELECT sum(events) FROM {db}.inquiry_minute").scalar() == len(events)
    rows = database.query(
        f"SELECT toUnixTimestamp(minute) AS m, stage, sum(events), sum(wait_seconds_sum), sum(wait_count), "
        f"sum(handle_seconds_sum), sum(handle_count) FROM {db}.inquiry_minute GROUP BY m, stage ORDER BY m, stage"
    ).rows
    m0 = int(T0.timestamp())
    assert rows == [
        (m0, "answered", 1, 10.0, 1, 90.0, 1),
        (m0, "arrived", 3, 30.5, 2, 0.0, 0),
        (m0 + 60, "arrived", 1, 4.0, 1, 0.0, 0),
    ]


def test_inserted_event_round_trips_its_fields(database: EmbeddedStore) -> None:
    e = event(7, at=T0 + timedelta(milliseconds=123), channel=Channel.walk_in, site="Rådhuset",
              contact_key="ab" * 32, appointment=False, wait_seconds=1.5)
    insert(database, [e])
    row = database.query(
        f"SELECT toString(event_id), occurred_at, channel, site, toString(contact_key), appointment, "
        f"source_system, source_file, source_line, source_offset FROM {database.database}.inquiry_events"
    ).rows[0]
    assert row[0] == e.event_id
    assert row[1].replace(tzinfo=timezone.utc) == e.occurred_at
    assert row[2:] == ("walk_in", "Rådhuset", "ab" * 32, False, "pbx", "queue_log", 8, 560)


def test_stored_ids_returns_the_ids_of_one_utc_day_only(database: EmbeddedStore) -> None:
    day = date(2026, 3, 2)
    midnight = datetime(2026, 3, 2, tzinfo=timezone.utc)
    inside = [event(1, at=midnight), event(2, at=midnight + timedelta(hours=12)),
              event(3, at=midnight + timedelta(days=1, milliseconds=-1))]
    outside = [event(4, at=midnight - timedelta(milliseconds=1)), event(5, at=midnight + timedelta(days=1))]
    insert(database, inside + outside)
    sink = EventWriter(SerialStore(database))
    assert sorted(sink.stored_ids(day)) == sorted(e.event_id for e in inside)
    assert sink.stored_ids(date(2026, 3, 3)) == [outside[1].event_id]
    assert sink.stored_ids(date(2026, 4, 1)) == []


# --------------------------------------------------------------------------- queries


def test_bad_sql_raises_store_query_error_with_clickhouses_message(store: EmbeddedStore) -> None:
    with pytest.raises(StoreQueryError, match="(?i)syntax error"):
        store.query("SELEC 1")
    with pytest.raises(StoreQueryError, match="UNKNOWN_TABLE|does not exist"):
        store.query("SELECT * FROM no_such_database.no_such_table")


def test_query_result_has_columns_and_rows(store: EmbeddedStore) -> None:
    result = store.query("SELECT 1 AS a, 'x' AS b")
    assert result.columns == ["a", "b"]
    assert result.as_dicts() == [{"a": 1, "b": "x"}]
    assert result.scalar() == 1


# --------------------------------------------------------------------------- one owner per directory

_OPEN_FROM_ANOTHER_PROCESS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from pipeline.store.clickhouse import EmbeddedStore
    try:
        EmbeddedStore(Path(sys.argv[1]), "kanalpuls_test").close()
        print(json.dumps({"error": None, "message": ""}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    """
)


@pytest.fixture(scope="module")
def second_process_open(store: EmbeddedStore, store_path: Path) -> dict[str, Any]:
    """What a second process sees when it opens the store this process holds."""
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_FROM_ANOTHER_PROCESS, str(store_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_second_process_cannot_open_a_held_store(second_process_open: dict[str, Any], store_path: Path) -> None:
    assert second_process_open["error"] == "StoreUnavailable"
    assert str(store_path) in second_process_open["message"]


def test_held_store_message_points_at_the_running_worker(second_process_open: dict[str, Any]) -> None:
    assert "worker" in second_process_open["message"]


def test_an_insert_retried_with_its_token_is_stored_once_in_the_table_and_the_rollup(database: EmbeddedStore) -> None:
    value = b"\n".join(event(900 + i).model_dump_json().encode() for i in range(3))
    data = to_store_table(decode_messages([Message(value, 0, 0)]).events)
    before = database.query(f"SELECT count() FROM {database.database}.inquiry_events").scalar()
    rolled = database.query(f"SELECT sum(events) FROM {database.database}.inquiry_minute").scalar() or 0
    for _ in range(2):  # the first insert landed, but its answer was lost: the sink retries
        database.insert_arrow("inquiry_events", data, token="same-batch")
    assert database.query(f"SELECT count() FROM {database.database}.inquiry_events").scalar() == before + 3
    assert database.query(f"SELECT sum(events) FROM {database.database}.inquiry_minute").scalar() == rolled + 3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_a_parameter_reaches_clickhouse_unchanged_whatever_it_holds(store: EmbeddedStore, value: str) -> None:
    """Values travel as query parameters, never inside the SQL text."""
    assert store.query("SELECT {value:String}", parameters={"value": value}).scalar() == value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(), max_size=5))
def test_an_array_parameter_reaches_clickhouse_unchanged(store: EmbeddedStore, values: list[str]) -> None:
    assert store.query("SELECT {values:Array(String)}", parameters={"values": values}).scalar() == values


def test_a_read_after_a_failed_query_gets_its_own_result(store: EmbeddedStore) -> None:
    """chDB handed the query after a failed one a damaged Arrow result: a timed-out analyst
    query made the worker's next read raise and the worker exit."""
    with pytest.raises(StoreQueryError, match="(?i)memory"):
        store.query("SELECT length(groupArray(repeat('x', 100000))) FROM numbers(2000) "
                    "SETTINGS max_memory_usage = 20000000")
    assert store.query("SELECT 42 AS answer").scalar() == 42

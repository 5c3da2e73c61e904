"""The ClickHouse store: embedded chDB on disk, or a ClickHouse server, with the same SQL.

Embedded mode has one rule: a single process owns the data directory (chDB locks it), so
while a worker runs, other commands reach the store through the worker's web server
(`/store/query`, see pipeline/worker/app.py). DDL lives in deploy/clickhouse/*.sql.
"""

from __future__ import annotations

import fcntl
import logging
import uuid
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from pipeline.ground.directories import private_directory
from pipeline.ground.errors import KanalpulsError, TerminalError, TransientError
from pipeline.ground.settings import StoreSettings
from pipeline.ground.steering import Steering

logger = logging.getLogger(__name__)

DDL_DIR = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
def sql_string(value: str) -> str:
    """A ClickHouse string literal: names from source data and configuration may hold quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StoreError(KanalpulsError):
    """Base of store errors."""


class StoreUnavailable(StoreError, TransientError):
    """Transient: the store cannot be reached or is locked by another process; retry later."""


class StoreQueryError(StoreError, TerminalError):
    """Terminal: ClickHouse refused the statement; the message is ClickHouse's own."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


class Store(Protocol):
    database: str

    def command(self, sql: str) -> None: ...

    def query(self, sql: str, parameters: dict[str, object] | None = None,
              settings: dict[str, int | str] | None = None) -> QueryResult: ...

    def insert_arrow(self, table: str, data: pa.Table, token: str = "") -> None: ...

    def close(self) -> None: ...


def dedup_settings(token: str) -> dict[str, object]:
    """Settings making a retried insert (same token) a no-op, in the table and its views."""
    return {"insert_deduplication_token": token, "deduplicate_blocks_in_dependent_materialized_views": 1}


def _check_not_locked(path: Path) -> None:
    """chDB holds an flock on <path>/status while open; test it first so the operator gets
    a message that says what to do (chDB's own error does not mention the lock)."""
    status = path / "status"
    if not status.exists():
        return
    with open(status, "rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreUnavailable(
                f"the embedded store {path} is in use by another process: a running worker (`kanalpuls query` "
                "asks through it when its web port answers) or `kanalpuls store serve` (set "
                "KANALPULS_STORE__URL=kanalpuls://127.0.0.1:<its port>); or stop that process"
            ) from None
        fcntl.flock(fh, fcntl.LOCK_UN)


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0",
                              "\b": "\\b", "\f": "\\f"})


def _parameter_text(value: object) -> object:
    """A query parameter as chDB wants it: a string as one TabSeparated field, an array as a
    ClickHouse array literal (its strings quoted, which chDB reads without TSV unescaping)."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(sql_string(v) if isinstance(v, str) else str(v) for v in value) + "]"
    return value.translate(_TSV_ESCAPES) if isinstance(value, str) else value


class EmbeddedStore:
    """chDB in this process, data on disk under `path`."""

    def __init__(self, path: Path, database: str) -> None:
        from chdb import session  # imported here: a server deployment never loads chDB

        private_directory(path)
        _check_not_locked(path)
        try:
            self._session = session.Session(str(path))
        except Exception as exc:  # chDB raises plain RuntimeError
            raise StoreUnavailable(f"cannot open the embedded store {path}: {exc}") from exc
        self.database = database
        self.path = path

    def command(self, sql: str) -> None:
        self._run(sql, "CSV")

    def query(self, sql: str, parameters: dict[str, object] | None = None,
              settings: dict[str, int | str] | None = None) -> QueryResult:
        """`parameters` fill `{name:Type}` placeholders (values never enter the SQL text);
        `settings` are appended as a SETTINGS clause: pass them only for a statement that has
        none and no trailing comment (pipeline/store/query_guard.py formats it first)."""
        table = self.query_arrow(sql, parameters, settings)
        columns = table.column_names
        return QueryResult(columns=list(columns), rows=[tuple(r.values()) for r in table.to_pylist()])

    def query_arrow(self, sql: str, parameters: dict[str, object] | None = None,
                    settings: dict[str, int | str] | None = None) -> pa.Table:
        if settings:
            sql += " SETTINGS " + ", ".join(
                f"{name} = {sql_string(value) if isinstance(value, str) else int(value)}" for name, value in settings.items())
        return self._run(sql, "ArrowTable", parameters)

    def insert_arrow(self, table: str, data: pa.Table, token: str = "") -> None:
        columns = ", ".join(f"`{c}`" for c in data.column_names)
        settings = " SETTINGS " + ", ".join(f"{k} = {v!r}" for k, v in dedup_settings(token).items()) if token else ""
        # chDB's Python() table function reads the Arrow table from this frame's locals.
        self._run(f"INSERT INTO {self.database}.{table} ({columns}) SELECT {columns} FROM Python(data){settings}", "CSV")

    def _run(self, sql: str, fmt: str, parameters: dict[str, object] | None = None) -> Any:
        for attempt in range(2):
            try:
                if parameters:
                    return self._session.query(sql, fmt, params={k: _parameter_text(v) for k, v in parameters.items()})
                return self._session.query(sql, fmt)
            except pa.ArrowInvalid as exc:
                # chDB hands the query after a failed one a damaged Arrow result once (a timed-out
                # analyst query made the worker's next read fail and the worker exit): ask again.
                if attempt:
                    raise StoreUnavailable(f"chDB returned a damaged result twice: {exc}") from exc
            except Exception as exc:
                self._flush_damaged_result()
                raise StoreQueryError(str(exc).strip()) from exc
        raise AssertionError("unreachable")

    def _flush_damaged_result(self) -> None:
        """After a failed query, take the damaged Arrow result chDB keeps for the next one."""
        try:
            self._session.query("SELECT 1", "ArrowTable")
        except Exception:  # noqa: BLE001 - that is the damaged one
            pass

    def close(self) -> None:
        self._session.close()


class ServerStore:
    """A ClickHouse server through clickhouse-connect (HTTP)."""

    def __init__(self, settings: StoreSettings) -> None:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import OperationalError

        assert settings.url is not None
        try:
            self._client = clickhouse_connect.get_client(
                dsn=settings.url,
                username=settings.user,
                password=settings.password.get_secret_value(),
            )
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot reach ClickHouse at {settings.url}: {exc}") from exc
        self.database = settings.database

    def command(self, sql: str) -> None:
        self._call(self._client.command, sql)

    def query(self, sql: str, parameters: dict[str, object] | None = None,
              settings: dict[str, int | str] | None = None) -> QueryResult:
        """`parameters` travel apart from the SQL; `settings` as request settings the server
        enforces (a readonly=1 sent this way cannot be undone by the statement)."""
        result = self._call(self._client.query, sql, parameters, settings)
        return QueryResult(columns=list(result.column_names), rows=[tuple(r) for r in result.result_rows])

    def query_arrow(self, sql: str, parameters: dict[str, object] | None = None,
                    settings: dict[str, int | str] | None = None) -> pa.Table:
        return self._call(self._client.query_arrow, sql, parameters, settings)

    def insert_arrow(self, table: str, data: pa.Table, token: str = "") -> None:
        self._call(self._client.insert_arrow, f"{self.database}.{table}", data, None,
                   dedup_settings(token) if token else None)

    def _call(self, fn: Any, *args: Any) -> Any:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        try:
            return fn(*args)
        except OperationalError as exc:
            raise StoreUnavailable(f"ClickHouse unreachable: {exc}") from exc
        except DatabaseError as exc:
            raise StoreQueryError(str(exc).strip()) from exc

    def close(self) -> None:
        self._client.close()


def ddl_statements(database: str, timezone: str = "Europe/Copenhagen") -> list[tuple[str, str]]:
    """(file name, statement) for every DDL file, in order, with the database and the
    municipality's time zone (local days and hours in the KPI views) filled in."""
    return [
        (path.name, path.read_text(encoding="utf-8").replace("{db}", database).replace("{tz}", timezone))
        for path in sorted(DDL_DIR.glob("*.sql"))
    ]


def init_schema(store: EmbeddedStore | ServerStore, steering: Steering | None = None,
                backfill: bool = False) -> list[str]:
    """Create the database, tables and views if missing, and replace the steering tables'
    contents from `steering`; safe to run any number of times. `backfill` (only `kanalpuls
    store init`, run once before workers start, passes it) fills a rollup added by an upgrade
    from the events stored before it: workers starting side by side must not both do that."""
    store.command(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    applied = []
    for name, statement in ddl_statements(store.database, steering.timezone if steering else "Europe/Copenhagen"):
        try:
            store.command(statement)
        except StoreQueryError as exc:
            raise StoreQueryError(f"deploy/clickhouse/{name}: {exc}") from exc
        applied.append(name)
    if backfill:
        _backfill_hour_rollup(store)
    if steering is not None:
        load_steering_tables(store, steering)
    return applied


def _backfill_hour_rollup(store: EmbeddedStore | ServerStore) -> None:
    """A store created before the hourly rollup existed has events its view never saw: fill it once."""
    db = store.database
    if store.query(f"SELECT count() FROM {db}.inquiry_hour").scalar():
        return
    if not store.query(f"SELECT count() FROM {db}.inquiry_events").scalar():
        return
    logger.info("filling %s.inquiry_hour from the events stored before it existed", db)
    select = (DDL_DIR / "006_inquiry_hour_mv.sql").read_text(encoding="utf-8").replace("{db}", db)
    store.command(f"INSERT INTO {db}.inquiry_hour " + select[select.index("SELECT"):].replace(
        f"FROM {db}.inquiry_events", f"FROM {db}.inquiry_events FINAL"))


HOLIDAY_YEARS = range(2010, 2041)  # baselines reach back to the 2010s (Esbjerg's 2010 baseline)


def load_steering_tables(store: EmbeddedStore | ServerStore, steering: Steering) -> None:
    """Replace unit_prices, opening_hours, closed_days and baseline_mix with the steering file's values, so
    the KPI views and analysts' SQL join what the file says now."""
    db = store.database

    def seconds(clock: time) -> int:
        return 24 * 3600 if clock == time(23, 59, 59, 999999) else clock.hour * 3600 + clock.minute * 60

    prices = [(channel, float(price)) for channel, price in sorted(steering.unit_prices_dkk.items())]
    hours = []
    for channel, channel_hours in sorted(steering.opening_hours.items()):
        for site, week in [("", channel_hours.hours), *sorted(channel_hours.sites.items())]:
            for weekday in range(7):
                hours += [(channel, site, weekday + 1, seconds(o), seconds(c)) for o, c in week.on(weekday)]
    closed = sorted({(day, steering.holiday_name(day) or "closed") for day in steering.closed_days}
                    | {(day, name) for day, name in steering.holidays_in(HOLIDAY_YEARS)})
    mixes = []
    for name, baseline in sorted(steering.baselines.items()):
        for task, shares in sorted(baseline.mix.items()):
            total = sum(shares.values())
            mixes += [(name, task, channel, share / total) for channel, share in sorted(shares.items())]
    for table, schema, rows in (
        ("baseline_mix", [("name", pa.string()), ("task", pa.string()), ("channel", pa.string()),
                          ("share", pa.float64())], mixes),
        ("unit_prices", [("channel", pa.string()), ("price_dkk", pa.float64())], prices),
        ("opening_hours", [("channel", pa.string()), ("site", pa.string()), ("weekday", pa.uint8()),
                           ("opens", pa.uint32()), ("closes", pa.uint32())], hours),
        ("closed_days", [("day", pa.date32()), ("name", pa.string())], closed),
    ):
        # Filled aside and swapped in at once: workers starting side by side each swap in a
        # complete table, and no query sees it empty or doubled meanwhile.
        staging = f"{table}_loading_{uuid.uuid4().hex[:8]}"
        store.command(f"CREATE TABLE {db}.{staging} AS {db}.{table}")
        try:
            if rows:
                columns = list(zip(*rows))
                data = pa.table({name: pa.array(values, type=kind) for (name, kind), values in zip(schema, columns)})
                store.insert_arrow(staging, data)
            store.command(f"EXCHANGE TABLES {db}.{staging} AND {db}.{table}")
        finally:
            store.command(f"DROP TABLE IF EXISTS {db}.{staging}")

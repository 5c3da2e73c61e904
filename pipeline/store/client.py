"""Reach the store from any command: a ClickHouse server directly, embedded chDB through
the running worker (which owns the data directory), or chDB itself when no worker runs.

Every path runs the SQL through pipeline/store/query_guard.py: one read-only query on the
kanalpuls database. With a server, `KANALPULS_STORE__READER_USER` names a read-only user
(the `grafana` user of deploy/clickhouse/users.xml will do) so the server itself refuses
writes whatever the statement says; readonly=1 travels as a request setting either way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from pipeline.ground.network import port_open
from pipeline.ground.settings import Settings
from pipeline.ground.tokens import read_query_token
from pipeline.store.clickhouse import QueryResult, StoreQueryError, StoreUnavailable
from pipeline.store.open import open_store
from pipeline.store.query_guard import read_only_query


def query_worker(host: str, port: int, sql: str, token: str, timeout: float = 60.0) -> QueryResult:
    request = urllib.request.Request(
        f"http://{host}:{port}/store/query", data=json.dumps({"sql": sql}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read() or b"{}").get("error", str(exc))
        except ValueError:
            message = str(exc)
        raise StoreQueryError(message) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StoreUnavailable(f"the worker at {host}:{port} did not answer: {exc}") from exc
    return QueryResult(columns=payload["columns"], rows=[tuple(r) for r in payload["rows"]])


def run_query(settings: Settings, sql: str) -> QueryResult:
    """One read-only query (SELECT, SHOW TABLES, DESCRIBE) on the store, however it is reached."""
    try:
        return _run_query(settings, sql)
    except StoreQueryError as exc:
        if "UNKNOWN_DATABASE" in str(exc):
            raise StoreQueryError(
                f"{exc} — this store ({settings.store.url or settings.store.path}) holds no {settings.store.database} "
                "database yet: run `kanalpuls store init`, or point KANALPULS_VAR_DIR at the store that holds it "
                "(the demo's is var/demo)") from exc
        raise


def _run_query(settings: Settings, sql: str) -> QueryResult:
    if not settings.embedded_store:
        reader = settings.store.model_copy(update={"user": settings.store.reader_user,
                                                   "password": settings.store.reader_password}) \
            if settings.store.reader_user else settings.store
        store = open_store(reader)
        try:
            return read_only_query(store, sql)
        finally:
            store.close()
    host, port = "127.0.0.1", settings.worker.web_port
    if port_open(host, port):
        token = read_query_token(settings.worker.data_dir)
        if not token:
            raise StoreUnavailable(
                f"a worker answers on port {port} but its query token is not readable in {settings.worker.data_dir}: "
                "run this command as the worker's user with the same KANALPULS_VAR_DIR")
        return query_worker(host, port, sql, token)
    store = open_store(settings.store)
    try:
        return read_only_query(store, sql)
    finally:
        store.close()

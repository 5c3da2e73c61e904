"""One process owns the embedded store; workers and commands reach it over loopback.

chDB lets one process open a data directory, so embedded mode has one owner. By default
that is the worker; `kanalpuls store serve` makes it a process of its own, so that two
workers can share the embedded store (a consumer group rebalancing partitions) and every
command can ask it while they run. Point them at it with
`KANALPULS_STORE__URL=kanalpuls://127.0.0.1:<port>`. A ClickHouse server needs none of this.

    POST /command   {"sql": ...}                                  DDL and steering tables
    POST /query     {"sql": ..., "parameters": {...}, "settings": {...}}  -> Arrow IPC stream
    POST /insert?table=...&dedup=...   body: Arrow IPC stream     the worker's inserts

It answers only loopback peers bearing the token it writes (0600) beside the data directory:
whoever may read that file may already read the data directory itself.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
from aiohttp import web

from pipeline.ground.tokens import is_loopback, token_matches, write_query_token
from pipeline.store.clickhouse import EmbeddedStore, QueryResult, StoreQueryError, StoreUnavailable

logger = logging.getLogger(__name__)

SCHEME = "kanalpuls://"
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STORE_KEY = web.AppKey("store", EmbeddedStore)
TOKEN_KEY = web.AppKey("token", str)
LOCK_KEY = web.AppKey("lock", asyncio.Lock)


def token_directory(path: Path) -> Path:
    """Where the store server's token lives: beside the data directory (var/chdb -> var/chdb.server/)."""
    return path.with_name(path.name + ".server")


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _call(request: web.Request, fn: Any, *args: Any) -> Any:
    async with request.app[LOCK_KEY]:
        return await asyncio.to_thread(fn, *args)


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    if not is_loopback(request.remote) or not token_matches(request.headers.get("Authorization"),
                                                            request.app[TOKEN_KEY]):
        return _error(403, "the store is answered only on this machine, with its token")
    try:
        return await handler(request)
    except StoreQueryError as exc:
        return _error(400, str(exc))
    except StoreUnavailable as exc:
        return _error(503, str(exc))
    except (ValueError, KeyError, TypeError, pa.ArrowInvalid) as exc:
        return _error(400, f"malformed request: {type(exc).__name__}")


async def _command(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    await _call(request, request.app[STORE_KEY].command, str(body["sql"]))
    return web.Response(status=204)


async def _query(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    table = await _call(request, request.app[STORE_KEY].query_arrow, str(body["sql"]), body.get("parameters"),
                        body.get("settings"))
    return web.Response(body=_arrow_bytes(table), content_type="application/vnd.apache.arrow.stream")


async def _insert(request: web.Request) -> web.Response:
    table_name = request.query["table"]
    if not _TABLE.match(table_name):
        return _error(400, "table must be a plain table name")
    data = ipc.open_stream(await request.read()).read_all()
    data.validate(full=True)  # offsets pointing past their buffers read (or hung on) the server's own memory
    await _call(request, request.app[STORE_KEY].insert_arrow, table_name, data, request.query.get("dedup", ""))
    return web.Response(status=204)


def build_store_app(store: EmbeddedStore, token: str, max_body_bytes: int = 512 * 1024 * 1024) -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=max_body_bytes)
    app[STORE_KEY], app[TOKEN_KEY], app[LOCK_KEY] = store, token, asyncio.Lock()
    app.router.add_post("/command", _command)
    app.router.add_post("/query", _query)
    app.router.add_post("/insert", _insert)
    return app


def serve_store(path: Path, database: str, port: int) -> None:
    """Own the embedded store at `path` and answer on 127.0.0.1:`port` until stopped."""
    store = EmbeddedStore(path, database)
    token = write_query_token(token_directory(path))
    try:
        web.run_app(build_store_app(store, token), host="127.0.0.1", port=port, print=None)
    finally:
        store.close()


class RemoteEmbeddedStore:
    """The Store protocol over `kanalpuls store serve`: what workers and commands use when
    KANALPULS_STORE__URL is kanalpuls://host:port."""

    def __init__(self, url: str, database: str, token_dir: Path, timeout: float = 300.0) -> None:
        self.base = "http://" + url.removeprefix(SCHEME).rstrip("/")
        self.database = database
        self.timeout = timeout
        try:
            self._token = (token_dir / "query-token").read_text(encoding="ascii").strip()
        except OSError as exc:
            raise StoreUnavailable(f"cannot read the store server's token in {token_dir}: {exc.strerror}; "
                                   "is `kanalpuls store serve` running with the same KANALPULS_STORE__PATH?") from exc

    def _post(self, path: str, body: bytes, content_type: str) -> bytes:
        request = urllib.request.Request(self.base + path, data=body, method="POST", headers={
            "Authorization": f"Bearer {self._token}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read() or b"{}").get("error", str(exc))
            except ValueError:
                message = str(exc)
            if exc.code == 503:
                raise StoreUnavailable(message) from exc
            raise StoreQueryError(message) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StoreUnavailable(f"the store server at {self.base} did not answer: {exc}") from exc

    def command(self, sql: str) -> None:
        self._post("/command", json.dumps({"sql": sql}).encode(), "application/json")

    def query_arrow(self, sql: str, parameters: dict[str, object] | None = None,
                    settings: dict[str, int | str] | None = None) -> pa.Table:
        body = json.dumps({"sql": sql, "parameters": parameters, "settings": settings}, default=str).encode()
        return ipc.open_stream(self._post("/query", body, "application/json")).read_all()

    def query(self, sql: str, parameters: dict[str, object] | None = None,
              settings: dict[str, int | str] | None = None) -> QueryResult:
        table = self.query_arrow(sql, parameters, settings)
        return QueryResult(columns=list(table.column_names), rows=[tuple(r.values()) for r in table.to_pylist()])

    def insert_arrow(self, table: str, data: pa.Table, token: str = "") -> None:
        query = urllib.parse.urlencode({"table": table, "dedup": token})
        self._post(f"/insert?{query}", _arrow_bytes(data), "application/vnd.apache.arrow.stream")

    def close(self) -> None:
        pass


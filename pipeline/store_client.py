"""Reach the store from any command: a ClickHouse server directly, embedded chDB through
the running worker (which owns the data directory), or chDB itself when no worker runs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from pipeline.broker import port_open
from pipeline.settings import Settings
from pipeline.store import QueryResult, StoreQueryError, StoreUnavailable, open_store


def query_worker(host: str, port: int, sql: str, timeout: float = 30.0) -> QueryResult:
    request = urllib.request.Request(
        f"http://{host}:{port}/store/query", data=json.dumps({"sql": sql}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise StoreQueryError(json.loads(exc.read() or b"{}").get("error", str(exc))) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StoreUnavailable(f"the worker at {host}:{port} did not answer: {exc}") from exc
    return QueryResult(columns=payload["columns"], rows=[tuple(r) for r in payload["rows"]])


def run_query(settings: Settings, sql: str) -> QueryResult:
    if not settings.embedded_store:
        store = open_store(settings.store)
        try:
            return store.query(sql)
        finally:
            store.close()
    host, port = settings.worker.web_host, settings.worker.web_port
    if port_open(host, port):
        return query_worker(host, port, sql)
    store = open_store(settings.store)
    try:
        return store.query(sql)
    finally:
        store.close()

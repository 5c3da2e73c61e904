"""The worker's /store/query door on a real worker: only this machine, only with the
worker's own token, only one read-only query; nothing sent through it changes the store."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline.ground.settings import Settings
from pipeline.ground.tokens import read_query_token
from pipeline.store.clickhouse import StoreQueryError
from pipeline.store.client import query_worker, run_query
from pipeline.store.query_guard import QueryRefused
from pipeline.worker.supervise import worker_process


def post(settings: Settings, body: bytes, authorization: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(f"http://127.0.0.1:{settings.worker.web_port}/store/query", data=body,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_the_store_query_door_opens_only_for_the_workers_token_and_only_to_read(
    topics: Settings, tmp_path: Path
) -> None:
    settings = topics
    db = settings.store.database
    count = f"SELECT count() FROM {db}.inquiry_events"
    with worker_process(settings, tmp_path / "worker.log"):
        token = read_query_token(settings.worker.data_dir)
        assert token
        assert run_query(settings, count).scalar() == 0  # kanalpuls query's way in

        sql = json.dumps({"sql": count}).encode()
        for header in (None, "", "Bearer ", f"Bearer {token[:-1]}", f"Bearer {token[:8]}", f"Basic {token}"):
            status, payload = post(settings, sql, header)
            assert status == 403, (header, payload)
        assert post(settings, sql, f"Bearer {token}")[0] == 200

        for body in (b"not json", b"[]", b'{"sql": 1}', json.dumps({"sql": "x" * 300_000}).encode()):
            assert post(settings, body, f"Bearer {token}")[0] == 400

        forged = (f"WITH 1 AS x INSERT INTO {db}.inquiry_events (event_id, occurred_at, municipality, channel) "
                  f"SELECT lower(hex(MD5(toString(number)))), now64(3), '751', 'phone' FROM numbers(1000) --")
        for attack in (forged, "SELECT * FROM file('/etc/passwd', 'LineAsString') --",
                       f"SELECT 1; DROP TABLE {db}.inquiry_events", "SELECT file('/etc/hostname')"):
            with pytest.raises(StoreQueryError):
                query_worker("127.0.0.1", settings.worker.web_port, attack, token)
        assert run_query(settings, count).scalar() == 0
    with pytest.raises(QueryRefused):  # the same door when no worker holds the store
        run_query(settings, "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')")

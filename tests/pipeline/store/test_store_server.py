"""`kanalpuls store serve`: the embedded store owned by one process, reached by others over loopback
(so two workers can share it), against a real server process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from pipeline.ground.settings import Settings
from pipeline.store.clickhouse import StoreQueryError, init_schema
from pipeline.store.client import run_query
from pipeline.store.open import open_store
from pipeline.store.query_guard import QueryRefused
from pipeline.store.server import RemoteEmbeddedStore
from tests.factories import phone_event
from tests.stores import insert_events


def test_a_second_process_uses_the_served_store_as_its_own(store_server: Settings) -> None:
    store = open_store(store_server.store)
    assert isinstance(store, RemoteEmbeddedStore)
    init_schema(store)
    events = [phone_event(n) for n in range(5)]
    insert_events(store, events)
    db = store.database
    assert store.query(f"SELECT count() FROM {db}.inquiry_events").scalar() == 5
    found = store.query(f"SELECT count() FROM {db}.inquiry_events WHERE event_id IN {{ids:Array(String)}}",
                        parameters={"ids": [events[0].event_id, "x' OR 1 --"]}).scalar()
    assert found == 1
    with pytest.raises(StoreQueryError, match="(?i)syntax"):
        store.query("SELEC 1")
    # what a command asks goes through the read-only door here too
    assert run_query(store_server, f"SELECT count() FROM {db}.inquiry_minute").scalar() == 1
    with pytest.raises(QueryRefused):
        run_query(store_server, "SELECT * FROM file('/etc/passwd', 'LineAsString')")


def test_an_insert_retried_with_its_token_is_stored_once(store_server: Settings) -> None:
    store = open_store(store_server.store)
    init_schema(store)
    from pipeline.sinks.clickhouse import to_store_table
    from schemas.wire import Message, decode_messages

    data = to_store_table(decode_messages([Message(phone_event(1).model_dump_json().encode())]).events)
    for _ in range(2):
        store.insert_arrow("inquiry_events", data, token="same-batch")
    assert store.query(f"SELECT count() FROM {store.database}.inquiry_events").scalar() == 1


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer wrong"])
def test_without_the_servers_token_nothing_is_answered(store_server: Settings, authorization: str | None) -> None:
    port = store_server.store.url.rsplit(":", 1)[1]
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization else {})
    request = urllib.request.Request(f"http://127.0.0.1:{port}/command", method="POST", headers=headers,
                                     data=json.dumps({"sql": "CREATE DATABASE intruder"}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    store = open_store(store_server.store)
    assert store.query("SELECT count() FROM system.databases WHERE name = 'intruder'").scalar() == 0


def test_an_insert_into_something_that_is_no_table_name_is_refused(store_server: Settings) -> None:
    store = open_store(store_server.store)
    init_schema(store)
    from pipeline.sinks.clickhouse import to_store_table
    from schemas.wire import Message, decode_messages

    data = to_store_table(decode_messages([Message(phone_event(1).model_dump_json().encode())]).events)
    with pytest.raises(StoreQueryError, match="plain table name"):
        store.insert_arrow("inquiry_events SELECT 1; DROP TABLE x", data)


def test_an_insert_body_that_is_no_valid_arrow_is_refused(store_server: Settings) -> None:
    import io

    import pyarrow as pa
    import pyarrow.ipc as ipc

    store = open_store(store_server.store)
    init_schema(store)
    table = pa.table({"s": pa.array(["abc", "def"])})
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    body = bytearray(sink.getvalue())
    offsets = bytes(pa.array([0, 3, 6], pa.int32()).buffers()[1])
    at = body.find(offsets)
    body[at + 8: at + 12] = (65536).to_bytes(4, "little")  # the second string now ends far past its buffer
    port = store_server.store.url.rsplit(":", 1)[1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/insert?table=unit_prices", data=bytes(body),
                                     method="POST", headers={"Authorization": f"Bearer {store._token}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400

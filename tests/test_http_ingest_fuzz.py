"""Arbitrary JSON through POST /v1/events, with a real worker behind the real broker: the
worker never exits, dead-letters nothing the ingest accepted (202 means kept), and stores no
value the event contract forbids."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.http_ingest import build_http_app
from pipeline.ground.settings import HttpSettings, Settings
from pipeline.store.client import run_query
from pipeline.worker.supervise import worker_process
from schemas import make_event_id
from schemas.inquiry import LINE_MAX, MAX_DURATION_SECONDS, NAME_MAX, OFFSET_MAX, PATH_MAX
from tests.factories import phone_event
from tests.topics import read_topic
from tests.waiting import wait_for

TOKEN = "fuzz-token-for-tests"
BASE = json.loads(phone_event(1).model_dump_json())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)
edge_values = st.sampled_from([
    "", "x" * (NAME_MAX + 1), "x" * NAME_MAX, 1e308, -0.0, 0, MAX_DURATION_SECONDS, MAX_DURATION_SECONDS + 1,
    "2000-01-01T00:30:00+01:00", "2099-12-31T23:59:59Z", "2099-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z", "2026-03-02T09:00:00", LINE_MAX, LINE_MAX + 1, OFFSET_MAX + 1, "010190-1234",
    "borger@example.dk", "walk_in", "phone", "85.06.00", "unclassified", "\x00", "Rådhuset", "/" * (PATH_MAX + 1),
])


@st.composite
def event_documents(draw: st.DrawFn) -> dict:
    """A valid event with some fields replaced by arbitrary or edge values, some keys added or dropped."""
    document = json.loads(json.dumps(BASE))
    document["event_id"] = make_event_id("fuzz", str(draw(st.integers(0, 10**9))), "arrived")
    for name in draw(st.lists(st.sampled_from([*BASE, "source.system", "source.file", "source.line",
                                               "source.offset", "extra"]), max_size=4)):
        value = draw(json_values | edge_values)
        if name.startswith("source."):
            if isinstance(document.get("source"), dict):
                document["source"][name.removeprefix("source.")] = value
        elif draw(st.booleans()) and name in document:
            del document[name]
        else:
            document[name] = value
    return document


def contract_breaches(settings: Settings) -> list[tuple]:
    """Stored rows holding a value the contract forbids."""
    db = settings.store.database
    return run_query(settings, f"""
        SELECT event_id FROM {db}.inquiry_events
        WHERE lengthUTF8(task_label) > {NAME_MAX} OR lengthUTF8(department) > {NAME_MAX}
           OR lengthUTF8(site) > {NAME_MAX} OR lengthUTF8(queue) > {NAME_MAX}
           OR lengthUTF8(source_system) NOT BETWEEN 1 AND {NAME_MAX} OR lengthUTF8(source_file) > {PATH_MAX}
           OR NOT isFinite(ifNull(wait_seconds, 0)) OR ifNull(wait_seconds, 0) NOT BETWEEN 0 AND {MAX_DURATION_SECONDS}
           OR NOT isFinite(ifNull(handle_seconds, 0))
           OR ifNull(handle_seconds, 0) NOT BETWEEN 0 AND {MAX_DURATION_SECONDS}
           OR toYear(occurred_at) NOT BETWEEN 2000 AND 2099
           OR ifNull(source_line, 1) NOT BETWEEN 1 AND {LINE_MAX} OR ifNull(source_offset, 0) > {OFFSET_MAX}
    """).rows


def test_arbitrary_json_never_stops_the_worker_nor_stores_a_forbidden_value(topics: Settings, tmp_path: Path) -> None:
    settings = topics.model_copy(update={"http": HttpSettings(token=SecretStr(TOKEN))})
    accepted: list[str] = []
    statuses: set[int] = set()

    async def post(body: bytes) -> int:
        client = TestClient(TestServer(build_http_app(settings)))
        await client.start_server()
        try:
            response = await client.post("/v1/events", data=body, headers={"Authorization": f"Bearer {TOKEN}"})
            return response.status
        finally:
            await client.close()

    with worker_process(settings, tmp_path / "worker.log") as worker:
        @hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(event_documents(), min_size=1, max_size=3))
        def post_documents(documents: list[dict]) -> None:
            body = b"\n".join(json.dumps(d, allow_nan=True).encode() for d in documents)
            status = asyncio.run(post(body))
            assert status in (202, 413, 422), status
            statuses.add(status)
            if status == 202:
                accepted.extend(d["event_id"] for d in documents)

        post_documents()
        assert 202 in statuses and 422 in statuses  # the run exercised both answers
        db = settings.store.database
        wait_for(lambda: run_query(settings, f"SELECT uniqExact(event_id) FROM {db}.inquiry_events").scalar()
                 == len(set(accepted)), 60, "every accepted event stored")
        assert worker.poll() is None, "the worker exited"
        assert contract_breaches(settings) == []
    letters = asyncio.run(read_topic(settings.kafka.bootstrap_servers, settings.kafka.dead_letter_topic))
    assert letters == []  # nothing the ingest accepted was refused by the worker

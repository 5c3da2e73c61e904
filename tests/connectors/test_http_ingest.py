"""`kanalpuls serve`: the HTTP ingest against the real broker."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from connectors.http_ingest import STATS_KEY, HttpIngestError, build_http_app
from pipeline.ground.settings import HttpSettings, Settings
from schemas import Stage
from tests.factories import phone_event
from tests.topics import read_topic

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def settings(topics: Settings) -> Settings:
    """No worker runs here: 202 means the broker has the events (what these tests read back);
    tests/test_http_confirmation.py holds the default, 202 once stored, against a worker."""
    connectors = topics.connectors.model_copy(update={"confirm": "broker"})
    return topics.model_copy(update={"http": HttpSettings(token=SecretStr(TOKEN), max_body_bytes=64 * 1024),
                                     "connectors": connectors})


async def client_for(settings: Settings) -> TestClient:
    client = TestClient(TestServer(build_http_app(settings)))
    await client.start_server()
    return client


def ndjson(*events) -> bytes:  # type: ignore[no-untyped-def]
    return b"\n".join(e.model_dump_json().encode() for e in events)


async def produced(settings: Settings) -> list[dict]:
    values = await read_topic(settings.kafka.bootstrap_servers, settings.kafka.inquiries_topic)
    return [json.loads(line) for _, value in values for line in value.split(b"\n")]


async def test_without_a_valid_token_nothing_is_written(settings: Settings) -> None:
    client = await client_for(settings)
    try:
        body = ndjson(phone_event(1))
        assert (await client.post("/v1/events", data=body)).status == 401
        wrong = await client.post("/v1/events", data=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        # What the integrator reads: what is wrong, and the header to send.
        assert await wrong.json() == {"title": "a valid bearer token is required",
                                      "hint": "Authorization: Bearer <KANALPULS_HTTP__TOKEN>"}
    finally:
        await client.close()
    assert await produced(settings) == []


async def test_a_valid_batch_is_acknowledged_after_the_broker_has_it(settings: Settings) -> None:
    events = [phone_event(1), phone_event(1, stage=Stage.answered, wait_seconds=4.0), phone_event(2)]
    client = await client_for(settings)
    try:
        response = await client.post("/v1/events", data=ndjson(*events), headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 202
        assert await response.json() == {"accepted": 3}
    finally:
        await client.close()
    assert sorted(e["event_id"] for e in await produced(settings)) == sorted(e.event_id for e in events)


async def test_a_batch_with_an_invalid_event_is_refused_whole_naming_line_and_field(settings: Settings) -> None:
    bad = json.loads(phone_event(2).model_dump_json())
    bad["channel"] = "fax"
    body = ndjson(phone_event(1)) + b"\n" + json.dumps(bad).encode()
    client = await client_for(settings)
    try:
        response = await client.post("/v1/events", data=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 422
        problem = await response.json()
    finally:
        await client.close()
    assert problem["invalid"][0]["line"] == 2
    assert problem["invalid"][0]["errors"][0]["field"] == "channel"
    assert await produced(settings) == []


async def test_a_body_over_the_limit_is_refused(settings: Settings) -> None:
    client = await client_for(settings)
    try:
        body = ndjson(*[phone_event(i) for i in range(200)])  # ~100 KB > 64 KiB
        response = await client.post("/v1/events", data=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 413
    finally:
        await client.close()
    assert await produced(settings) == []


async def test_schema_and_health_are_served(settings: Settings) -> None:
    client = await client_for(settings)
    try:
        schema = await (await client.get("/v1/schema")).json(content_type=None)
        assert "event_id" in schema["properties"] and schema["$id"].endswith("inquiry_event.v1.json")
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


def test_the_ingest_refuses_to_start_without_a_token(topics: Settings) -> None:
    with pytest.raises(HttpIngestError,
                       match="^set KANALPULS_HTTP__TOKEN: the HTTP ingest refuses to run without a token$"):
        build_http_app(topics)


def test_the_readme_curl_example_is_a_valid_event() -> None:
    """The one-event curl example in the README is what a telephony integrator copies first."""
    import re
    from pathlib import Path

    from schemas import InquiryEvent

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    (body,) = re.findall(r"--data '(\{.*?\})'", readme, re.DOTALL)
    assert InquiryEvent.model_validate_json(body).partition_key == "751/phone/85.02.00"


async def test_health_turns_503_when_the_broker_goes_away(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A load balancer must stop sending events to an ingest that cannot deliver them.
    A broker of its own, since the session's broker must stay up for the other tests."""
    from pipeline.worker.broker import EmbeddedBroker
    from pipeline.worker.supervise import free_port

    port = free_port()
    broker = EmbeddedBroker(port).start()
    try:
        settings = Settings(var_dir=tmp_path / "var", kafka={"bootstrap": f"127.0.0.1:{port}"},
                            http=HttpSettings(token=SecretStr(TOKEN)))
        client = await client_for(settings)
        try:
            assert (await client.get("/healthz")).status == 200
            broker.stop()
            answer = await client.get("/healthz")
            assert answer.status == 503
            assert f"127.0.0.1:{port}" in (await answer.json())["bootstrap"]
        finally:
            await client.close()
    finally:
        broker.stop()


# --------------------------------------------------------------------------- bounds, masking, tokens


def as_dict(event) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(event.model_dump_json())


def with_changes(**changes: object) -> bytes:
    event = as_dict(phone_event(7))
    for name, value in changes.items():
        if name.startswith("source_"):
            event["source"][name.removeprefix("source_")] = value
        else:
            event[name] = value
    return json.dumps(event).encode()


@pytest.mark.parametrize(("body", "field"), [
    (with_changes(wait_seconds=1e308), "wait_seconds"),
    (with_changes(wait_seconds=1.5).replace(b"1.5", b"Infinity"), "wait_seconds"),
    (with_changes(wait_seconds=1.5).replace(b"1.5", b"NaN"), "wait_seconds"),
    (with_changes(handle_seconds=1.5).replace(b"1.5", b"1e400"), "handle_seconds"),
    (with_changes(handle_seconds=-1), "handle_seconds"),
    (with_changes(source_line=10**20), "source.line"),
    (with_changes(source_offset=-1), "source.offset"),
    (with_changes(occurred_at="2000-01-01T00:30:00+01:00"), "occurred_at"),
    (with_changes(occurred_at="2100-01-01T00:00:00Z"), "occurred_at"),
    (with_changes(site="R" * 201), "site"),
    (with_changes(queue="q" * 150_000), "queue"),
    (with_changes(task_label="x" * 201), "task_label"),
    (with_changes(source_system=""), "source.system"),
    (with_changes(source_file="/" * 1025), "source.file"),
])
async def test_a_value_the_contract_forbids_is_refused_naming_the_field(settings: Settings, body: bytes,
                                                                        field: str) -> None:
    """202 means the worker keeps it: each of these was accepted and then dead-lettered, or
    stored (a wait of 1e308 made the average speed of answer 5e307)."""
    client = await client_for(settings.model_copy(update={"http": HttpSettings(token=SecretStr(TOKEN))}))
    try:
        response = await client.post("/v1/events", data=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 422
        problem = await response.json()
    finally:
        await client.close()
    assert field in {error["field"] for error in problem["invalid"][0]["errors"]}
    assert "R" * 50 not in json.dumps(problem) and "q" * 50 not in json.dumps(problem)  # no value quoted back
    assert await produced(settings) == []


async def test_personal_data_in_free_text_fields_is_masked_before_it_reaches_kafka(settings: Settings) -> None:
    planted = {"department": "Borgerservice 010190-1234", "queue": "borger@example.dk",
               "task_label": "ring 12345678", "site": "Rådhuset +4512345678",
               "source_system": "pbx 10.0.0.7", "source_file": "/logs/0101901234.log"}
    client = await client_for(settings)
    try:
        response = await client.post("/v1/events", data=with_changes(**planted),
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 202
    finally:
        await client.close()
    (event,) = await produced(settings)
    text = json.dumps(event)
    for secret in ("010190", "0101901234", "borger@example.dk", "12345678", "10.0.0.7"):
        assert secret not in text
    assert event["department"] == "Borgerservice <cpr>" and event["queue"] == "<email>"
    assert event["source"]["system"] == "pbx <ip>"


@pytest.mark.parametrize("header", ["Bearer ", "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN[:1]}",
                                    f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN])
async def test_almost_the_token_is_refused(settings: Settings, header: str) -> None:
    client = await client_for(settings)
    try:
        response = await client.post("/v1/events", data=ndjson(phone_event(1)), headers={"Authorization": header})
        assert response.status == 401
    finally:
        await client.close()
    assert await produced(settings) == []


async def test_too_many_lines_in_one_request_are_refused(settings: Settings) -> None:
    client = await client_for(settings.model_copy(update={"http": HttpSettings(token=SecretStr(TOKEN))}))
    try:
        response = await client.post("/v1/events", data=b"\n" * 20_000, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 413
    finally:
        await client.close()


async def test_the_error_list_of_a_huge_bad_batch_is_bounded(settings: Settings) -> None:
    client = await client_for(settings.model_copy(update={"http": HttpSettings(token=SecretStr(TOKEN))}))
    try:
        response = await client.post("/v1/events", data=b"{}\n" * 5_000, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 422
        problem = await response.json()
    finally:
        await client.close()
    assert problem["title"].startswith("5000 invalid") and len(problem["invalid"]) == problem["listed"] == 100


@pytest.mark.parametrize("token", ["short", "change-me-to-a-long-random-string"])
def test_the_ingest_refuses_a_placeholder_or_short_token(topics: Settings, token: str) -> None:
    with pytest.raises(HttpIngestError, match="KANALPULS_HTTP__TOKEN (is still the placeholder|is shorter)"):
        build_http_app(topics.model_copy(update={"http": HttpSettings(token=SecretStr(token))}))


async def test_the_source_counts_requests_and_a_refused_batch_is_not_a_failure_of_the_server(settings: Settings) -> None:
    """What `kanalpuls serve` sums up on stop: every request answered, events taken, and a 422's
    events skipped by reason (the client was told), so an ingest that refused a bad batch still
    exits 0."""
    bad = json.loads(phone_event(2).model_dump_json())
    bad["channel"] = "fax"
    client = await client_for(settings)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.post("/v1/events", data=json.dumps(bad).encode(), headers=auth)).status == 422
        assert (await client.post("/v1/events", data=ndjson(phone_event(1)), headers=auth)).status == 202
        stats = client.server.app[STATS_KEY]
    finally:
        await client.close()
    assert (stats.files, stats.records, stats.events, stats.rejected) == (2, 2, 1, 0)
    assert stats.skipped == {"invalid event, batch answered 422": 1} and not stats.everything_rejected

"""Direct ingest over HTTP: telephony and form systems POST InquiryEvents, we produce them.

    POST /v1/events   one JSON event, or NDJSON (one event per line); bearer token required
    GET  /v1/schema   the InquiryEvent JSON Schema
    GET  /healthz     200 when a broker answers, 503 when none does

A batch is all or nothing: if any event is invalid the answer is 422 naming each bad line,
field and reason, and nothing is produced, so a client can fix and resend the whole batch
without creating duplicates. 202 means the worker has stored every event in ClickHouse
(KANALPULS_CONNECTORS__CONFIRM=stored, the default; with `broker`, that the broker has
them, acks=all). 503 means not confirmed in time: resending is always safe, since an event
is stored once per event_id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import ClassVar

import orjson
from aiohttp import web
from pydantic import ValidationError

from connectors.config import ConnectorConfig, system_field
from connectors.outbox import ConnectorStats
from connectors.source import Inputs, Traits
from pipeline.ground.errors import TerminalError
from pipeline.ground.privacy import masked_name
from pipeline.ground.settings import Settings, weak_secret
from pipeline.ground.tokens import token_matches
from pipeline.sinks.base import EventSink
from pipeline.sinks.kafka import KafkaEventSink, ProduceFailed, kafka_sink
from schemas import InquiryEvent
from schemas.export import json_schema_documents
from schemas.inquiry import PATH_MAX
from schemas.wire import Message, decode_messages, encode_batch

logger = logging.getLogger(__name__)

KIND = "http_ingest"

SINK_KEY = web.AppKey("sink", KafkaEventSink)
SETTINGS_KEY = web.AppKey("settings", Settings)
STATS_KEY = web.AppKey("stats", ConnectorStats)  # requests answered (`files`), events taken, refused by reason


class HttpIngestError(TerminalError):
    """The HTTP ingest cannot start; the message says which setting to fix."""


def _problem(status: int, title: str, **extra: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"title": title, **extra}), content_type="application/json")


MAX_EVENTS_PER_REQUEST = 10_000
MAX_ERRORS_LISTED = 100
# Free-text fields a client fills: masked like a connector masks what it dead-letters, so a
# CPR number typed into a queue name never reaches a topic or a table.
_FREE_TEXT = ("task_label", "department", "site", "queue")


def masked(event: InquiryEvent) -> InquiryEvent:
    """The event with personal-data patterns in its free-text fields replaced by placeholders."""
    changes = {name: masked_name(getattr(event, name)) for name in _FREE_TEXT}
    source = {"system": masked_name(event.source.system), "file": masked_name(event.source.file, PATH_MAX)}
    changes = {name: value for name, value in changes.items() if value != getattr(event, name)}
    if source != {"system": event.source.system, "file": event.source.file}:
        changes["source"] = event.source.model_copy(update=source)
    return event.model_copy(update=changes) if changes else event


def _line_error(number: int, errors: list[dict[str, object]]) -> dict[str, object]:
    return {"line": number, "errors": errors[:10]}


def parse_events(body: bytes) -> tuple[list[InquiryEvent], list[dict[str, object]]]:
    """Events of a body (one JSON object or NDJSON), and an error entry per invalid line.

    Each line is validated by the event model (errors name the field, never the value), its
    free-text fields masked, and the whole batch then decoded by the worker's own decoder:
    what this answers 202 for is exactly what the worker keeps, never a dead letter later."""
    events: list[InquiryEvent] = []
    numbers: list[int] = []
    errors: list[dict[str, object]] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(masked(InquiryEvent.model_validate_json(line)))
            numbers.append(number)
        except ValidationError as exc:
            errors.append(_line_error(number, [
                {"field": ".".join(str(p) for p in e["loc"]) or "(event)", "reason": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)]))
    if events and not errors:
        decoded = decode_messages([Message(encode_batch(events))])
        for invalid in decoded.invalid:
            errors.append(_line_error(numbers[invalid.line - 1], [{"field": "(event)", "reason": invalid.reason}]))
    return events, errors


async def post_events(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    token = settings.http.token.get_secret_value() if settings.http.token else ""
    if not token_matches(request.headers.get("Authorization"), token):
        return _problem(401, "a valid bearer token is required", hint="Authorization: Bearer <KANALPULS_HTTP__TOKEN>")
    if request.content_length is not None and request.content_length > settings.http.max_body_bytes:
        return _problem(413, f"body larger than {settings.http.max_body_bytes} bytes; send smaller batches")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _problem(413, f"body larger than {settings.http.max_body_bytes} bytes; send smaller batches")
    if body.count(b"\n") >= MAX_EVENTS_PER_REQUEST:
        return _problem(413, f"more than {MAX_EVENTS_PER_REQUEST} lines in one request; send smaller batches")
    events, errors = await asyncio.to_thread(parse_events, body)  # 6 MiB take seconds: not on the event loop
    stats = request.app[STATS_KEY]
    stats.files += 1  # a request answered; a refused batch is the client's to fix, told in the answer
    if errors:
        stats.records += len(errors)
        stats.skipped["invalid event, batch answered 422"] += len(errors)
        return _problem(422, f"{len(errors)} invalid event(s); nothing was accepted",
                        invalid=errors[:MAX_ERRORS_LISTED], listed=min(len(errors), MAX_ERRORS_LISTED))
    if not events:
        return _problem(422, "no events in the body: send one JSON event or NDJSON, one event per line")
    by_key: defaultdict[str, list[InquiryEvent]] = defaultdict(list)
    for event in events:
        by_key[event.partition_key].append(event)
    sink = request.app[SINK_KEY]
    try:
        receipt = await sink.send_events(list(by_key.items()))
    except ProduceFailed as exc:
        logger.warning("broker did not acknowledge an HTTP batch: %s", exc)
        stats.records += len(events)
        stats.skipped["not acknowledged, batch answered 503"] += len(events)
        return _problem(503, "the broker did not acknowledge the events; retry later", detail=str(exc))
    try:
        # With confirm=stored (the default), 202 means stored in ClickHouse, not only on Kafka.
        await asyncio.wait_for(asyncio.shield(receipt), settings.http.confirm_seconds)
    except asyncio.TimeoutError:
        stats.records += len(events)
        stats.skipped["not confirmed stored, batch answered 503"] += len(events)
        return _problem(503, f"the events were sent but not confirmed stored within {settings.http.confirm_seconds:.0f}"
                             " s; send the batch again (events carry their ids, so a resent event is stored once)")
    finally:
        sink.settled(receipt)
    stats.records += len(events)
    stats.events += len(events)
    return web.Response(status=202, body=orjson.dumps({"accepted": len(events)}), content_type="application/json")


async def get_schema(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(json_schema_documents()["inquiry_event.v1.json"]),
                        content_type="application/schema+json")


async def healthz(request: web.Request) -> web.Response:
    if not await request.app[SINK_KEY].broker_reachable():
        return _problem(503, "no Kafka broker answers", bootstrap=request.app[SETTINGS_KEY].kafka.bootstrap_servers)
    return web.Response(body=b'{"status": "ok"}', content_type="application/json")


def build_http_app(settings: Settings, sink: KafkaEventSink | None = None) -> web.Application:
    """The aiohttp application writing to `sink`; without one, a Kafka producer of its own starts
    and stops with it (tests, and the demo's ingest beside the worker)."""
    if not settings.http.token or not settings.http.token.get_secret_value():
        raise HttpIngestError("set KANALPULS_HTTP__TOKEN: the HTTP ingest refuses to run without a token")
    problem = weak_secret(settings.http.token.get_secret_value())
    if problem:
        raise HttpIngestError(f"KANALPULS_HTTP__TOKEN {problem}: every client with it may write events")
    app = web.Application(client_max_size=settings.http.max_body_bytes)
    app[SETTINGS_KEY] = settings
    app[STATS_KEY] = ConnectorStats()
    app.router.add_post("/v1/events", post_events)
    app.router.add_get("/v1/schema", get_schema)
    app.router.add_get("/healthz", healthz)
    if sink is not None:
        app[SINK_KEY] = sink
        return app

    async def producer(app: web.Application):  # type: ignore[no-untyped-def]
        sink = kafka_sink(settings, KIND)
        await sink.start()
        app[SINK_KEY] = sink
        yield
        await sink.stop()

    app.cleanup_ctx.append(producer)
    return app


class HttpIngestConfig(ConnectorConfig):
    """The HTTP ingest's entry in a run file: its address, token and limits are settings
    (KANALPULS_HTTP__*), since clients must know them; events arrive whole, so the mapping's
    rule sets and a time zone are not used."""

    system: str = system_field(KIND, "the HTTP ingest; the key its confirmations come under")


class HttpSource:
    """Events POSTed by telephony and form systems, served on KANALPULS_HTTP__HOST:PORT until
    `stop` is set. There is no checkpoint: a request is answered 202 only once its events are
    confirmed, and a client resends what was not."""

    # Clients send contact keys (or none); it listens on KANALPULS_HTTP__HOST/PORT, once per process.
    traits: ClassVar[Traits] = Traits("request(s)", takes_paths=False, reads="events POSTed over HTTP",
                                      keys_contacts=False, one_per_process=True)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = ConnectorStats()

    @classmethod
    def open(cls, settings: Settings, config: HttpIngestConfig, inputs: Inputs, parser_class: None = None) -> HttpSource:
        build_http_app(settings)  # refuses a missing or weak token before anything starts
        return cls(settings)

    async def run(self, sink: EventSink, stop: asyncio.Event | None = None) -> ConnectorStats:
        http = self.settings.http
        app = build_http_app(self.settings, sink)  # type: ignore[arg-type]
        app[STATS_KEY] = self.stats
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, http.host, http.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise HttpIngestError(f"cannot listen on {http.host}:{http.port} ({exc.strerror}): "
                                  "set KANALPULS_HTTP__PORT to a free port") from exc
        logger.info("HTTP ingest on http://%s:%d/v1/events", http.host, http.port)
        try:
            await (stop.wait() if stop is not None else asyncio.Event().wait())
        finally:
            await runner.cleanup()
        return self.stats

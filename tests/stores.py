"""Putting events into a chDB store in tests, as the worker's insert does (the store itself
comes from a test module: chDB opens one data directory per process at a time)."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.sinks.clickhouse import to_store_table
from pipeline.store.clickhouse import EmbeddedStore
from schemas import InquiryEvent
from schemas.wire import Message, decode_messages


def insert_events(store: EmbeddedStore, events: Iterable[InquiryEvent]) -> None:
    """Encode the events as one NDJSON message, decode them as the worker does and insert
    them into inquiry_events (the materialized views fill the rollups)."""
    decoded = decode_messages([Message(b"\n".join(e.model_dump_json().encode() for e in events), 0, 0)])
    assert not decoded.invalid, decoded.invalid[:1]
    store.insert_arrow("inquiry_events", to_store_table(decoded.events))

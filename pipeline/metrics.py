"""Every Prometheus metric kanalpuls exposes, in one place; components only update them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter("kanalpuls_worker_events_consumed_total", "Events read from the inquiries topic")
EVENTS_DUPLICATE = Counter("kanalpuls_worker_events_duplicate_total", "Events dropped as already stored")
EVENTS_STORED = Counter("kanalpuls_worker_events_stored_total", "Events inserted into ClickHouse", ["channel"])
EVENTS_INVALID = Counter("kanalpuls_worker_events_invalid_total", "Invalid events dead-lettered by the worker")
BATCH_SECONDS = Histogram(
    "kanalpuls_worker_batch_seconds", "Time to decode, dedupe, store and aggregate one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STORE_RETRIES = Counter("kanalpuls_worker_store_retries_total", "ClickHouse inserts retried after a transient error")
NEWEST_EVENT = Gauge("kanalpuls_worker_newest_event_timestamp_seconds", "occurred_at of the newest stored event")

CONNECTOR_RECORDS = Counter(
    "kanalpuls_connector_records_total", "Records read by connectors, by outcome", ["connector", "outcome"]
)
CONNECTOR_SKIPPED = Counter("kanalpuls_connector_skipped_total", "Records skipped as not inquiries", ["connector", "reason"])

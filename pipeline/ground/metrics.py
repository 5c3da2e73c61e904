"""Every Prometheus metric kanalpuls exposes, in one place; components only update them.

The names and labels are a contract: deploy/prometheus/ alert rules read them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter("kanalpuls_worker_events_consumed_total", "Events read from the inquiries topic")
EVENTS_DUPLICATE = Counter("kanalpuls_worker_events_duplicate_total", "Events dropped as already stored")
# By stage too, so Prometheus computes phone abandonment: increase(stage="abandoned") /
# increase(stage=~"answered|abandoned") for channel="phone".
EVENTS_STORED = Counter(
    "kanalpuls_worker_events_stored_total", "Events inserted into ClickHouse", ["channel", "stage"]
)
EVENTS_INVALID = Counter("kanalpuls_worker_events_invalid_total", "Invalid events dead-lettered by the worker")
BATCH_SECONDS = Histogram(
    "kanalpuls_worker_batch_seconds", "Time to decode, dedupe, store and aggregate one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STORE_RETRIES = Counter("kanalpuls_worker_store_retries_total", "ClickHouse inserts retried after a transient error")
NEWEST_EVENT = Gauge("kanalpuls_worker_newest_event_timestamp_seconds", "occurred_at of the newest stored event")
SOURCE_NEWEST_EVENT = Gauge(
    "kanalpuls_source_newest_event_timestamp_seconds",
    "occurred_at of the newest event stored per source system (a silent connector stops moving it)",
    ["source_system"],
)
CONSUMER_LAG = Gauge(
    "kanalpuls_worker_consumer_lag",
    "Messages behind on an assigned partition of the inquiries topic: log end offset minus committed offset",
    ["topic", "partition"],
)
# Counted when the worker reads a letter back from the dead-letter topic, its own
# (connector="worker") included and nowhere else, so each letter counts once.
DEAD_LETTERS = Counter(
    "kanalpuls_dead_letters_total", "Records on the dead-letter topic, by the connector that rejected them", ["connector"]
)

WALK_IN_ARRIVALS = Gauge("kanalpuls_walk_in_arrivals_window", "Walk-in arrivals in the site's current window", ["site"])
WALK_IN_EXPECTED = Gauge(
    "kanalpuls_walk_in_expected_window",
    "Seasonal expected walk-in arrivals for the site's current window (NaN: no baseline)", ["site"],
)
WALK_IN_SPIKE = Gauge("kanalpuls_walk_in_spike", "1 while the worker holds a walk-in spike open for the site", ["site"])

CONNECTOR_RECORDS = Counter(
    "kanalpuls_connector_records_total", "Records read by connectors, by outcome", ["connector", "outcome"]
)
CONNECTOR_SKIPPED = Counter("kanalpuls_connector_skipped_total", "Records skipped as not inquiries", ["connector", "reason"])

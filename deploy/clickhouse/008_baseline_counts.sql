-- Baselines that are counts rather than stored periods: a past KOMHEN counting week imported
-- with `kanalpuls baseline import FILE --name NAME` (the product's own KOMHEN CSV/XLSX or any
-- task x channel x direction count table), and channel mixes typed into the steering file
-- (`kind: channel_mix`, loaded by `store init` and the worker at start). So a municipality
-- without history has its comparison from the first day.
-- Every import is kept (import_id, imported_at: an audit trail); the KPI views read the
-- newest import of a name through the view baseline_latest. `days` is the number of days
-- the counts cover (7 for a counting week); 0 for a typed mix, which has shares, not volumes.
-- task '*' holds an overall mix given without tasks.
CREATE TABLE IF NOT EXISTS {db}.baseline_counts
(
    name        LowCardinality(String),
    import_id   String,
    imported_at DateTime64(3, 'UTC'),
    source      String,
    period_from Nullable(Date),
    period_to   Nullable(Date),
    days        UInt16,
    task        LowCardinality(String),
    channel     LowCardinality(String),
    direction   LowCardinality(String),
    inquiries   Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (name, import_id, task, channel, direction)

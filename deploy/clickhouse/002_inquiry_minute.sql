-- Per-minute rollup per channel x task x department x site x stage.
-- Filled by the materialized view below from every insert into inquiry_events; since the
-- worker inserts each event_id only once, the rollup counts each event once.
-- SummingMergeTree adds rows up lazily: always read it with sum() ... GROUP BY.
CREATE TABLE IF NOT EXISTS {db}.inquiry_minute
(
    minute             DateTime('UTC'),
    municipality       LowCardinality(String),
    channel            LowCardinality(String),
    direction          LowCardinality(String),
    stage              LowCardinality(String),
    task               LowCardinality(String),
    task_label         LowCardinality(String),
    department         LowCardinality(String),
    site               LowCardinality(String),
    queue              LowCardinality(String),
    events             UInt64,
    wait_seconds_sum   Float64,
    wait_count         UInt64,
    handle_seconds_sum Float64,
    handle_count       UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (municipality, channel, minute, direction, stage, task, task_label, department, site, queue)
SETTINGS non_replicated_deduplication_window = 10000

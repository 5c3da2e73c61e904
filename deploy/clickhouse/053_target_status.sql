-- Channel-strategy targets as last evaluated (pipeline/measures/targets.py): the worker evaluates
-- every target of deploy/steering.yaml for today every 15 minutes, so the Channel shift
-- board can show value, target, progress and on/off track. One row per target and local
-- day; the newest evaluation wins (read with FINAL). `note` says in words why a value, a
-- target or a verdict is missing (no data in the window, a baseline without data).
CREATE TABLE IF NOT EXISTS {db}.target_status
(
    day          Date,
    name         LowCardinality(String),
    description  String,
    measure      LowCardinality(String),
    unit         LowCardinality(String),
    window_from  Date,
    window_to    Date,
    value        Nullable(Float64),
    target       Nullable(Float64),
    start_value  Nullable(Float64),
    progress     Nullable(Float64),
    on_track     Nullable(Bool),
    note         String DEFAULT '',
    evaluated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(evaluated_at)
ORDER BY (name, day)


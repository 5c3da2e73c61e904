-- Channel-mix baselines typed into the steering file (baselines: NAME: {kind: channel_mix,
-- mix: {task or '*': {channel: share}}}), shares scaled to sum to 1 per task. Replaced from
-- deploy/steering.yaml by `kanalpuls store init` and the worker at start (like unit_prices);
-- read through baseline_latest, beside the imported counting weeks.
CREATE TABLE IF NOT EXISTS {db}.baseline_mix
(
    name    LowCardinality(String),
    task    LowCardinality(String),
    channel LowCardinality(String),
    share   Float64
)
ENGINE = MergeTree ORDER BY (name, task, channel)

-- Cluster variant (example, NOT applied by `kanalpuls store init`, which reads only
-- deploy/clickhouse/*.sql). Run once per database with clickhouse-client --multiquery
-- after replacing {db} (e.g. kanalpuls) and checking the cluster name `kanalpuls` in
-- remote_servers; the {shard} and {replica} macros come from each server's config.
-- Each shard keeps a *_local table, replicated through ClickHouse Keeper; a Distributed
-- table under the single-node name reads (and routes inserts) across the shards, so the
-- worker, the KPI views and the dashboards keep their table names.
-- Filled on each shard by inquiry_minute_mv from that shard's inquiry_events_local inserts.
CREATE TABLE IF NOT EXISTS {db}.inquiry_minute_local ON CLUSTER kanalpuls
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{db}/inquiry_minute', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (municipality, channel, minute, direction, stage, task, task_label, department, site, queue)
-- The worker's insert tokens (see the single-node file) are honoured over this window.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.inquiry_minute ON CLUSTER kanalpuls AS {db}.inquiry_minute_local
ENGINE = Distributed(kanalpuls, {db}, inquiry_minute_local, cityHash64(municipality));

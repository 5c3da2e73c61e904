-- Cluster variant (example, NOT applied by `kanalpuls store init`, which reads only
-- deploy/clickhouse/*.sql). Run once per database with clickhouse-client --multiquery
-- after replacing {db} (e.g. kanalpuls) and checking the cluster name `kanalpuls` in
-- remote_servers; the {shard} and {replica} macros come from each server's config.
-- Each shard keeps a *_local table, replicated through ClickHouse Keeper; a Distributed
-- table under the single-node name reads (and routes inserts) across the shards, so the
-- worker, the KPI views and the dashboards keep their table names.
-- Filled on each shard by inquiry_hour_mv from that shard's inquiry_events_local inserts.
CREATE TABLE IF NOT EXISTS {db}.inquiry_hour_local ON CLUSTER kanalpuls
(
    hour               DateTime('UTC'),
    municipality       LowCardinality(String),
    channel            LowCardinality(String),
    direction          LowCardinality(String),
    stage              LowCardinality(String),
    task               LowCardinality(String),
    task_label         LowCardinality(String),
    department         LowCardinality(String),
    site               LowCardinality(String),
    queue              LowCardinality(String),
    requester_type     LowCardinality(String),
    inquiry_kind       LowCardinality(String),
    events             UInt64,
    -- First-contact resolution is known for a closed inquiry (resolved unless its source
    -- says not: a transfer, a "no" in an export) and for any event whose source registered it.
    resolution_known   UInt64,
    resolved           UInt64,
    -- "Had been on the website first", where the source registers it (KOMHEN exports, forms).
    web_first_known    UInt64,
    web_first          UInt64,
    with_contact_key   UInt64,
    wait_seconds_sum   Float64,
    wait_count         UInt64,
    handle_seconds_sum Float64,
    handle_count       UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{db}/inquiry_hour', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (municipality, channel, hour, direction, stage, task, task_label, department, site, queue,
          requester_type, inquiry_kind)
-- The worker's insert tokens (see the single-node file) are honoured over this window.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.inquiry_hour ON CLUSTER kanalpuls AS {db}.inquiry_hour_local
ENGINE = Distributed(kanalpuls, {db}, inquiry_hour_local, cityHash64(municipality));

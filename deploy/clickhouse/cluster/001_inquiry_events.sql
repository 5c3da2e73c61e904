-- Cluster variant (example, NOT applied by `kanalpuls store init`, which reads only
-- deploy/clickhouse/*.sql). Run once per database with clickhouse-client --multiquery
-- after replacing {db} (e.g. kanalpuls) and checking the cluster name `kanalpuls` in
-- remote_servers; the {shard} and {replica} macros come from each server's config.
-- Each shard keeps a *_local table, replicated through ClickHouse Keeper; a Distributed
-- table under the single-node name reads (and routes inserts) across the shards, so the
-- worker, the KPI views and the dashboards keep their table names.
-- Sharded by municipality: an event_id's copies meet on one shard, where the
-- ReplacingMergeTree merge (and FINAL) can drop them, and a municipality's rollups stay together.
CREATE TABLE IF NOT EXISTS {db}.inquiry_events_local ON CLUSTER kanalpuls
(
    event_id               FixedString(32),
    -- shared by every event of one inquiry (arrival, answer, closing); NULL where the source cannot say
    inquiry_id             Nullable(FixedString(32)),
    occurred_at            DateTime64(3, 'UTC'),
    municipality           LowCardinality(String),
    channel                LowCardinality(String),
    direction              LowCardinality(String),
    stage                  LowCardinality(String),
    task                   LowCardinality(String),
    task_label             LowCardinality(String),
    department             LowCardinality(String),
    site                   LowCardinality(String),
    queue                  LowCardinality(String),
    wait_seconds           Nullable(Float64),
    handle_seconds         Nullable(Float64),
    requester_type         LowCardinality(String),
    inquiry_kind           LowCardinality(String),
    appointment            Nullable(Bool),
    resolved_first_contact Nullable(Bool),
    visited_web_first      Nullable(Bool),
    contact_key            Nullable(FixedString(64)),
    source_system          LowCardinality(String),
    source_file            String,
    source_line            Nullable(UInt64),
    source_offset          Nullable(UInt64),
    ingested_at            DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{db}/inquiry_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (municipality, channel, toStartOfHour(occurred_at), event_id)
-- The worker's insert tokens (see the single-node file) are honoured over this window.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.inquiry_events ON CLUSTER kanalpuls AS {db}.inquiry_events_local
ENGINE = Distributed(kanalpuls, {db}, inquiry_events_local, cityHash64(municipality));

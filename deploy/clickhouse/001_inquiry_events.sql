-- Raw inquiry events, one row per event, exactly as on the `inquiries` topic.
-- The worker inserts each event_id once (see pipeline/worker/aggregation.py); ReplacingMergeTree
-- on the sort key, which ends in event_id, is the second guard: read with FINAL (or
-- uniqExact(event_id)) when counting from this table while merges are pending.
CREATE TABLE IF NOT EXISTS {db}.inquiry_events
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (municipality, channel, toStartOfHour(occurred_at), event_id)
-- The worker gives each insert a token derived from its event ids, so an insert retried
-- after a timeout (that the server had in fact committed) is dropped, here and in the view.
SETTINGS non_replicated_deduplication_window = 10000

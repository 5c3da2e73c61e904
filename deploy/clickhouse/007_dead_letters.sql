-- Records the pipeline could not use, with why: what connectors and the worker put on the
-- dead-letter topic, stored by the worker so they outlive a memory-only broker and an operator
-- can find them with SQL (which file, which line, what was wrong). `raw` is the record as the
-- connector kept it: cut to 4096 characters, personal-data patterns masked, personal columns
-- blanked. The same record rejected again (a resend, a replay) shares letter_id, and
-- ReplacingMergeTree keeps one. Kept for 30 days: long enough to fix a source, short enough
-- for a record that may still hold a name in free text.
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    letter_id     FixedString(32),
    rejected_at   DateTime64(3, 'UTC'),
    connector     LowCardinality(String),
    source_system LowCardinality(String),
    source_file   String,
    source_line   Nullable(UInt64),
    source_offset Nullable(UInt64),
    reason        String,
    raw           String
)
ENGINE = ReplacingMergeTree(rejected_at)
PARTITION BY toYYYYMM(rejected_at)
ORDER BY (connector, source_system, letter_id)
TTL toDateTime(rejected_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000

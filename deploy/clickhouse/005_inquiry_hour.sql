-- Hourly rollup for the KPIs and for dashboards that read weeks or months: per UTC hour x
-- channel x direction x stage x task x department x site x queue x requester type x inquiry
-- kind, with the registration flags the minute rollup does not carry. Filled by
-- inquiry_hour_mv from every insert into inquiry_events (each event_id is inserted once).
-- SummingMergeTree adds rows up lazily: always read it with sum() ... GROUP BY.
-- Local days and hours: toDate(hour, 'Europe/Copenhagen'), toHour(hour, ...) — whole-hour
-- offsets, so a UTC hour is one local hour, across daylight-saving changes too.
CREATE TABLE IF NOT EXISTS {db}.inquiry_hour
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
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (municipality, channel, hour, direction, stage, task, task_label, department, site, queue,
          requester_type, inquiry_kind)
SETTINGS non_replicated_deduplication_window = 10000

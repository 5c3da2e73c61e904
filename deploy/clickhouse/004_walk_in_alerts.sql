-- Walk-in spike alerts, one row per change of a site's state: `firing` when arrivals in the
-- window crossed the site's threshold, `resolved` when they fell back (pipeline/worker/spike.py says
-- how). The worker writes them here and produces the same JSON to the alerts topic.
-- A firing and its resolved row share alert_id. An alert decided again after a restart
-- carries the same alert_id and status: ReplacingMergeTree keeps the latest (read with FINAL).
CREATE TABLE IF NOT EXISTS {db}.walk_in_alerts
(
    alert_id            String,
    status              LowCardinality(String),
    municipality        LowCardinality(String),
    site                LowCardinality(String),
    count               UInt32,
    peak_count          UInt32,
    expected            Nullable(Float64),
    ratio               Nullable(Float64),
    window_minutes      UInt16,
    window_start        DateTime64(3, 'UTC'),
    window_end          DateTime64(3, 'UTC'),
    threshold_ratio     Float64,
    min_count           UInt32,
    baseline_weeks      UInt8,
    baseline_weeks_used UInt8,
    fired_at            DateTime64(3, 'UTC'),
    resolved_at         Nullable(DateTime64(3, 'UTC')),
    emitted_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(emitted_at)
PARTITION BY toYYYYMM(fired_at)
ORDER BY (municipality, site, fired_at, alert_id, status)
SETTINGS non_replicated_deduplication_window = 10000

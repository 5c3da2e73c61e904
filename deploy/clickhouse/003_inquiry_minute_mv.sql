CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.inquiry_minute_mv TO {db}.inquiry_minute AS
SELECT
    toStartOfMinute(occurred_at)       AS minute,
    municipality, channel, direction, stage, task, task_label, department, site, queue,
    count()                            AS events,
    sum(ifNull(wait_seconds, 0))       AS wait_seconds_sum,
    count(wait_seconds)                AS wait_count,
    sum(ifNull(handle_seconds, 0))     AS handle_seconds_sum,
    count(handle_seconds)              AS handle_count
FROM {db}.inquiry_events
GROUP BY minute, municipality, channel, direction, stage, task, task_label, department, site, queue

-- Channel shift: channel share in [from_day, to_day] minus channel share in the baseline
-- [base_from, base_to], per task and overall (task = '*'), in share points (0.05 = 5 pp).
-- Named baselines (deploy/steering.yaml) are resolved to dates by `kanalpuls kpi` and the
-- reports; analysts pass dates.
--   SELECT * FROM kanalpuls.kpi_channel_shift(from_day = '2026-11-23', to_day = '2026-11-29',
--                                            base_from = '2026-03-09', base_to = '2026-03-15')
CREATE OR REPLACE VIEW {db}.kpi_channel_shift AS
SELECT scope AS task, channel, sum(now_n) AS inquiries, sum(base_n) AS baseline_inquiries,
       sum(now_n) / sum(sum(now_n)) OVER (PARTITION BY scope) AS share,
       sum(base_n) / sum(sum(base_n)) OVER (PARTITION BY scope) AS baseline_share,
       share - baseline_share AS shift
FROM (
    SELECT arrayJoin([task, '*']) AS scope, channel,
           sumIf(events, hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')) AS now_n,
           sumIf(events, hour >= toDateTime({base_from:Date}, '{tz}') AND hour < toDateTime({base_to:Date} + 1, '{tz}')) AS base_n
    FROM {db}.inquiry_hour
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
      AND ((hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}'))
        OR (hour >= toDateTime({base_from:Date}, '{tz}') AND hour < toDateTime({base_to:Date} + 1, '{tz}')))
    GROUP BY scope, channel
)
GROUP BY scope, channel

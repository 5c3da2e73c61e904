-- Realised gain (gevinst): the cost of this period's volume at the baseline's channel mix minus
-- its cost at this period's mix, over the channels with a unit price. Positive: the shift
-- to cheaper channels saved that much.
--   SELECT * FROM kanalpuls.kpi_realised_gain(from_day = '2026-11-23', to_day = '2026-11-29',
--                                            base_from = '2026-03-09', base_to = '2026-03-15')
CREATE OR REPLACE VIEW {db}.kpi_realised_gain AS
SELECT sum(now_n) AS inquiries, sum(base_n) AS baseline_inquiries,
       sum(now_n * price_dkk) AS cost_dkk,
       sum(now_n) * sum(base_n * price_dkk) / sum(base_n) AS cost_at_baseline_mix_dkk,
       cost_at_baseline_mix_dkk - cost_dkk AS gain_dkk
FROM (
    SELECT v.channel, v.now_n, v.base_n, p.price_dkk
    FROM (
        SELECT channel,
               sumIf(events, hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')) AS now_n,
               sumIf(events, hour >= toDateTime({base_from:Date}, '{tz}') AND hour < toDateTime({base_to:Date} + 1, '{tz}')) AS base_n
        FROM {db}.inquiry_hour
        WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
          AND ((hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}'))
            OR (hour >= toDateTime({base_from:Date}, '{tz}') AND hour < toDateTime({base_to:Date} + 1, '{tz}')))
        GROUP BY channel
    ) AS v
    INNER JOIN {db}.unit_prices AS p ON p.channel = v.channel
)

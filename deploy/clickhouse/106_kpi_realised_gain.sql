-- Realised gain (gevinst), standardised per task so that a change in WHAT citizens ask about
-- cannot read as gain: for each task, this period's volume priced at the baseline's channel
-- mix for that task, minus priced at this period's mix. Over the channels with a unit price
-- (unit_prices); inbound inquiries. Positive: moving to cheaper channels saved that much.
-- Rows: task x channel, task x '*' (the task), '*' x channel and '*' x '*' (the total).
-- A task without a baseline mix (no priced baseline inquiries for it) is not priced at the
-- overall mix: its row has has_baseline_mix = 0 and NULL cost and gain, and the totals
-- leave it out and name its inquiries in uncompared_inquiries.
-- A channel a count baseline did not count at all (a counting sheet without self-service)
-- is not priced as if its inquiries had come by the counted channels: its inquiries are
-- uncompared too. A count is of inquiries handled (KOMHEN's), so against it this period is
-- counted the same way: without abandoned calls and walk-outs (inquiry_outcome).
-- The baseline is a stored period ([base_from, base_to], baseline_name = '') or a named
-- count baseline (baseline_name = '<name>'; see kpi_channel_shift and baseline_counts).
--
-- Worked example (prices walk-in 80, phone 40, self-service 3 DKK):
--   Passport: baseline 60 walk-in, 40 self-service (mix 60/40); now 50 walk-in, 50 self-service.
--     at baseline mix: 100 x (0.6 x 80 + 0.4 x 3) = 4,920; now: 50 x 80 + 50 x 3 = 4,150; gain 770
--     per channel: walk-in (60 - 50) x 80 = 800, self-service (40 - 50) x 3 = -30
--   Housing benefit: baseline 10 phone, 10 self-service (50/50); now 40 phone, 40 self-service:
--     at baseline mix 80 x (0.5 x 40 + 0.5 x 3) = 1,720; now 40 x 40 + 40 x 3 = 1,720; gain 0
--   Total gain 770 DKK. Priced at the overall mix instead (baseline 120 inquiries, 60 walk-in,
--   10 phone, 50 self-service), the 180 inquiries now would cost 180 x (60 x 80 + 10 x 40
--   + 50 x 3) / 120 = 8,025 against 5,870: a "gain" of 2,155 DKK that is mostly housing
--   benefit growing, not a shift.
--   SELECT * FROM kanalpuls.kpi_realised_gain(from_day = '2026-11-23', to_day = '2026-11-29',
--       base_from = '2026-10-26', base_to = '2026-11-22', baseline_name = '')
CREATE OR REPLACE VIEW {db}.kpi_realised_gain AS
SELECT task_scope AS task, channel_scope AS channel,
       sum(now_n) AS inquiries, sum(base_n) AS baseline_inquiries,
       toUInt8(max(has_mix)) AS has_baseline_mix,
       if(has_baseline_mix, sumIf(at_base_mix, has_mix), NULL) AS inquiries_at_baseline_mix,
       if(has_baseline_mix, sumIf(now_n * price_dkk, has_mix), NULL) AS cost_dkk,
       if(has_baseline_mix, sumIf(at_base_mix * price_dkk, has_mix), NULL) AS cost_at_baseline_mix_dkk,
       cost_at_baseline_mix_dkk - cost_dkk AS gain_dkk,
       sumIf(now_n, NOT has_mix) AS uncompared_inquiries
FROM (
    SELECT task, channel, now_n, base_n, price_dkk, task_base > 0 AND counted AS has_mix,
           if(has_mix, task_now * base_n / task_base, 0) AS at_base_mix
    FROM (
        SELECT c.task AS task, c.channel AS channel, c.now_n AS now_n, c.base_n AS base_n, p.price_dkk AS price_dkk,
               {baseline_name:String} = '' OR c.channel IN (
                   SELECT channel FROM {db}.baseline_latest WHERE name = {baseline_name:String}
                     AND direction = 'inbound' AND channel != 'web' AND inquiries > 0) AS counted,
               sum(if(counted, c.now_n, 0)) OVER (PARTITION BY c.task) AS task_now,
               sum(c.base_n) OVER (PARTITION BY c.task) AS task_base
        FROM (
            SELECT task, channel, sum(now_n) AS now_n, sum(base_n) AS base_n
            FROM (
                SELECT task, channel, toFloat64(sum(events)) AS now_n, 0.0 AS base_n
                FROM {db}.inquiry_hour
                WHERE {baseline_name:String} = '' AND stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
                  AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
                GROUP BY task, channel
                UNION ALL
                -- against a count (KOMHEN's inquiries handled): no abandoned calls or walk-outs either
                SELECT task, channel, toFloat64(count()) AS now_n, 0.0 AS base_n
                FROM {db}.inquiry_outcome(from_day = {from_day:Date}, to_day = {to_day:Date}, within_days = 1)
                WHERE {baseline_name:String} != '' AND direction = 'inbound' AND NOT is_abandoned
                GROUP BY task, channel
                UNION ALL
                SELECT task, channel, 0.0 AS now_n, toFloat64(sum(events)) AS base_n
                FROM {db}.inquiry_hour
                WHERE {baseline_name:String} = '' AND stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
                  AND hour >= toDateTime({base_from:Date}, '{tz}') AND hour < toDateTime({base_to:Date} + 1, '{tz}')
                GROUP BY task, channel
                UNION ALL
                SELECT task, channel, 0.0 AS now_n, sum(inquiries) AS base_n
                FROM {db}.baseline_latest
                WHERE name = {baseline_name:String} AND {baseline_name:String} != '' AND task != '*'
                  AND direction = 'inbound' AND channel != 'web'
                GROUP BY task, channel
            )
            GROUP BY task, channel
        ) AS c
        INNER JOIN {db}.unit_prices AS p ON p.channel = c.channel
    )
    WHERE task_now > 0
)
ARRAY JOIN [task, '*'] AS task_scope
ARRAY JOIN [channel, '*'] AS channel_scope
GROUP BY task_scope, channel_scope

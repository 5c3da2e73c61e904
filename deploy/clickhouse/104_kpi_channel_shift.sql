-- Channel shift (kanalskift): channel share in [from_day, to_day] minus channel share in the
-- baseline, per task and overall (task = '*'), in share points (0.05 = 5 pp). Inbound
-- inquiries; web page views are not inquiries.
-- The baseline is either a stored period, [base_from, base_to] with baseline_name = '', or a
-- named count baseline (an imported counting week or a channel mix from the steering file,
-- see baseline_counts), baseline_name = '<name>', when base_from/base_to are not read. A
-- count baseline given only as an overall mix (task '*') has no per-task shares.
-- Where either side has no inquiries the share is NULL, never NaN: no comparison, not 0.
-- A count baseline compares like with like: a channel it did not count at all (a counting
-- sheet of phone and walk-in only) has NULL shares, not a baseline share of 0, and the
-- period's shares are over the channels it counted; its overall row ('*') is over the tasks it
-- counted, unless it gives an overall mix of its own ('*' rows), so a sheet of four tasks is
-- not compared with all of today's. A count is of inquiries handled, as KOMHEN counts them, so
-- the period is counted the same way against it: answered calls and served tickets, not
-- abandoned calls and walk-outs (see inquiry_outcome). Against a period both are arrivals.
-- Named baselines of the steering file are resolved by `kanalpuls kpi` and the reports.
--   SELECT * FROM kanalpuls.kpi_channel_shift(from_day = '2026-11-23', to_day = '2026-11-29',
--       base_from = '2026-10-26', base_to = '2026-11-22', baseline_name = '')
--   SELECT * FROM kanalpuls.kpi_channel_shift(from_day = '2026-11-23', to_day = '2026-11-29',
--       base_from = '1970-01-01', base_to = '1970-01-01', baseline_name = 'komhen_2025')
CREATE OR REPLACE VIEW {db}.kpi_channel_shift AS
SELECT scope AS task, channel, sum(now_n) AS inquiries, sum(base_n) AS baseline_inquiries,
       if(max(compared), sum(now_n) / nullIf(sum(sumIf(now_n, compared)) OVER (PARTITION BY scope), 0), NULL) AS share,
       if(max(compared), sum(base_n) / nullIf(sum(sum(base_n)) OVER (PARTITION BY scope), 0), NULL) AS baseline_share,
       share - baseline_share AS shift
FROM (
    SELECT arrayJoin(if(task_counted, [task, '*'], [task])) AS scope, channel, toFloat64(sum(events)) AS now_n,
           0.0 AS base_n, any(channel_counted) AS compared
    FROM (
        SELECT task, channel, events,
               {baseline_name:String} = '' OR channel IN (
                   SELECT channel FROM {db}.baseline_latest WHERE name = {baseline_name:String}
                     AND direction = 'inbound' AND channel != 'web' AND inquiries > 0) AS channel_counted,
               {baseline_name:String} = '' OR task IN (
                   SELECT task FROM {db}.baseline_latest WHERE name = {baseline_name:String}
                     AND direction = 'inbound' AND channel != 'web' AND inquiries > 0) OR (
                   SELECT count() > 0 FROM {db}.baseline_latest
                   WHERE name = {baseline_name:String} AND task = '*') AS task_counted
        FROM (
            -- against a period: arrivals, as that period was counted
            SELECT task, channel, sum(events) AS events
            FROM {db}.inquiry_hour
            WHERE {baseline_name:String} = '' AND stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
              AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
            GROUP BY task, channel
            UNION ALL
            -- against a count: inquiries handled, as KOMHEN counts them (no abandoned calls or walk-outs)
            SELECT task, channel, count() AS events
            FROM {db}.inquiry_outcome(from_day = {from_day:Date}, to_day = {to_day:Date}, within_days = 1)
            WHERE {baseline_name:String} != '' AND direction = 'inbound' AND NOT is_abandoned
            GROUP BY task, channel
        )
    )
    GROUP BY scope, channel
    UNION ALL
    SELECT arrayJoin([task, '*']) AS scope, channel, 0.0 AS now_n, toFloat64(sum(events)) AS base_n, true AS compared
    FROM {db}.inquiry_hour
    WHERE {baseline_name:String} = '' AND stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
      AND hour >= toDateTime({base_from:Date}, '{tz}') AND hour < toDateTime({base_to:Date} + 1, '{tz}')
    GROUP BY scope, channel
    UNION ALL
    -- a count baseline with an overall mix of its own ('*' rows) takes its overall shares
    -- from that mix, not from the sum of its tasks
    SELECT arrayJoin(if(task = '*', ['*'], if(overall_given, [task], [task, '*']))) AS scope, channel,
           0.0 AS now_n, sum(inquiries) AS base_n, true AS compared
    FROM (
        SELECT task, channel, inquiries,
               (SELECT count() > 0 FROM {db}.baseline_latest
                WHERE name = {baseline_name:String} AND task = '*') AS overall_given
        FROM {db}.baseline_latest
        WHERE name = {baseline_name:String} AND {baseline_name:String} != ''
          AND direction = 'inbound' AND channel != 'web'
    )
    GROUP BY scope, channel
)
GROUP BY scope, channel

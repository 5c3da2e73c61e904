-- Channel share: volume(channel) / volume(all channels), per task and overall (task = '*').
--   SELECT * FROM kanalpuls.kpi_channel_share(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_channel_share AS
SELECT scope AS task, channel, inquiries, sum(inquiries) OVER (PARTITION BY scope) AS all_channels,
       inquiries / all_channels AS share
FROM (
    SELECT arrayJoin([task, '*']) AS scope, channel, sum(events) AS inquiries
    FROM {db}.inquiry_hour
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
      AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
    GROUP BY scope, channel
)

-- Share of inbound arrivals (inquiries and web page views) that no mapping rule classified,
-- per channel; '*' is all inquiry channels (web page views have their own row and stay out of
-- it, as out of every inquiry count). A rising share means the rules in deploy/mapping.yaml
-- miss a new queue, service, mailbox or page.
--   SELECT * FROM kanalpuls.kpi_unclassified(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_unclassified AS
SELECT channel_scope AS channel, sum(events) AS arrivals, sumIf(events, task = 'unclassified') AS unclassified,
       unclassified / arrivals AS share
FROM {db}.inquiry_hour
ARRAY JOIN if(channel = 'web', [channel], [channel, '*']) AS channel_scope
WHERE stage = 'arrived' AND direction = 'inbound'
  AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
GROUP BY channel_scope

-- Web-first share: of phone and walk-in inquiries whose source registers it, the share whose
-- requester had been on the website first (a sign the website fails them); channel '*' is both.
--   SELECT * FROM kanalpuls.kpi_web_first(from_day = '2026-11-23', to_day = '2026-11-29')
-- The rows are chosen in a subquery: in this SELECT, `channel` is the scope's alias, so a condition on
-- it here would drop the '*' rows.
CREATE OR REPLACE VIEW {db}.kpi_web_first AS
SELECT channel_scope AS channel, sum(events) AS inquiries, sum(web_first_known) AS known,
       sum(web_first) AS web_first, web_first / known AS share
FROM (
    SELECT channel, events, web_first_known, web_first
    FROM {db}.inquiry_hour
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel IN ('phone', 'walk_in')
      AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
)
ARRAY JOIN [channel, '*'] AS channel_scope
GROUP BY channel_scope

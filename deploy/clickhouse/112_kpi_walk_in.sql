-- Walk-in KPIs per local day x site; '*' rows are totals. Tickets: issued; served: visits that
-- ended at a counter and were not passed on; transferred: passed on to another service;
-- no-shows: tickets that left the queue unserved (not coming forward when called, or removed);
-- average wait: issued to called, over tickets called and served.
--   SELECT * FROM kanalpuls.kpi_walk_in(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_walk_in AS
SELECT day_scope AS day, site_scope AS site,
       sumIf(events, stage = 'arrived') AS tickets,
       sumIf(resolved, stage = 'closed') AS served,
       sumIf(events, stage = 'closed') - sumIf(resolved, stage = 'closed') AS transferred,
       sumIf(events, stage = 'abandoned') AS no_shows,
       sumIf(wait_seconds_sum, stage = 'answered') / sumIf(wait_count, stage = 'answered') AS average_wait_seconds
FROM {db}.inquiry_hour
ARRAY JOIN [toString(toDate(hour, '{tz}')), '*'] AS day_scope
ARRAY JOIN [site, '*'] AS site_scope
WHERE channel = 'walk_in' AND direction = 'inbound'
  AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
GROUP BY day_scope, site_scope

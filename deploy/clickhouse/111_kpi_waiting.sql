-- Waiting at a moment: calls per queue and tickets per site that had arrived that local day
-- before `at` and were neither answered nor abandoned before it. For "waiting now", pass
-- at = now(). Minute resolution (from the minute rollup): `at` counts from its minute on.
--   SELECT * FROM kanalpuls.kpi_waiting(at = now())
CREATE OR REPLACE VIEW {db}.kpi_waiting AS
SELECT channel, if(channel = 'walk_in', site, queue) AS place,
       sumIf(events, stage = 'arrived') - sumIf(events, stage IN ('answered', 'abandoned')) AS waiting
FROM {db}.inquiry_minute
WHERE channel IN ('phone', 'walk_in') AND direction = 'inbound'
  AND minute >= toDateTime(toDate({at:DateTime}, '{tz}'), '{tz}') AND minute < toStartOfMinute({at:DateTime})
GROUP BY channel, place

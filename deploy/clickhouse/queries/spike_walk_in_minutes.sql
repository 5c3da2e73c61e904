-- Walk-in arrivals per site and minute, from the inquiry_minute rollup, in [start, end) spans:
-- the spike detector's seasonal baseline (pipeline/worker/spike_monitor.py).
-- Parameters: starts, ends (Array(UInt32), epoch seconds, pairwise).
SELECT site, toUInt32(toUnixTimestamp(minute)) AS m, toUInt64(sum(events)) AS n
FROM {db}.inquiry_minute
WHERE channel = 'walk_in' AND stage = 'arrived' AND direction = 'inbound' AND site != ''
  AND arrayExists((a, b) -> minute >= toDateTime(a, 'UTC') AND minute < toDateTime(b, 'UTC'),
                  {starts:Array(UInt32)}, {ends:Array(UInt32)})
GROUP BY site, m

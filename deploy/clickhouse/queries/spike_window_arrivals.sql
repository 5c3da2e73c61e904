-- A site's stored walk-in arrivals in (after, until]: the spike detector's window when a site
-- first shows up in a worker (pipeline/worker/spike_monitor.py).
-- Parameters: site (String); after, until (Int64, epoch milliseconds).
SELECT toUnixTimestamp64Milli(occurred_at) AS ms, toString(event_id) AS id
FROM {db}.inquiry_events
WHERE channel = 'walk_in' AND stage = 'arrived' AND direction = 'inbound' AND site = {site:String}
  AND occurred_at > fromUnixTimestamp64Milli({after:Int64}, 'UTC')
  AND occurred_at <= fromUnixTimestamp64Milli({until:Int64}, 'UTC')

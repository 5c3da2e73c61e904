-- A site's latest alert: if it is a firing one, a worker before this one left the spike open
-- (pipeline/worker/spike_monitor.py). Parameters: site (String).
SELECT *
FROM {db}.walk_in_alerts FINAL
WHERE site = {site:String}
ORDER BY fired_at DESC, status = 'resolved' DESC
LIMIT 1

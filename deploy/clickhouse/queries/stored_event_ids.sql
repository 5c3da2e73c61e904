-- Event ids already stored per UTC day: seeds the worker's duplicate filter
-- (pipeline/sinks/clickhouse.py). Parameters: days (Array(Date)).
SELECT toDate(occurred_at, 'UTC') AS day, toString(event_id) AS id
FROM {db}.inquiry_events
WHERE toDate(occurred_at, 'UTC') IN {days:Array(Date)}

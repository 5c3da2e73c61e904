-- The steering file's values as tables, so the KPI views and analysts' SQL can join them.
-- `kanalpuls store init` and the worker at start replace their contents from
-- deploy/steering.yaml (pipeline/store/clickhouse.py load_steering_tables); edit the file, not these tables.
CREATE TABLE IF NOT EXISTS {db}.unit_prices
(
    channel   LowCardinality(String),
    price_dkk Float64
)
ENGINE = MergeTree ORDER BY channel

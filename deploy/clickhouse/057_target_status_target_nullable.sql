-- target_status in a store made before a target without a start value was stored as NULL (it was NaN).
ALTER TABLE {db}.target_status MODIFY COLUMN target Nullable(Float64)

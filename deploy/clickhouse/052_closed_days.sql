-- Public holidays (the holidays package) and configured closing days, local dates.
CREATE TABLE IF NOT EXISTS {db}.closed_days
(
    day  Date,
    name String
)
ENGINE = MergeTree ORDER BY day

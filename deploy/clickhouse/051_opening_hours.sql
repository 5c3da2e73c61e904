-- Opening hours per channel and site ('' = the channel's default hours), local time,
-- weekday 1 = Monday (toDayOfWeek). One row per open interval.
CREATE TABLE IF NOT EXISTS {db}.opening_hours
(
    channel LowCardinality(String),
    site    LowCardinality(String),
    weekday UInt8,
    opens   UInt32,  -- seconds after local midnight
    closes  UInt32
)
ENGINE = MergeTree ORDER BY (channel, site, weekday, opens)

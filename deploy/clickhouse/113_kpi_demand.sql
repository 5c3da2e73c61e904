-- Demand by weekday x local hour for one channel, against its opening hours ("opening hours
-- should follow demand"): inquiries on every day of the period; the open days of that weekday
-- (public holidays and closing days left out); inquiries per open day, counting only the
-- inquiries on those open days (mail written on Christmas Day is no Christmas demand for the
-- counter); and the minutes of that hour the channel is open by its default hours.
-- Weekday 1 = Monday. All 168 cells, zeros included.
--   SELECT * FROM kanalpuls.kpi_demand(from_day = '2026-11-02', to_day = '2026-11-29', channel_name = 'walk_in')
CREATE OR REPLACE VIEW {db}.kpi_demand AS
SELECT grid.weekday AS weekday, grid.local_hour AS hour, demand.inquiries AS inquiries, days.open_days AS open_days,
       if(days.open_days = 0, 0, demand.on_open_days / days.open_days) AS per_open_day,
       hours.open_minutes AS open_minutes
FROM (SELECT toUInt8(intDiv(number, 24) + 1) AS weekday, toUInt8(number % 24) AS local_hour FROM numbers(168)) AS grid
LEFT JOIN (
    SELECT toUInt8(toDayOfWeek(hour, 0, '{tz}')) AS weekday, toUInt8(toHour(hour, '{tz}')) AS local_hour,
           sum(events) AS inquiries,
           sumIf(events, toDate(hour, '{tz}') NOT IN (SELECT day FROM {db}.closed_days)) AS on_open_days
    FROM {db}.inquiry_hour
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel = {channel_name:String}
      AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
    GROUP BY weekday, local_hour
) AS demand ON demand.weekday = grid.weekday AND demand.local_hour = grid.local_hour
LEFT JOIN (
    SELECT toUInt8(toDayOfWeek(day)) AS weekday, count() AS open_days
    FROM (SELECT {from_day:Date} + number AS day
          FROM numbers(toUInt64(greatest(0, dateDiff('day', {from_day:Date}, {to_day:Date}) + 1))))
    WHERE day NOT IN (SELECT day FROM {db}.closed_days)
    GROUP BY weekday
) AS days ON days.weekday = grid.weekday
LEFT JOIN (
    SELECT weekday, toUInt8(h) AS local_hour,
           sum(greatest(0, toInt64(least(closes, (h + 1) * 3600)) - toInt64(greatest(opens, h * 3600)))) / 60 AS open_minutes
    FROM {db}.opening_hours
    ARRAY JOIN range(24) AS h
    WHERE channel = {channel_name:String} AND site = ''
    GROUP BY weekday, local_hour
) AS hours ON hours.weekday = grid.weekday AND hours.local_hour = grid.local_hour
ORDER BY weekday, hour

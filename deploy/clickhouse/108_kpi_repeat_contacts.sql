-- Repeat contacts: inbound inquiries whose requester (contact_key, the HMAC of phone number,
-- e-mail address or case-system id) had an earlier inquiry on the same task, on any channel,
-- within `within_days` days before; per channel x task, '*' rows are totals. Read from the
-- raw events (the key is not in any rollup); inquiries without a key are not counted.
--   SELECT * FROM kanalpuls.kpi_repeat_contacts(from_day = '2026-11-23', to_day = '2026-11-29', within_days = 7)
CREATE OR REPLACE VIEW {db}.kpi_repeat_contacts AS
SELECT channel_scope AS channel, task_scope AS task, count() AS inquiries_with_key,
       countIf(previous_ms > 0 AND occurred_ms - previous_ms <= {within_days:UInt16} * 86400000) AS repeats,
       repeats / inquiries_with_key AS share
FROM (
    SELECT channel, task, occurred_at, toUnixTimestamp64Milli(occurred_at) AS occurred_ms,
           lagInFrame(toUnixTimestamp64Milli(occurred_at), 1, 0) OVER (
               PARTITION BY contact_key, task ORDER BY occurred_at, event_id
               ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous_ms
    FROM {db}.inquiry_events FINAL
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web' AND contact_key IS NOT NULL
      -- within_days x 24 h, as `repeats` above counts them (a calendar-day interval is an hour
      -- short across the spring daylight-saving change, and would miss an earlier inquiry in that hour)
      AND occurred_at >= toDateTime({from_day:Date}, '{tz}') - {within_days:UInt16} * 86400
      AND occurred_at < toDateTime({to_day:Date} + 1, '{tz}')
)
ARRAY JOIN [channel, '*'] AS channel_scope
ARRAY JOIN [task, '*'] AS task_scope
WHERE occurred_at >= toDateTime({from_day:Date}, '{tz}')
GROUP BY channel_scope, task_scope

-- Self-service rate (selvbetjeningsgrad) per task: volume(self_service) / volume(all channels);
-- task = '*' is the whole municipality.
--   SELECT * FROM kanalpuls.kpi_self_service_rate(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_self_service_rate AS
SELECT scope AS task, self_service, inquiries, self_service / inquiries AS rate
FROM (
    SELECT arrayJoin([task, '*']) AS scope, sumIf(events, channel = 'self_service') AS self_service,
           sum(events) AS inquiries
    FROM {db}.inquiry_hour
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
      AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
    GROUP BY scope
)

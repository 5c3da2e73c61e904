-- Volume: inbound inquiries counted at arrival, per local day x channel x task x department x site.
-- Web page views are not inquiries ("found it on the website"): see kpi_web_views.
--   SELECT * FROM kanalpuls.kpi_volume(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_volume AS
SELECT toDate(hour, '{tz}') AS day, municipality, channel, task, any(task_label) AS task_label, department, site,
       sum(events) AS inquiries
FROM {db}.inquiry_hour
WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
  AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
GROUP BY day, municipality, channel, task, department, site

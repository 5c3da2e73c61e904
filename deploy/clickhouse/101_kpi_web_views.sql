-- Task-page views on the website per local day x task: the "web first" signal, not inquiries.
--   SELECT * FROM kanalpuls.kpi_web_views(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_web_views AS
SELECT toDate(hour, '{tz}') AS day, task, any(task_label) AS task_label, department, sum(events) AS page_views
FROM {db}.inquiry_hour
WHERE channel = 'web' AND stage = 'arrived'
  AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
GROUP BY day, task, department

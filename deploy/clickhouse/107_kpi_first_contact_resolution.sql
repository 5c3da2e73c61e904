-- First-contact resolution (straksafklaring): inquiries resolved at first contact / inquiries
-- whose resolution is known, per channel x department; '*' rows are totals. Known: every
-- closed call or visit (resolved unless transferred), and every inquiry whose source
-- registers it (KOMHEN exports, forms, telephony posting `resolved_first_contact`). A source
-- registers it once per inquiry: on the closing event, or on its only event.
--   SELECT * FROM kanalpuls.kpi_first_contact_resolution(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_first_contact_resolution AS
SELECT channel_scope AS channel, department_scope AS department, sum(resolution_known) AS known,
       sum(resolved) AS resolved, resolved / known AS rate
FROM {db}.inquiry_hour
ARRAY JOIN [channel, '*'] AS channel_scope
ARRAY JOIN [department, '*'] AS department_scope
WHERE direction = 'inbound' AND resolution_known > 0
  AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
GROUP BY channel_scope, department_scope

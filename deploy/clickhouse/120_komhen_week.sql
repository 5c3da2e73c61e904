-- KOMHEN counting week (tælleuge) from the continuous data: inquiries per municipality x task x
-- department x channel x direction, inbound AND outbound, counted at arrival, with the
-- registration parameters the sources carry. Web page views are not inquiries: left out
-- (see kpi_web_views). Only cells with at least one inquiry are returned.
--   inquiries                      arrivals (stage 'arrived')
--   resolution_known, resolved     first-contact resolution as kpi_first_contact_resolution counts
--                                  it: every event of the cell whose resolution is known (closed
--                                  calls and visits; sources that register it), resolved of those
--   web_first_known, web_first     at arrival, where the source registers it (as kpi_web_first)
--   requesters_<type>              arrivals per requester type (citizen, business, association,
--                                  authority, unknown)
-- task_label: the task's non-empty label with the most arrivals in the cell.
-- `kanalpuls report komhen --week 2026-W12` passes the ISO week's Monday and Sunday (local days);
-- a two-week count passes two weeks.
--   SELECT * FROM kanalpuls.komhen_week(from_day = '2026-03-16', to_day = '2026-03-22')
CREATE OR REPLACE VIEW {db}.komhen_week AS
SELECT municipality, task, argMax(task_label, (task_label != '', label_inquiries)) AS task_label, department,
       channel, direction,
       sum(label_inquiries) AS inquiries,
       sum(label_resolution_known) AS resolution_known, sum(label_resolved) AS resolved,
       sum(label_web_first_known) AS web_first_known, sum(label_web_first) AS web_first,
       sum(citizen) AS requesters_citizen, sum(business) AS requesters_business,
       sum(association) AS requesters_association, sum(authority) AS requesters_authority,
       sum(unknown) AS requesters_unknown
FROM (
    SELECT municipality, task, task_label, department, channel, direction,
           sumIf(events, stage = 'arrived') AS label_inquiries,
           sum(resolution_known) AS label_resolution_known,
           sum(resolved) AS label_resolved,
           sumIf(web_first_known, stage = 'arrived') AS label_web_first_known,
           sumIf(web_first, stage = 'arrived') AS label_web_first,
           sumIf(events, stage = 'arrived' AND requester_type = 'citizen') AS citizen,
           sumIf(events, stage = 'arrived' AND requester_type = 'business') AS business,
           sumIf(events, stage = 'arrived' AND requester_type = 'association') AS association,
           sumIf(events, stage = 'arrived' AND requester_type = 'authority') AS authority,
           sumIf(events, stage = 'arrived' AND requester_type NOT IN ('citizen', 'business', 'association', 'authority'))
               AS unknown
    FROM {db}.inquiry_hour
    WHERE channel != 'web'
      AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
    GROUP BY municipality, task, task_label, department, channel, direction
)
GROUP BY municipality, task, department, channel, direction
HAVING inquiries > 0

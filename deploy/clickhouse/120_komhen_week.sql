-- KOMHEN counting week (tælleuge) from the continuous data: inquiries per municipality x task x
-- department x channel x direction, inbound AND outbound, per inquiry (see inquiry_outcome:
-- its task, channel, department and requester are those of its arrival), with the
-- registration parameters. Web page views are not inquiries: left out (see kpi_web_views).
-- Only cells with at least one arrival are returned.
--   inquiries                      inquiries handled: answered calls and served tickets, every
--                                  e-mail, form, letter; calls and tickets not abandoned
--   abandoned                      abandoned calls and walk-outs (tickets whose holder left or did
--                                  not come forward): apart, not inquiries
--   resolution_known, resolved,    straksafklaring of the inbound inquiries, as
--   resolution_pending             kpi_first_contact_resolution counts it (registered by the
--                                  source, or inferred: no contact by the same requester on the same
--                                  task within within_days); pending while those days have not passed
--   web_first_known, web_first     been on the website first, where the source registers it
--   requesters_<type>              inquiries per requester type (citizen, business, association,
--                                  authority, unknown)
-- Every parameter counts the cell's inquiries (not the abandoned), so the requesters add up to them.
-- task_label: the task's non-empty label with the most inquiries in the cell.
-- `kanalpuls report komhen --week 2026-W12` passes the ISO week's Monday and Sunday (local days)
-- and the steering file's resolution_within_days; a two-week count passes two weeks.
--   SELECT * FROM kanalpuls.komhen_week(from_day = '2026-03-16', to_day = '2026-03-22', within_days = 7)
CREATE OR REPLACE VIEW {db}.komhen_week AS
SELECT municipality, task, argMax(task_label, (task_label != '', label_inquiries)) AS task_label, department,
       channel, direction,
       sum(label_inquiries) AS inquiries, sum(label_abandoned) AS abandoned,
       sum(label_resolution_known) AS resolution_known, sum(label_resolved) AS resolved,
       sum(label_resolution_pending) AS resolution_pending,
       sum(label_web_first_known) AS web_first_known, sum(label_web_first) AS web_first,
       sum(citizen) AS requesters_citizen, sum(business) AS requesters_business,
       sum(association) AS requesters_association, sum(authority) AS requesters_authority,
       sum(other) AS requesters_unknown
FROM (
    SELECT municipality, task, task_label, department, channel, direction,
           countIf(NOT is_abandoned) AS label_inquiries,
           countIf(is_abandoned) AS label_abandoned,
           countIf(direction = 'inbound' AND is_served AND (is_registered OR is_keyed) AND NOT undecided)
               AS label_resolution_known,
           countIf(direction = 'inbound' AND is_served AND NOT undecided AND ((is_registered AND is_registered_resolved)
                   OR (NOT is_registered AND is_keyed AND NOT came_back))) AS label_resolved,
           countIf(direction = 'inbound' AND is_served AND (is_registered OR is_keyed) AND undecided)
               AS label_resolution_pending,
           countIf(NOT is_abandoned AND web_first IS NOT NULL) AS label_web_first_known,
           countIf(NOT is_abandoned AND web_first = true) AS label_web_first,
           countIf(NOT is_abandoned AND requester_type = 'citizen') AS citizen,
           countIf(NOT is_abandoned AND requester_type = 'business') AS business,
           countIf(NOT is_abandoned AND requester_type = 'association') AS association,
           countIf(NOT is_abandoned AND requester_type = 'authority') AS authority,
           countIf(NOT is_abandoned AND requester_type NOT IN ('citizen', 'business', 'association', 'authority'))
               AS other
    FROM {db}.inquiry_outcome(from_day = {from_day:Date}, to_day = {to_day:Date}, within_days = {within_days:UInt16})
    GROUP BY municipality, task, task_label, department, channel, direction
)
GROUP BY municipality, task, department, channel, direction
HAVING inquiries + abandoned > 0

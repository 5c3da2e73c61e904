-- One row per inquiry arriving in [from_day, to_day] (local days), both directions, web page
-- views left out: what happened to it, as first-contact resolution and the KOMHEN week both
-- count it, so the two can never disagree. The inquiry's events share inquiry_id; its task,
-- channel, department and requester are those of its arrival.
-- Flags are is_<name>, so that an aggregate over them can be called <name>:
--   served      a closed call or visit, an inquiry whose source registered its resolution, or
--               a one-event inquiry on a channel without queue stages (e-mail, form, letter).
--   abandoned   an abandoned call, a ticket whose holder left or did not come forward, not
--               served. A call or ticket with only its arrival yet is neither.
--   registered  the source said whether it was resolved at first contact (a resolution flag or
--               a transfer); registered_resolved what it said.
--   keyed       the requester is known (contact_key): resolution can be inferred.
--   came_back   an inbound arrival of the same contact_key about the same task, on any channel,
--               within within_days x 24 h after this one.
--   undecided   those days reach past the store's newest arrival (or now, if earlier): whether
--               the requester comes back is not known yet. Resolution counts such an inquiry as
--               pending even where its source registered it: the registered ones known at once
--               are mostly transfers (not resolved), and counting them alone would read low.
--   SELECT * FROM kanalpuls.inquiry_outcome(from_day = '2026-11-23', to_day = '2026-11-29', within_days = 7)
CREATE OR REPLACE VIEW {db}.inquiry_outcome AS
SELECT i.inquiry AS inquiry, i.arrival_municipality AS municipality, i.arrival_task AS task, i.arrival_task_label AS task_label,
       i.arrival_department AS department, i.arrival_channel AS channel, i.arrival_direction AS direction,
       i.arrival_requester_type AS requester_type, i.arrival_web_first AS web_first,
       i.served_here AS is_served, i.abandoned_here AS is_abandoned, i.registered_here AS is_registered,
       i.resolved_here AS is_registered_resolved, i.keyed AS is_keyed,
       a.next_ms > 0 AND a.next_ms - a.arrived_ms <= {within_days:UInt16} * 86400000 AS came_back,
       toUnixTimestamp64Milli(i.arrived_at) + {within_days:UInt16} * 86400000 > (
           SELECT toUnixTimestamp64Milli(least(now64(3), max(occurred_at))) FROM {db}.inquiry_events
           WHERE stage = 'arrived') AS undecided
FROM (
    SELECT ifNull(inquiry_id, event_id) AS inquiry,
           anyIf(municipality, stage = 'arrived') AS arrival_municipality,
           anyIf(task, stage = 'arrived') AS arrival_task,
           anyIf(task_label, stage = 'arrived') AS arrival_task_label,
           anyIf(department, stage = 'arrived') AS arrival_department,
           anyIf(channel, stage = 'arrived') AS arrival_channel,
           anyIf(direction, stage = 'arrived') AS arrival_direction,
           anyIf(requester_type, stage = 'arrived') AS arrival_requester_type,
           anyIf(visited_web_first, stage = 'arrived') AS arrival_web_first,
           countIf(stage = 'closed') > 0 AS was_closed, countIf(stage = 'abandoned') > 0 AS was_abandoned,
           countIf(resolved_first_contact IS NOT NULL) > 0 AS registered_here,
           argMaxIf(resolved_first_contact, occurred_at, resolved_first_contact IS NOT NULL) = true
               AS resolved_here,
           count(contact_key) > 0 AS keyed,
           minIf(occurred_at, stage = 'arrived') AS arrived_at,
           was_closed OR registered_here
               OR (count() = 1 AND NOT was_abandoned AND arrival_channel NOT IN ('phone', 'walk_in')) AS served_here,
           was_abandoned AND NOT served_here AS abandoned_here
    FROM {db}.inquiry_events FINAL
    WHERE channel != 'web'
      -- an inquiry's later stages come after its arrival: a day's margin for a visit closed after midnight
      AND occurred_at >= toDateTime({from_day:Date}, '{tz}')
      AND occurred_at < toDateTime({to_day:Date} + 2, '{tz}')
    GROUP BY inquiry
    HAVING countIf(stage = 'arrived') > 0
       AND arrived_at < toDateTime({to_day:Date} + 1, '{tz}')
) AS i
LEFT JOIN (
    -- each keyed inbound arrival with the next inbound arrival of the same requester on the same task
    SELECT ifNull(inquiry_id, event_id) AS inquiry, toUnixTimestamp64Milli(occurred_at) AS arrived_ms,
           leadInFrame(toUnixTimestamp64Milli(occurred_at), 1, 0) OVER (
               PARTITION BY contact_key, task ORDER BY occurred_at, event_id
               ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
    FROM {db}.inquiry_events FINAL
    WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web' AND contact_key IS NOT NULL
      AND occurred_at >= toDateTime({from_day:Date}, '{tz}')
      AND occurred_at < toDateTime({to_day:Date} + 1, '{tz}') + {within_days:UInt16} * 86400
) AS a ON a.inquiry = i.inquiry

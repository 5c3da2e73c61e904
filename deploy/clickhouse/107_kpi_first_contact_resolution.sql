-- First-contact resolution (straksafklaring), the way KOMHEN and the seeds measure it: of the
-- inquiries answered or served, the share settled at first contact. Per inquiry (its events
-- share inquiry_id), arriving inbound in [from_day, to_day], per channel x department ('*'
-- rows are totals):
--   served      a closed call or visit, an inquiry whose source registered its resolution, or
--               a one-event inquiry on a channel without queue stages (e-mail, form, letter).
--               Abandoned calls, walk-outs and calls still waiting are not served: outside.
--   registered  the source said so: a resolution flag (KOMHEN export, form, posted event,
--               staff registration) or a transfer, which settles it as not resolved.
--   inferred    the source is silent, the requester is known (contact_key): resolved unless
--               the same contact_key came back about the same task, on any channel, within
--               within_days x 24 h after the arrival.
--   pending     inferred, but those days have not passed yet, in the data: the store's newest
--               arrival (or now, if earlier) is the horizon, so a store loaded up to last
--               Friday does not count Thursday's callers as never coming back. Not counted.
--   unknown     silent and without a contact key: not counted either way.
-- rate = (registered_resolved + inferred_resolved) / (registered + inferred); the shares say how
-- much of the served is registered, inferred, pending or unknown. A rate near 100 % with most
-- of it unknown says the definition, not the service, is at work.
--   SELECT * FROM kanalpuls.kpi_first_contact_resolution(from_day = '2026-11-23', to_day = '2026-11-29',
--                                                       within_days = 7)
CREATE OR REPLACE VIEW {db}.kpi_first_contact_resolution AS
SELECT channel_scope AS channel, department_scope AS department,
       countIf(is_served) AS served,
       countIf(is_served AND is_registered) AS registered,
       countIf(is_served AND is_registered AND is_registered_resolved) AS registered_resolved,
       countIf(is_served AND NOT is_registered AND has_key AND NOT undecided) AS inferred,
       countIf(is_served AND NOT is_registered AND has_key AND NOT undecided AND NOT came_back) AS inferred_resolved,
       countIf(is_served AND NOT is_registered AND has_key AND undecided) AS pending,
       countIf(is_served AND NOT is_registered AND NOT has_key) AS unknown,
       registered + inferred AS known,
       registered_resolved + inferred_resolved AS resolved,
       resolved / nullIf(known, 0) AS rate,
       registered / nullIf(served, 0) AS registered_share,
       inferred / nullIf(served, 0) AS inferred_share,
       pending / nullIf(served, 0) AS pending_share,
       unknown / nullIf(served, 0) AS unknown_share
FROM (
    SELECT i.arrival_channel AS inquiry_channel, i.arrival_department AS inquiry_department,
           i.served_here AS is_served, i.registered_here AS is_registered,
           i.resolved_here AS is_registered_resolved, i.keyed AS has_key,
           a.next_ms > 0 AND a.next_ms - a.arrived_ms <= {within_days:UInt16} * 86400000 AS came_back,
           a.arrived_ms + {within_days:UInt16} * 86400000 > (
               SELECT toUnixTimestamp64Milli(least(now64(3), max(occurred_at))) FROM {db}.inquiry_events
               WHERE stage = 'arrived') AS undecided
    FROM (
        SELECT ifNull(inquiry_id, event_id) AS inquiry,
               anyIf(channel, stage = 'arrived') AS arrival_channel,
               anyIf(department, stage = 'arrived') AS arrival_department,
               countIf(stage = 'closed') > 0 AS was_closed, countIf(stage = 'abandoned') > 0 AS was_abandoned,
               countIf(resolved_first_contact IS NOT NULL) > 0 AS registered_here,
               argMaxIf(resolved_first_contact, occurred_at, resolved_first_contact IS NOT NULL) = true
                   AS resolved_here,
               count(contact_key) > 0 AS keyed,
               minIf(occurred_at, stage = 'arrived') AS arrived_at,
               was_closed OR registered_here
                   OR (count() = 1 AND NOT was_abandoned AND arrival_channel NOT IN ('phone', 'walk_in')) AS served_here
        FROM {db}.inquiry_events FINAL
        WHERE direction = 'inbound' AND channel != 'web'
          -- an inquiry's later stages come after its arrival: a day's margin for a visit closed after midnight
          AND occurred_at >= toDateTime({from_day:Date}, '{tz}')
          AND occurred_at < toDateTime({to_day:Date} + 2, '{tz}')
        GROUP BY inquiry
        HAVING countIf(stage = 'arrived') > 0
           AND arrived_at < toDateTime({to_day:Date} + 1, '{tz}')
    ) AS i
    LEFT JOIN (
        -- each keyed arrival with the next arrival of the same requester on the same task
        SELECT ifNull(inquiry_id, event_id) AS inquiry, toUnixTimestamp64Milli(occurred_at) AS arrived_ms,
               leadInFrame(toUnixTimestamp64Milli(occurred_at), 1, 0) OVER (
                   PARTITION BY contact_key, task ORDER BY occurred_at, event_id
                   ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
        FROM {db}.inquiry_events FINAL
        WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web' AND contact_key IS NOT NULL
          AND occurred_at >= toDateTime({from_day:Date}, '{tz}')
          AND occurred_at < toDateTime({to_day:Date} + 1, '{tz}') + {within_days:UInt16} * 86400
    ) AS a ON a.inquiry = i.inquiry
)
ARRAY JOIN [inquiry_channel, '*'] AS channel_scope
ARRAY JOIN [inquiry_department, '*'] AS department_scope
GROUP BY channel_scope, department_scope
HAVING served > 0

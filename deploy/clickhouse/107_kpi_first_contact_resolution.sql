-- First-contact resolution (straksafklaring), the way KOMHEN and the seeds measure it: of the
-- inquiries answered or served, the share settled at first contact. Per inquiry (its events
-- share inquiry_id; see inquiry_outcome, which the KOMHEN week counts from too), arriving
-- inbound in [from_day, to_day], per channel x department ('*' rows are totals):
--   served      a closed call or visit, an inquiry whose source registered its resolution, or
--               a one-event inquiry on a channel without queue stages (e-mail, form, letter).
--               Abandoned calls, walk-outs and calls still waiting are not served: outside.
--   registered  the source said so: a resolution flag (KOMHEN export, form, posted event,
--               staff registration) or a transfer, which settles it as not resolved.
--   inferred    the source is silent, the requester is known (contact_key): resolved unless
--               the same contact_key came back about the same task, on any channel, within
--               within_days x 24 h after the arrival.
--   pending     registered or inferred, but those days have not passed yet in the data: the
--               store's newest arrival (or now, if earlier) is the horizon, so a store loaded up
--               to last Friday does not count Thursday's callers as never coming back, nor
--               reads a week of transfers alone as 0 %. Not counted either way.
--   unknown     silent and without a contact key: not counted either way.
-- rate = (registered_resolved + inferred_resolved) / (registered + inferred); the shares say how
-- much of the served is registered, inferred, pending or unknown. A rate near 100 % with most
-- of it unknown says the definition, not the service, is at work.
--   SELECT * FROM kanalpuls.kpi_first_contact_resolution(from_day = '2026-11-23', to_day = '2026-11-29',
--                                                       within_days = 7)
CREATE OR REPLACE VIEW {db}.kpi_first_contact_resolution AS
SELECT channel_scope AS channel, department_scope AS department,
       countIf(is_served) AS served,
       countIf(is_served AND is_registered AND NOT undecided) AS registered,
       countIf(is_served AND is_registered AND NOT undecided AND is_registered_resolved) AS registered_resolved,
       countIf(is_served AND NOT is_registered AND is_keyed AND NOT undecided) AS inferred,
       countIf(is_served AND NOT is_registered AND is_keyed AND NOT undecided AND NOT came_back) AS inferred_resolved,
       countIf(is_served AND (is_registered OR is_keyed) AND undecided) AS pending,
       countIf(is_served AND NOT is_registered AND NOT is_keyed) AS unknown,
       registered + inferred AS known,
       registered_resolved + inferred_resolved AS resolved,
       resolved / nullIf(known, 0) AS rate,
       registered / nullIf(served, 0) AS registered_share,
       inferred / nullIf(served, 0) AS inferred_share,
       pending / nullIf(served, 0) AS pending_share,
       unknown / nullIf(served, 0) AS unknown_share
FROM {db}.inquiry_outcome(from_day = {from_day:Date}, to_day = {to_day:Date}, within_days = {within_days:UInt16})
ARRAY JOIN [channel, '*'] AS channel_scope
ARRAY JOIN [department, '*'] AS department_scope
WHERE direction = 'inbound'
GROUP BY channel_scope, department_scope
HAVING served > 0

-- Phone queue KPIs per local day x queue; '*' rows are totals. Service level: answered within
-- sl_seconds / (answered + abandoned); abandonment: abandoned / (answered + abandoned);
-- speed of answer: mean wait of answered calls; handle time: mean talk time of closed calls;
-- transferred: closed calls passed on (not resolved at first contact). From the raw events,
-- since the service level needs each call's wait.
--   SELECT * FROM kanalpuls.kpi_phone(from_day = '2026-11-23', to_day = '2026-11-29', sl_seconds = 20)
CREATE OR REPLACE VIEW {db}.kpi_phone AS
SELECT day_scope AS day, queue_scope AS queue,
       countIf(stage = 'arrived') AS offered,
       countIf(stage = 'answered') AS answered,
       countIf(stage = 'abandoned') AS abandoned,
       countIf(stage = 'closed' AND resolved_first_contact = false) AS transferred,
       countIf(stage = 'answered' AND wait_seconds <= {sl_seconds:UInt32}) / (answered + abandoned) AS service_level,
       abandoned / (answered + abandoned) AS abandonment_rate,
       avgIf(wait_seconds, stage = 'answered') AS average_speed_of_answer,
       avgIf(handle_seconds, stage = 'closed') AS average_handle_time
FROM {db}.inquiry_events FINAL
ARRAY JOIN [toString(toDate(occurred_at, '{tz}')), '*'] AS day_scope
ARRAY JOIN [queue, '*'] AS queue_scope
WHERE channel = 'phone' AND direction = 'inbound'
  AND occurred_at >= toDateTime({from_day:Date}, '{tz}') AND occurred_at < toDateTime({to_day:Date} + 1, '{tz}')
GROUP BY day_scope, queue_scope

-- Cost: inbound inquiries x unit price per channel (unit_prices, from deploy/steering.yaml),
-- for the channels that have a price; channel = '*' is the total.
--   SELECT * FROM kanalpuls.kpi_cost(from_day = '2026-11-23', to_day = '2026-11-29')
CREATE OR REPLACE VIEW {db}.kpi_cost AS
SELECT channel_scope AS channel, inquiries, price_dkk, cost_dkk
FROM (
    SELECT arrayJoin([v.channel, '*']) AS channel_scope, sum(v.inquiries) AS inquiries,
           if(channel_scope = '*', NULL, any(p.price_dkk)) AS price_dkk, sum(v.inquiries * p.price_dkk) AS cost_dkk
    FROM (
        SELECT channel, sum(events) AS inquiries
        FROM {db}.inquiry_hour
        WHERE stage = 'arrived' AND direction = 'inbound' AND channel != 'web'
          AND hour >= toDateTime({from_day:Date}, '{tz}') AND hour < toDateTime({to_day:Date} + 1, '{tz}')
        GROUP BY channel
    ) AS v
    INNER JOIN {db}.unit_prices AS p ON p.channel = v.channel
    GROUP BY channel_scope
)

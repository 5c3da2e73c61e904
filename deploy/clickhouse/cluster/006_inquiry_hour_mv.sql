-- Cluster variant (example, NOT applied by `kanalpuls store init`, which reads only
-- deploy/clickhouse/*.sql). Run once per database with clickhouse-client --multiquery
-- after replacing {db} (e.g. kanalpuls) and checking the cluster name `kanalpuls` in
-- remote_servers; the {shard} and {replica} macros come from each server's config.
-- Each shard keeps a *_local table, replicated through ClickHouse Keeper; a Distributed
-- table under the single-node name reads (and routes inserts) across the shards, so the
-- worker, the KPI views and the dashboards keep their table names.
-- Per shard: local inserts into inquiry_events_local feed the local rollup.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.inquiry_hour_mv ON CLUSTER kanalpuls TO {db}.inquiry_hour_local AS
SELECT
    toStartOfHour(occurred_at)                                                  AS hour,
    municipality, channel, direction, stage, task, task_label, department, site, queue,
    requester_type, inquiry_kind,
    count()                                                                     AS events,
    countIf(stage = 'closed' OR resolved_first_contact IS NOT NULL)             AS resolution_known,
    countIf(ifNull(resolved_first_contact, stage = 'closed'))                   AS resolved,
    count(visited_web_first)                                                    AS web_first_known,
    countIf(ifNull(visited_web_first, false))                                   AS web_first,
    count(contact_key)                                                          AS with_contact_key,
    sum(ifNull(wait_seconds, 0))                                                AS wait_seconds_sum,
    count(wait_seconds)                                                         AS wait_count,
    sum(ifNull(handle_seconds, 0))                                              AS handle_seconds_sum,
    count(handle_seconds)                                                       AS handle_count
FROM {db}.inquiry_events_local
GROUP BY hour, municipality, channel, direction, stage, task, task_label, department, site, queue,
         requester_type, inquiry_kind;

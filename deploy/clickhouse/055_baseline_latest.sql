-- Every named count baseline as the KPI views compare with it (baseline_name = '<name>'),
-- one row per task x channel x direction: the newest import of each name in
-- baseline_counts, and the steering file's channel mixes (baseline_mix, inbound, as shares:
-- days = 0 says there is no volume to compare with). A mix in the steering file hides an
-- import of the same name: the steering file is looked up first, as `resolve_baseline` does.
--   SELECT * FROM kanalpuls.baseline_latest WHERE name = 'komhen_2025'
CREATE OR REPLACE VIEW {db}.baseline_latest AS
SELECT name, import_id, imported_at, source, period_from, period_to, days, task, channel, direction,
       sum(inquiries) AS inquiries
FROM {db}.baseline_counts FINAL
WHERE (name, import_id) IN (
    SELECT name, argMax(import_id, imported_at) FROM {db}.baseline_counts GROUP BY name
) AND name NOT IN (SELECT name FROM {db}.baseline_mix)
GROUP BY name, import_id, imported_at, source, period_from, period_to, days, task, channel, direction
UNION ALL
SELECT name, 'steering' AS import_id, toDateTime64(0, 3, 'UTC') AS imported_at, 'steering file' AS source,
       CAST(NULL AS Nullable(Date)) AS period_from, CAST(NULL AS Nullable(Date)) AS period_to,
       toUInt16(0) AS days, task, channel, 'inbound' AS direction, share AS inquiries
FROM {db}.baseline_mix

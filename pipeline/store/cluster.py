"""The ClickHouse cluster variant of the raw events and both rollups, derived from the
single-node DDL, so the columns, sort keys and view queries cannot drift apart: `kanalpuls
store cluster-ddl` prints it for an operator to run once with clickhouse-client.

Each shard keeps a `*_local` table, replicated through ClickHouse Keeper (the engine's
Replicated variant); a Distributed table under the single-node name reads, and routes
inserts, across the shards, sharded by municipality: an event_id's copies meet on one shard,
where the ReplacingMergeTree merge (and FINAL) can drop them, and a municipality's rollups
stay together. The worker, the KPI views and the boards keep their table names. The views
fill each shard's local rollups from that shard's local inserts.
"""

from __future__ import annotations

import re

from pipeline.ground.errors import TerminalError
from pipeline.store.clickhouse import DDL_DIR

CLUSTER = "kanalpuls"
# The events and the rollups the worker writes; the steering tables and views stay per node.
CLUSTERED = ("001_inquiry_events.sql", "002_inquiry_minute.sql", "003_inquiry_minute_mv.sql",
             "005_inquiry_hour.sql", "006_inquiry_hour_mv.sql")
HEADER = f"""-- kanalpuls on a ClickHouse cluster: run once, against one node, with
--   clickhouse-client --multiquery < cluster.sql
-- after defining the cluster `{CLUSTER}` in remote_servers and the {{shard}} and {{replica}}
-- macros on each server; then `kanalpuls store init` against each node creates what is
-- still missing (the KPI views, the steering tables, walk_in_alerts, dead_letters)."""

_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS \{db\}\.(\w+)$", re.M)
_ENGINE = re.compile(r"^ENGINE = (\w+)(?:\((.*)\))?$", re.M)
_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS \{db\}\.(\w+) TO \{db\}\.(\w+) AS$", re.M)
_EVENTS = re.compile(r"^FROM \{db\}\.inquiry_events$", re.M)


class ClusterDdlError(TerminalError):
    """A single-node DDL file no longer has the shape the cluster variant is derived from."""


def cluster_ddl(database: str = "kanalpuls") -> str:
    """Every statement of the cluster variant, with `database` filled in."""
    parts = [HEADER, f"CREATE DATABASE IF NOT EXISTS {{db}} ON CLUSTER {CLUSTER};"]
    for name in CLUSTERED:
        sql = (DDL_DIR / name).read_text(encoding="utf-8").strip()
        parts.append(f"-- from deploy/clickhouse/{name}\n{_clustered(name, sql)}")
    return "\n\n".join(parts).replace("{db}", database) + "\n"


def _clustered(name: str, sql: str) -> str:
    table = _TABLE.search(sql)
    if table is not None:
        return _replicated_table(name, sql, table.group(1))
    view = _VIEW.search(sql)
    if view is None or _EVENTS.search(sql) is None:
        raise ClusterDdlError(f"deploy/clickhouse/{name}: neither a table nor a view of inquiry_events")
    sql = sql.replace(view.group(0), f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{view.group(1)} "
                                     f"ON CLUSTER {CLUSTER} TO {{db}}.{view.group(2)}_local AS")
    return _EVENTS.sub("FROM {db}.inquiry_events_local", sql) + ";"


def _replicated_table(name: str, sql: str, table: str) -> str:
    """The shards' local table on the Replicated engine, and the Distributed table over them."""
    engine = _ENGINE.search(sql)
    if engine is None or "non_replicated_deduplication_window" not in sql:
        raise ClusterDdlError(f"deploy/clickhouse/{name}: no ENGINE line or deduplication window to replicate")
    arguments = f", {engine.group(2)}" if engine.group(2) else ""
    local = (sql.replace(f"{{db}}.{table}\n", f"{{db}}.{table}_local ON CLUSTER {CLUSTER}\n", 1)
             .replace(engine.group(0), f"ENGINE = Replicated{engine.group(1)}('/clickhouse/tables/{{shard}}/{{db}}/"
                                       f"{table}', '{{replica}}'{arguments})")
             .replace("non_replicated_deduplication_window", "replicated_deduplication_window"))
    return (f"{local};\n\nCREATE TABLE IF NOT EXISTS {{db}}.{table} ON CLUSTER {CLUSTER} AS {{db}}.{table}_local\n"
            f"ENGINE = Distributed({CLUSTER}, {{db}}, {table}_local, cityHash64(municipality));")

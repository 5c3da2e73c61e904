"""deploy/grafana/provisioning holds what Grafana's file provisioning expects (apiVersion 1,
the keys each kind reads), the data source uids the boards and the alert rule refer to, and
paths that match docker-compose.yml's mounts. No Grafana here: the files are read."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from dashboards.boards import DATASOURCE_TYPE, DATASOURCE_UID, PROMETHEUS_UID
from pipeline.ground import metrics

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
CLICKHOUSE_UID = DATASOURCE_UID  # the boards' constant: provisioning must define the same


def load(kind: str) -> dict:
    (path,) = sorted((PROVISIONING / kind).glob("*.yaml"))
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1
    return document


def datasources() -> dict[str, dict]:
    return {source["uid"]: source for source in load("datasources")["datasources"]}


def grafana_service() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["grafana"]


def mounts(service: dict) -> dict[str, str]:
    return {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}  # target: source


def test_clickhouse_source_is_the_plugin_as_the_read_only_user_with_the_password_from_the_environment() -> None:
    source = datasources()[CLICKHOUSE_UID]
    assert source["type"] == DATASOURCE_TYPE == "grafana-clickhouse-datasource"
    data = source["jsonData"]
    assert {"host", "port", "protocol", "username"} <= set(data)
    assert data["username"] == "grafana" and data["defaultDatabase"] == "kanalpuls"
    assert data["protocol"] in ("http", "native") and data["port"] == (8123 if data["protocol"] == "http" else 9000)
    password = source["secureJsonData"]["password"]
    assert password == "$CLICKHOUSE_GRAFANA_PASSWORD"  # substituted by Grafana, nothing committed
    assert "CLICKHOUSE_GRAFANA_PASSWORD" in grafana_service()["environment"]
    # The same variable the ClickHouse server reads for the user (users.xml from_env).
    users_xml = (ROOT / "deploy" / "clickhouse" / "users.xml").read_text(encoding="utf-8")
    assert 'from_env="CLICKHOUSE_GRAFANA_PASSWORD"' in users_xml


def test_prometheus_source_points_at_the_compose_prometheus() -> None:
    source = datasources()[PROMETHEUS_UID]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert source["url"].split("//")[1].split(":")[0] in yaml.safe_load(
        (ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]


def test_each_data_source_has_the_keys_grafana_requires() -> None:
    for source in load("datasources")["datasources"]:
        assert {"name", "type", "uid", "access"} <= set(source)
    assert sum(bool(source.get("isDefault")) for source in datasources().values()) == 1


def test_dashboard_provider_reads_the_folder_compose_mounts_from_dashboards_json() -> None:
    (provider,) = load("dashboards")["providers"]
    assert provider["type"] == "file" and {"name", "orgId", "folder", "options"} <= set(provider)
    path = provider["options"]["path"]
    assert mounts(grafana_service())[path] == "./dashboards/json"
    assert mounts(grafana_service())["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


def test_every_board_uses_a_provisioned_data_source_uid() -> None:
    """Reads the boards dashboards/ generated (their content is the board tests' business):
    a data source uid Grafana would not find is a failure here."""
    uids = set(datasources()) | {"-- Grafana --", "grafana", "__expr__"}
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            source = node.get("datasource")
            if isinstance(source, dict) and "uid" in source and not str(source["uid"]).startswith("$"):
                found.append(source["uid"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    boards = sorted((ROOT / "dashboards" / "json").glob("*.json"))
    assert boards, "dashboards/json has no boards: run `kanalpuls dashboards build`"
    for board in boards:
        walk(json.loads(board.read_text(encoding="utf-8")))
    assert DATASOURCE_UID in found
    assert set(found) <= uids, f"boards refer to data sources provisioning does not define: {set(found) - uids}"


def rule() -> dict:
    (group,) = load("alerting")["groups"]
    assert {"orgId", "name", "folder", "interval", "rules"} <= set(group)
    (spike,) = group["rules"]
    return spike


def test_walk_in_spike_rule_has_the_keys_grafana_provisioning_expects() -> None:
    spike = rule()
    assert {"uid", "title", "condition", "data", "noDataState", "execErrState", "for"} <= set(spike)
    ref_ids = [query["refId"] for query in spike["data"]]
    assert len(ref_ids) == len(set(ref_ids)) and spike["condition"] in ref_ids
    for query in spike["data"]:
        assert query["model"]["refId"] == query["refId"]
        assert query["datasourceUid"] in set(datasources()) | {"__expr__"}
        if query["datasourceUid"] == "__expr__":  # expressions name a query or expression above
            assert query["model"]["expression"] in ref_ids
        else:
            assert "relativeTimeRange" in query and query["model"]["expr"]
    assert spike["noDataState"] in ("OK", "NoData", "Alerting", "KeepLast")
    assert spike["execErrState"] in ("OK", "Error", "Alerting", "KeepLast")


def test_walk_in_spike_rule_fires_per_site_when_the_worker_holds_a_spike_open() -> None:
    spike = rule()
    queries = {query["refId"]: query for query in spike["data"]}
    (source,) = [q for q in queries.values() if q["datasourceUid"] != "__expr__" and "spike" in q["model"]["expr"]]
    assert source["datasourceUid"] == PROMETHEUS_UID
    metric = metrics.WALK_IN_SPIKE._name  # the gauge the worker sets, same name as exported
    assert source["model"]["expr"] == f"max by (site) ({metric})"
    condition = queries[spike["condition"]]["model"]
    assert condition["type"] == "threshold"
    assert condition["conditions"][0]["evaluator"] == {"type": "gt", "params": [0]}
    for name in ("kanalpuls_walk_in_arrivals_window", "kanalpuls_walk_in_expected_window"):
        assert any(q["model"].get("expr", "").endswith(f"({name})") for q in queries.values())
    assert "$labels.site" in spike["annotations"]["summary"]
    assert not {"alertname", "grafana_folder"} & set(spike.get("labels", {}))  # reserved by Grafana

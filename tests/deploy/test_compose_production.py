"""docker-compose.yml as IT runs it: valid against the Compose Specification's JSON Schema,
every long-running service with a healthcheck and a start order that waits on it, data in
named volumes, secrets from .env (each one named in .env.example, none written in the
file), and a worker that `docker compose up --scale worker=3` can multiply.

The schema is the compose-spec project's schema/compose-spec.json (Apache-2.0), kept in
tests/data/compose-spec/ with its licence (as check-jsonschema vendors it; that package
itself is not a dependency: its CLI needs a newer click than faust-streaming allows)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
ONE_SHOT = {"topics", "store-init"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def compose_schema() -> dict:
    return json.loads((ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json").read_text(encoding="utf-8"))


def errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert compose_schema()["title"] == "Compose Specification"
    assert errors(compose()) == []


def test_the_schema_check_catches_a_mistake() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["worker"]["depends_on"]["topics"]["condition"] = "service_finished"
    broken["services"]["grafana"]["healthcheck"]["intervall"] = "10s"
    found = errors(broken)
    assert any(e.startswith("services/worker/depends_on") for e in found), found
    assert any(e.startswith("services/grafana/healthcheck") and "intervall" in e for e in found), found


def test_every_long_running_service_has_a_healthcheck_and_one_shots_gate_their_dependants() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
        else:
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        for dependency, rule in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {dependency}"


def test_start_order_puts_schema_and_topics_before_anything_reads_or_writes_them() -> None:
    services = compose()["services"]
    assert set(services["worker"]["depends_on"]) == {"topics", "store-init"}
    assert set(services["topics"]["depends_on"]) == {"kafka"}
    assert set(services["store-init"]["depends_on"]) == {"clickhouse"}
    assert {"clickhouse", "store-init", "prometheus"} <= set(services["grafana"]["depends_on"])
    for name in ("connectors", "ingest-http"):
        assert "topics" in services[name]["depends_on"]


def test_worker_scales_no_fixed_name_and_no_host_port() -> None:
    worker = compose()["services"]["worker"]
    # Each replica would claim the same name, host port or named volume (Faust's local
    # state under KANALPULS_WORKER__DATA_DIR stays in each container's own filesystem).
    assert "container_name" not in worker and "ports" not in worker
    assert not any(str(v).split(":")[0] in compose()["volumes"] for v in worker.get("volumes", []))


def test_kafka_clickhouse_and_grafana_keep_their_data_in_named_volumes() -> None:
    services, volumes = compose()["services"], compose()["volumes"]
    for name, path in (("kafka", "/var/lib/kafka/data"), ("clickhouse", "/var/lib/clickhouse"),
                       ("grafana", "/var/lib/grafana")):
        sources = [v.split(":")[0] for v in services[name]["volumes"] if v.split(":")[1] == path]
        assert sources and sources[0] in volumes, name


def test_clickhouse_loads_the_read_only_user_and_grafana_the_provisioning() -> None:
    services = compose()["services"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in services["clickhouse"]["volumes"]}
    assert mounts["./deploy/clickhouse/users.xml"].startswith("/etc/clickhouse-server/users.d/")
    grafana = services["grafana"]
    image, tag = grafana["image"].rsplit(":", 1)
    assert image == "grafana/grafana-oss" and re.fullmatch(r"\d+\.\d+\.\d+", tag)  # pinned, not latest
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
    assert "/api/health" in " ".join(grafana["healthcheck"]["test"])


def test_every_secret_comes_from_env_and_env_example_names_it() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {"CLICKHOUSE_PASSWORD", "CLICKHOUSE_GRAFANA_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= required
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert required <= named, f".env.example lacks {required - named}"
    for service in compose()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key):
                assert str(value).startswith("${"), f"{key} is written into docker-compose.yml"

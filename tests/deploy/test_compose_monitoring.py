"""docker-compose.yml's prometheus and alertmanager services fit deploy/prometheus and
deploy/alertmanager: the right folders mounted where the commands look, scrape and alert
targets that are compose services on the ports they listen on, health checks, and enough
retention for ConnectorSilent's two-week look back. (No Docker here: the files are read.)"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.ground.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def prometheus_config() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))


def flag(service: dict, name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in service["command"] if arg.startswith(f"--{name}="))


def test_each_service_reads_its_deploy_folder_and_keeps_its_data_in_a_volume() -> None:
    services, volumes = compose()["services"], compose()["volumes"]
    for name, folder, config_file in (("prometheus", "./deploy/prometheus", "prometheus.yml"),
                                      ("alertmanager", "./deploy/alertmanager", "alertmanager.yml")):
        service = services[name]
        mounts = {v.split(":")[0]: v.split(":")[1] for v in service["volumes"]}  # source: target[:ro]
        assert flag(service, "config.file") == f"{mounts[folder]}/{config_file}"
        assert (ROOT / folder / config_file).is_file()
        data_path = flag(service, "storage.tsdb.path" if name == "prometheus" else "storage.path")
        named = [src for src, dst in mounts.items() if dst == data_path]
        assert named and named[0] in volumes, f"{name} keeps its data outside a named volume"
        assert "/-/ready" in " ".join(service["healthcheck"]["test"])


def test_prometheus_scrapes_the_worker_service_on_its_web_port() -> None:
    services = compose()["services"]
    job = next(j for j in prometheus_config()["scrape_configs"] if j["job_name"] == "kanalpuls-worker")
    (dns,) = job["dns_sd_configs"]
    (name,) = dns["names"]
    assert name in services
    worker_env = services[name].get("environment", {})
    port = int(worker_env.get("KANALPULS_WORKER__WEB_PORT", WorkerSettings().web_port))
    assert dns["port"] == port and dns["type"] == "A"
    # The worker listens on loopback by default; in compose it must answer other containers.
    assert worker_env["KANALPULS_WORKER__WEB_HOST"] == "0.0.0.0"


def test_prometheus_sends_alerts_to_the_alertmanager_service() -> None:
    (target,) = prometheus_config()["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in compose()["services"]
    assert port == "9093"  # Alertmanager's default --web.listen-address


def test_prometheus_keeps_the_history_connector_silent_compares_with() -> None:
    retention = flag(compose()["services"]["prometheus"], "storage.tsdb.retention.time")
    assert retention.endswith("d") and int(retention[:-1]) >= 15  # two weeks and an hour back

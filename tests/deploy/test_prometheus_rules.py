"""deploy/prometheus/: promtool accepts the config and rules, and the rules' unit tests
(rules_test*.yml) pass, and fail when a rule loses what they pin."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.ground.steering import load_steering

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_TESTS = ("rules_test.yml", "rules_test_connector_silent.yml")
ALERTS = {"WalkInSpike", "PhoneAbandonmentHigh", "ConnectorSilent", "DeadLetterRateHigh", "ConsumerLagHigh",
          "KanalpulsWorkerDown", "KanalpulsNoWorker"}


def promtool(tools, *args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tools.promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_config_and_the_rules_it_loads(alerting_tools) -> None:
    checked = promtool(alerting_tools, "check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout + checked.stderr
    checked = promtool(alerting_tools, "check", "rules", "rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in checked.stdout + checked.stderr


def test_every_alert_the_brief_asks_for_is_there_with_a_severity() -> None:
    found = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(found) == ALERTS
    assert {name: rule["labels"]["severity"] for name, rule in found.items()}["WalkInSpike"] == "page"
    assert all(rule["labels"]["severity"] in ("page", "critical", "warning") for rule in found.values())


@pytest.mark.parametrize("test_file", RULE_TESTS)
def test_rule_unit_tests_pass(alerting_tools, test_file: str) -> None:
    tested = promtool(alerting_tools, "test", "rules", test_file)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_both_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for name in RULE_TESTS:
        for case in yaml.safe_load((PROMETHEUS / name).read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing == ALERTS
    assert quiet == ALERTS


def test_the_spike_summary_names_the_steering_files_window() -> None:
    window = load_steering(DEPLOY / "steering.yaml").spike.window_minutes
    spike = next(rule for rule in rules() if rule.get("alert") == "WalkInSpike")
    assert f"in the last {window} minutes" in spike["annotations"]["summary"]


# A rule changed in a way the unit tests must notice. Each mutation is (old, new) text in
# rules.yml; the rules_test.yml run against the mutated copy must fail.
MUTATIONS = {
    "phone alert without minimum volume": ("stage=~\"answered|abandoned\"}[30m])) >= 30", "stage=~\"answered|abandoned\"}[30m])) >= 0"),
    "walk-in alert per worker instead of per site": ("max by (site) (kanalpuls_walk_in_spike)", "max by (site, instance) (kanalpuls_walk_in_spike)"),
    "walk-in alert delayed by a `for`": ("expr: max by (site) (kanalpuls_walk_in_spike) > 0\n", "expr: max by (site) (kanalpuls_walk_in_spike) > 0\n        for: 2m\n"),
    "lag alert on the latest value, not the window's minimum": ("(min_over_time(kanalpuls_worker_consumer_lag[10m]))", "(kanalpuls_worker_consumer_lag)"),
    "dead letters per worker": ("sum by (connector) (increase(kanalpuls_dead_letters_total[1h]))", "max by (connector) (increase(kanalpuls_dead_letters_total[1h]))"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_rule_unit_tests_fail_on_a_broken_rule(alerting_tools, tmp_path: Path, mutation: str) -> None:
    old, new = MUTATIONS[mutation]
    text = (PROMETHEUS / "rules.yml").read_text(encoding="utf-8")
    assert text.count(old) == 1, f"mutation {mutation!r} no longer applies to rules.yml"
    (tmp_path / "rules.yml").write_text(text.replace(old, new), encoding="utf-8")
    shutil.copy(PROMETHEUS / "rules_test.yml", tmp_path)
    tested = promtool(alerting_tools, "test", "rules", "rules_test.yml", cwd=tmp_path)
    assert tested.returncode != 0, f"rules_test.yml still passes with {mutation}"
    assert re.search(r"FAILED", tested.stdout + tested.stderr)


def test_a_running_prometheus_loads_the_rules_and_finds_alertmanager(prometheus, alertmanager) -> None:
    import json
    import urllib.request

    def get(path: str) -> dict:
        with urllib.request.urlopen(f"{prometheus.url}{path}", timeout=10) as response:
            return json.loads(response.read())["data"]

    loaded = [rule for group in get("/api/v1/rules")["groups"] for rule in group["rules"]]
    assert {rule["name"] for rule in loaded if rule["type"] == "alerting"} == ALERTS
    assert all(rule["health"] != "err" for rule in loaded), [r.get("lastError") for r in loaded]
    found = [am["url"] for am in get("/api/v1/alertmanagers")["activeAlertmanagers"]]
    assert found == [f"{alertmanager.url}/api/v2/alerts"]

"""deploy/alertmanager/alertmanager.yml: amtool accepts it, each alert from rules.yml (with
the labels the rule gives it) reaches the right receiver, walk-in spikes page the site's
duty lead and say when they are over, and holidays are muted; then a real Alertmanager
with the deployed routes shows inhibition and resolved notifications."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from pipeline.ground.steering import load_steering
from pipeline.simulated.walkins import SITES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")

SITE_RECEIVERS = {"Rådhuset": "duty-raadhuset", "Borgerservice Syd": "duty-borgerservice-syd",
                  "Hovedbiblioteket": "duty-hovedbiblioteket"}
OTHER_RECEIVERS = {"PhoneAbandonmentHigh": "phone-lead", "ConnectorSilent": "operations",
                   "DeadLetterRateHigh": "operations", "ConsumerLagHigh": "operations",
                   "KanalpulsWorkerDown": "operations", "KanalpulsNoWorker": "operations"}


def config() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def rule_labels(alertname: str) -> dict[str, str]:
    """The labels Prometheus gives the alert: the rule's own plus its name."""
    groups = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text(encoding="utf-8"))["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == alertname)
    return {"alertname": alertname, **rule.get("labels", {})}


def route(tools, labels: dict[str, str]) -> str:
    """The receiver(s) amtool says the deployed routing tree picks for these labels."""
    done = subprocess.run([tools.amtool, "config", "routes", "test", f"--config.file={CONFIG}",
                           *(f"{k}={v}" for k, v in labels.items())],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_amtool_accepts_the_config(alerting_tools) -> None:
    done = subprocess.run([alerting_tools.amtool, "check-config", str(CONFIG)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("site", sorted(SITES))
def test_a_spike_at_a_site_pages_that_sites_duty_lead(alerting_tools, site: str) -> None:
    assert route(alerting_tools, {**rule_labels("WalkInSpike"), "site": site}) == SITE_RECEIVERS[site]


def test_a_spike_at_a_site_without_its_own_route_pages_the_duty_lead(alerting_tools) -> None:
    assert route(alerting_tools, {**rule_labels("WalkInSpike"), "site": "Filial Nord"}) == "duty-lead"


def test_every_site_with_spike_thresholds_has_its_own_route() -> None:
    sites = set(load_steering(DEPLOY / "steering.yaml").spike.sites) | set(SITES)
    assert sites <= set(SITE_RECEIVERS)


@pytest.mark.parametrize("alertname", sorted(OTHER_RECEIVERS))
def test_other_alerts_reach_their_receiver(alerting_tools, alertname: str) -> None:
    assert route(alerting_tools, rule_labels(alertname)) == OTHER_RECEIVERS[alertname]


def test_every_receiver_is_told_when_an_alert_resolves() -> None:
    receivers = config()["receivers"]
    assert {r["name"] for r in receivers} >= set(SITE_RECEIVERS.values()) | set(OTHER_RECEIVERS.values())
    for receiver in receivers:
        assert receiver["webhook_configs"], receiver["name"]
        assert all(hook["send_resolved"] is True for hook in receiver["webhook_configs"]), receiver["name"]
        # Placeholders until a municipality fills in its own endpoints (see the file's header).
        assert all(".invalid/" in hook["url"] for hook in receiver["webhook_configs"]), receiver["name"]


def test_a_spike_is_grouped_per_site_and_pages_within_a_minute() -> None:
    routing = config()["route"]
    assert {"alertname", "site"} <= set(routing["group_by"])
    page = next(r for r in routing["routes"] if r["matchers"] == ['severity="page"'])
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))["global"]
    seconds = sum(int(str(v).removesuffix("s")) for v in
                  (prometheus["scrape_interval"], prometheus["evaluation_interval"], page["group_wait"]))
    assert seconds <= 60


def closed_days_muted() -> set[date]:
    """Every day the `closed-days` time interval covers."""
    interval = next(t for t in config()["time_intervals"] if t["name"] == "closed-days")
    days = set()
    for entry in interval["time_intervals"]:
        assert set(entry) == {"years", "months", "days_of_month"}, entry
        for year in entry["years"]:
            for month in entry["months"]:
                for day in entry["days_of_month"]:
                    days.add(date(int(year), MONTHS.index(month) + 1, int(day)))
    return days


def test_closed_days_are_the_steering_files_holidays_and_closing_days() -> None:
    steering = load_steering(DEPLOY / "steering.yaml")
    muted = closed_days_muted()
    years = sorted({d.year for d in muted})
    every_day = [date(years[0], 1, 1) + timedelta(days=n)
                 for n in range((date(years[-1], 12, 31) - date(years[0], 1, 1)).days + 1)]
    assert {d for d in every_day if steering.closed_day(d)} == muted
    assert years == list(range(years[0], years[-1] + 1))
    assert date.today().year in years, "extend the closed-days time interval to this year"


def test_only_connector_silent_is_muted_on_closed_days() -> None:
    def muted(route: dict) -> list[list[str]]:
        found = [route["matchers"]] if route.get("mute_time_intervals") else []
        return found + [m for child in route.get("routes", []) for m in muted(child)]

    assert muted(config()["route"]) == [['alertname="ConnectorSilent"']]


# --- against a running Alertmanager with the deployed routes -----------------------------


def _alert(labels: dict[str, str], ends_in: timedelta = timedelta(minutes=5)) -> dict:
    now = datetime.now(timezone.utc)
    return {"labels": labels, "annotations": {"summary": "test"}, "startsAt": now.isoformat(),
            "endsAt": (now + ends_in).isoformat()}


def _wait(predicate, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def test_a_down_worker_inhibits_silent_sources_but_not_dead_letters(alertmanager) -> None:
    run = uuid.uuid4().hex[:8]
    down = {**rule_labels("KanalpulsWorkerDown"), "instance": f"worker-{run}:6066", "job": "kanalpuls-worker"}
    silent = {**rule_labels("ConnectorSilent"), "source_system": f"pbx-{run}"}
    letters = {**rule_labels("DeadLetterRateHigh"), "connector": f"connector-{run}"}
    alertmanager.post_alerts([_alert(down), _alert(silent), _alert(letters)])

    def state(labels: dict[str, str]) -> dict | None:
        return next((a["status"] for a in alertmanager.alerts()
                     if all(a["labels"].get(k) == v for k, v in labels.items())), None)

    _wait(lambda: state(silent) and state(silent)["inhibitedBy"], "ConnectorSilent to be inhibited")
    assert state(silent)["state"] == "suppressed"
    assert state(letters)["inhibitedBy"] == [] and state(letters)["state"] == "active"
    assert state(down)["inhibitedBy"] == []


def test_a_spike_notifies_the_sites_webhook_and_again_when_resolved(alertmanager, webhook_recorder) -> None:
    site = "Borgerservice Syd"
    labels = {**rule_labels("WalkInSpike"), "site": site, "test_run": uuid.uuid4().hex[:8]}
    path = "/kanalpuls/duty/borgerservice-syd"

    def ours(status: str) -> list[dict]:
        return [n for n in webhook_recorder.notifications(path)
                if n["status"] == status and any(a["labels"].get("test_run") == labels["test_run"]
                                                 for a in n["alerts"])]

    alertmanager.post_alerts([_alert(labels)])
    fired = _wait(lambda: ours("firing"), "the firing notification")
    assert fired[0]["receiver"] == "duty-borgerservice-syd"
    assert fired[0]["groupLabels"] == {"alertname": "WalkInSpike", "site": site}

    alertmanager.post_alerts([_alert(labels, ends_in=timedelta(0))])
    resolved = _wait(lambda: ours("resolved"), "the resolved notification")
    assert resolved[0]["receiver"] == "duty-borgerservice-syd"
    assert all(n["receiver"] == "duty-borgerservice-syd" for n in webhook_recorder.notifications(path))

"""Walk-in spike page end to end, on real services: simulated ticket exports -> the
ticket_export connector -> Kafka -> a `kanalpuls worker` process (its /metrics) -> the
Debian Prometheus evaluating deploy/prometheus/rules.yml unchanged -> the Debian
Alertmanager routing with deploy/alertmanager/alertmanager.yml -> the site's duty webhook.

Two baseline weeks and a spike day (Thursday 2026-04-30, a 4x hour at Rådhuset from 11:00).
The spike day is replayed in two parts: up to half an hour into the spike, so the worker
holds the spike open while Prometheus and Alertmanager work (a whole-day replay would open
and close it within a second of wall time, between two scrapes), then the rest of the day,
after which the worker resolves it. Prometheus runs with 1 s intervals (conftest); the
deployed intervals' one-minute budget is checked in tests/deploy/.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.ground.settings import Settings
from pipeline.ground.steering import load_steering
from pipeline.simulated.municipality import simulate
from pipeline.worker.supervise import worker_process
from tests.test_walk_in_spike import Simulated, ingest, metric_samples, wait_for

START = date(2026, 4, 13)  # Monday
SPIKE_DAY = date(2026, 4, 30)  # Thursday; its baseline weeks are Thursdays 2026-04-16 and 2026-04-23 (two: the
                               # fewest a spike pages on, spike.min_baseline_weeks)
DAYS = (SPIKE_DAY - START).days + 1
SEED = 3
HOLD_SPIKE_FOR = timedelta(minutes=30)  # the first part of the spike day ends this far into the spike
SITE_WEBHOOK = {"Rådhuset": ("duty-raadhuset", "/kanalpuls/duty/raadhuset")}
# Every worker metric deploy/prometheus/rules.yml reads (the contract in pipeline/ground/metrics.py).
RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "rules.yml"
RULE_METRICS = sorted(set(re.findall(r"\bkanalpuls_[a-z_]+", RULES.read_text(encoding="utf-8"))))


def split_ticket_file(path: Path, at: datetime, out: Path) -> tuple[Path, Path]:
    """The export's rows issued before `at` (local time) and the rest, as two exports of the
    same day in separate folders (the connector checkpoints per file)."""
    header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = at.strftime("%Y-%m-%d %H:%M:%S")
    issued = header.rstrip("\n").split(";").index("issued_at")

    def before(row: str) -> bool:
        fields = row.split(";")
        # The simulator plants malformed rows; keep them in the first part, where they
        # are dead-lettered like any other day's.
        return len(fields) <= issued or fields[issued] < cut

    parts = []
    for name, keep in (("before", before), ("after", lambda row: not before(row))):
        (out / name).mkdir(parents=True, exist_ok=True)
        part = out / name / path.name
        part.write_text(header + "".join(r for r in rows if keep(r)), encoding="utf-8")
        parts.append(part)
    return parts[0], parts[1]


def walk_in_alerts(alertmanager, prometheus, site: str | None = None) -> list[dict]:
    """WalkInSpike alerts in Alertmanager that our Prometheus sent (other tests post their own)."""
    return [a for a in alertmanager.alerts() if a["labels"].get("alertname") == "WalkInSpike"
            and a["generatorURL"].startswith(prometheus.url)
            and (site is None or a["labels"].get("site") == site)]


def test_a_walk_in_spike_pages_the_sites_duty_lead_through_prometheus_and_alertmanager_then_resolves(
    topics: Settings, prometheus, alertmanager, webhook_recorder, tmp_path: Path
) -> None:
    settings = topics
    sim = Simulated(tmp_path / "logs", simulate(tmp_path / "logs", days=DAYS, seed=SEED, start=START, spike=SPIKE_DAY))
    spike = sim.truth.spike
    assert spike is not None and spike.day == SPIKE_DAY
    receiver, path = SITE_WEBHOOK[spike.site]
    rule = load_steering(settings.steering.file).spike.rule(spike.site)
    baseline = sim.tickets(before=SPIKE_DAY)
    (spike_day_file,) = sim.tickets(since=SPIKE_DAY)
    first_part, rest = split_ticket_file(spike_day_file, spike.local_start + HOLD_SPIKE_FOR, tmp_path / "spike-day")
    gauge = ("kanalpuls_walk_in_spike", (("site", spike.site),))
    address = f"{settings.worker.web_host}:{settings.worker.web_port}"
    notified_before = len(webhook_recorder.notifications(path))

    with worker_process(settings, tmp_path / "worker.log"):
        prometheus.scrape_workers([address])
        try:
            wait_for(lambda: any(t["labels"]["instance"] == address and t["health"] == "up"
                                 for t in prometheus.targets()), 30, "Prometheus scraping the worker")

            # 1. The baseline week and the spike's first half hour: the worker opens a spike.
            ingest(settings, [*baseline, first_part])
            wait_for(lambda: metric_samples(settings).get(gauge) == 1, 60, "the worker's spike gauge")
            opened = time.monotonic()
            (alert,) = wait_for(lambda: walk_in_alerts(alertmanager, prometheus, spike.site), 60,
                                "the WalkInSpike alert in Alertmanager")
            paged_after = time.monotonic() - opened
            firing = wait_for(lambda: [n for n in webhook_recorder.notifications(path)[notified_before:]
                                       if n["status"] == "firing"], 30, "the firing notification")
            samples = metric_samples(settings)

            assert alert["labels"] == {"alertname": "WalkInSpike", "site": spike.site, "severity": "page",
                                       "channel": "walk_in"}
            assert alert["receivers"] == [{"name": receiver}]
            assert alert["status"]["state"] == "active"
            notes = alert["annotations"]
            count, expected, ratio = int(notes["count"]), float(notes["expected"]), float(notes["ratio"])
            assert count >= rule.min_count and ratio >= rule.ratio
            # The worker's own numbers, as Prometheus scraped them (the count may have moved a
            # little as wall time slides the window between scrape and our read).
            assert expected == pytest.approx(samples[("kanalpuls_walk_in_expected_window", (("site", spike.site),))],
                                             abs=0.05)
            assert abs(count - samples[("kanalpuls_walk_in_arrivals_window", (("site", spike.site),))]) <= 3
            assert ratio == pytest.approx(count / expected, abs=0.1)
            assert notes["summary"] == (f"Walk-in spike at {spike.site}: {count} arrivals in the last 15 minutes, "
                                        f"{notes['expected']} expected (ratio {notes['ratio']})")
            assert [a["labels"]["site"] for a in walk_in_alerts(alertmanager, prometheus)] == [spike.site], \
                "only the spiked site pages"
            assert firing[0]["receiver"] == receiver
            assert firing[0]["groupLabels"] == {"alertname": "WalkInSpike", "site": spike.site}
            assert re.search(rf"Walk-in spike at {spike.site}: \d+ arrivals", firing[0]["alerts"][0]["annotations"]["summary"])
            print(f"\npaged {paged_after:.1f}s after the worker opened the spike "
                  f"({count} arrivals, {expected} expected, ratio {ratio})")

            # 2. The rest of the day: the spike hour leaves the window, the worker resolves,
            # and so do Prometheus and Alertmanager.
            ingest(settings, [rest])
            wait_for(lambda: metric_samples(settings).get(gauge) == 0, 60, "the worker to resolve the spike")
            wait_for(lambda: not walk_in_alerts(alertmanager, prometheus), 60, "the alert to leave Alertmanager")
            resolved = wait_for(lambda: [n for n in webhook_recorder.notifications(path)[notified_before:]
                                         if n["status"] == "resolved"], 30, "the resolved notification")
            assert resolved[0]["receiver"] == receiver
            (gone,) = resolved[0]["alerts"]
            assert (gone["status"], gone["labels"]["site"]) == ("resolved", spike.site)
            assert prometheus.query('ALERTS{alertname="WalkInSpike"}') == []

            # Every metric the rules read comes from the real worker (consumer lag is measured
            # on a 5 s timer), and every rule's expression runs over its series without error
            # (many-to-many matching, say).
            def scraped() -> set[str]:
                found = prometheus.query(f'{{__name__=~"{"|".join(RULE_METRICS)}"}}')
                return {r["metric"]["__name__"] for r in found}

            wait_for(lambda: scraped() == set(RULE_METRICS), 30, f"Prometheus to hold every one of {RULE_METRICS}")
            for rule in prometheus.rules():  # ConnectorSilent's group runs once a minute: query it here
                assert rule["health"] != "err", (rule["name"], rule.get("lastError"))
                prometheus.query(rule["query"])  # an HTTP error (bad matching) raises
        finally:
            prometheus.scrape_workers([])

"""What the demo shows a municipality it buys, each number from the store beside the same
number worked out from the simulator's ground truth: the walk-in spike alert and its
resolution, channel shift against the rolling four weeks, realised gain, the targets, and
first-contact resolution. Kept apart from pipeline/demo/end_to_end.py, which runs the pipeline.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipeline.ground.steering import Steering
from pipeline.measures.baselines import resolve_baseline
from pipeline.measures.kpis import run_kpi
from pipeline.measures.targets import evaluate_targets
from pipeline.simulated.truth import GroundTruth, expected_first_contact, expected_inquiries
from pipeline.store.clickhouse import QueryResult

Query = Callable[[str], QueryResult]
BASELINE = "rolling_4_weeks"
DECIMALS = 6


@dataclass(frozen=True)
class Check:
    """One line of the demo's summary: what, the store's value, ground truth's, equal or not."""

    what: str
    stored: str
    truth: str
    ok: bool


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(round(a, DECIMALS), round(b, DECIMALS), abs_tol=10 ** -DECIMALS)


def _inbound(truth: GroundTruth, sources: tuple[str, ...], first: date, last: date) -> Counter[tuple[str, str]]:
    """Inbound inquiries (page views left out) per (task, channel) in [first, last], from ground truth."""
    out: Counter[tuple[str, str]] = Counter()
    for (day, channel, task, _, _), n in expected_inquiries(truth, sources).items():
        if channel != "web" and first <= date.fromisoformat(day) <= last:
            out[(task, channel)] += n
    return out


def alert_checks(query: Query, database: str, truth: GroundTruth) -> list[Check]:
    """The spike alert the worker raised: at the spiked site, fired during the spike hour, resolved after it."""
    spike = truth.spike
    rows = query(f"SELECT site, status, count, expected, ratio, min_count, threshold_ratio, "
                 f"toUnixTimestamp64Milli(fired_at) AS fired_ms, "
                 f"toUnixTimestamp64Milli(resolved_at) AS resolved_ms FROM {database}.walk_in_alerts FINAL "
                 "ORDER BY fired_at").as_dicts()
    if spike is None:
        return [Check("walk-in spike alerts", str(len(rows)), "0 (no spike simulated)", not rows)]
    fired = [r for r in rows if r["site"] == spike.site]  # its firing row and its resolved row
    others = sorted({str(r["site"]) for r in rows} - {spike.site})
    checks = [Check("sites alerted", ", ".join(sorted({str(r["site"]) for r in rows})) or "none", spike.site,
                    bool(fired) and not others)]
    if not fired:
        return checks
    alert = next((r for r in fired if r["status"] == "firing"), fired[0])
    zone = spike.local_start.tzinfo
    at = datetime.fromtimestamp(int(alert["fired_ms"]) / 1000, zone)
    checks.append(Check(f"fired at {spike.site}", f"{at:%Y-%m-%d %H:%M:%S}: {int(alert['count'])} tickets in 15 min, "
                        f"{float(alert['expected']):.1f} expected, ratio {float(alert['ratio']):.1f}",
                        f"spike {spike.day} {spike.local_start:%H:%M}–{spike.local_end:%H:%M}",
                        spike.local_start <= at < spike.local_end and int(alert["count"]) >= int(alert["min_count"])
                        and float(alert["ratio"]) >= float(alert["threshold_ratio"])))
    ended = next((r for r in fired if r["status"] == "resolved" and r["resolved_ms"] is not None), None)
    back = datetime.fromtimestamp(int(ended["resolved_ms"]) / 1000, zone) if ended else None
    checks.append(Check("resolved", f"{back:%H:%M:%S}" if back else "still firing",
                        f"after {spike.local_end:%H:%M}", back is not None and back >= spike.local_end))
    return checks


def shift_checks(query: Query, database: str, steering: Steering, truth: GroundTruth, sources: tuple[str, ...],
                 week: tuple[date, date]) -> list[Check]:
    """Overall channel shift of the live week against the four weeks before it."""
    baseline = resolve_baseline(steering, query, database, BASELINE, *week)
    rows = run_kpi(query, database, "channel_shift", from_day=week[0], to_day=week[1], **baseline.arguments())
    stored = {str(r["channel"]): r["shift"] for r in rows.as_dicts() if r["task"] == "*"}
    now = Counter()
    then = Counter()
    for (_, channel), n in _inbound(truth, sources, *week).items():
        now[channel] += n
    for (_, channel), n in _inbound(truth, sources, baseline.base_from, baseline.base_to).items():  # type: ignore[arg-type]
        then[channel] += n
    checks = []
    for channel in sorted(set(now) | set(then), key=lambda c: -now[c]):
        want = now[channel] / sum(now.values()) - then[channel] / sum(then.values())
        got = stored.get(channel)
        checks.append(Check(f"shift {channel}", "–" if got is None else f"{got * 100:+.2f} pp", f"{want * 100:+.2f} pp",
                            _same(got, want)))
    return checks


def gain_checks(query: Query, database: str, steering: Steering, truth: GroundTruth, sources: tuple[str, ...],
                week: tuple[date, date]) -> list[Check]:
    """Realised gain of the live week, per task at each task's baseline mix, summed."""
    baseline = resolve_baseline(steering, query, database, BASELINE, *week)
    rows = run_kpi(query, database, "realised_gain", from_day=week[0], to_day=week[1], **baseline.arguments())
    total = next((r for r in rows.as_dicts() if r["task"] == "*" and r["channel"] == "*"), {})
    prices = steering.unit_prices_dkk
    now = {k: n for k, n in _inbound(truth, sources, *week).items() if k[1] in prices}
    then = {k: n for k, n in _inbound(truth, sources, baseline.base_from, baseline.base_to).items()  # type: ignore[arg-type]
            if k[1] in prices}
    gain = 0.0
    for task in {t for t, _ in now}:
        base = {c: n for (t, c), n in then.items() if t == task}
        if not base:
            continue
        volume = sum(n for (t, _), n in now.items() if t == task)
        at_mix = volume * sum(n * prices[c] for c, n in base.items()) / sum(base.values())
        gain += at_mix - sum(n * prices[c] for (t, c), n in now.items() if t == task)
    got = total.get("gain_dkk")
    return [Check("realised gain", "–" if got is None else f"{float(got):,.0f} DKK", f"{gain:,.0f} DKK",
                  _same(None if got is None else float(got), gain))]


def target_checks(query: Query, database: str, steering: Steering, truth: GroundTruth, sources: tuple[str, ...],
                  on: date) -> list[Check]:
    """Every target on the live week's last day; a channel-share target's value against ground truth."""
    checks = []
    for status in evaluate_targets(steering, query, database, on, language="en"):  # the check tables are English
        verdict = ("on track" if status.on_track else "off track" if status.on_track is False else "no verdict")
        shown = (f"{status.value:.1%} against {status.target:.1%}" if status.value is not None
                 and status.target is not None and status.unit != "index" else verdict)
        target = steering.targets[status.name]
        if target.measure == "channel_share" and not (target.scope.tasks or target.scope.departments
                                                      or target.scope.inquiry_kinds) \
                and list(target.scope.directions) == ["inbound"]:
            counts = Counter()
            for (_, channel), n in _inbound(truth, sources, *status.window).items():
                counts[channel] += n
            of = set(target.scope.of_channels) or set(counts)
            total = sum(n for c, n in counts.items() if c in of)
            want = sum(n for c, n in counts.items() if c in set(target.scope.channels)) / total if total else None
            checks.append(Check(f"target {status.name}", f"{shown}, {verdict}",
                                "–" if want is None else f"{want:.1%}", _same(status.value, want)))
        else:
            checks.append(Check(f"target {status.name}", verdict, status.note or "–", True))
    return checks


def resolution_checks(query: Query, database: str, steering: Steering, truth: GroundTruth, sources: tuple[str, ...],
                      week: tuple[date, date]) -> list[Check]:
    """First-contact resolution of a week whose follow-up days have passed, against ground truth."""
    within = steering.resolution_within_days
    rows = {(str(r["channel"]), str(r["department"])): r for r in run_kpi(
        query, database, "first_contact_resolution", from_day=week[0], to_day=week[1], within_days=within).as_dicts()}
    expected = expected_first_contact(truth, *week, sources, within)
    checks = []
    for scope in (("*", "*"), ("*", "Borgerservice"), ("phone", "*")):
        want = expected.get(scope, Counter())
        known = want["registered"] + want["inferred"]
        rate = (want["registered_resolved"] + want["inferred_resolved"]) / known if known else None
        got = rows.get(scope, {})
        value = got.get("rate")
        label = "all" if scope == ("*", "*") else scope[1] if scope[0] == "*" else scope[0]
        unknown = got.get("unknown_share")
        checks.append(Check(f"first-contact resolution {label}",
                            "–" if value is None else f"{float(value):.1%} ({float(unknown or 0):.0%} unknown)",
                            "–" if rate is None else f"{rate:.1%}",
                            _same(None if value is None else float(value), rate)
                            and got.get("served") == want["served"]))
    return checks


def live_week(truth: GroundTruth) -> tuple[date, date]:
    last = truth.start + timedelta(days=truth.days - 1)
    return last - timedelta(days=6), last


def settled_week(truth: GroundTruth) -> tuple[date, date]:
    """The week before the live one: its follow-up window has passed when the live week has."""
    first, _ = live_week(truth)
    return first - timedelta(days=7), first - timedelta(days=1)

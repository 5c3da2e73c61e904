"""The KPI views (deploy/clickhouse/1xx_kpi_*.sql) against the simulator's ground truth.

Two simulated weeks of every source a file connector or the HTTP ingest reads (IMAP needs
Dovecot and is covered by tests/test_all_channels.py) are parsed by the real connectors and
inserted into embedded chDB, as the worker would; each KPI view's numbers must then equal
what the simulator says happened, computed here from ground truth with the BRIEF's
definitions. Web page views are not inquiries, so no inquiry KPI counts them. One test adds two
events of its own, a year later, for a case the simulated weeks do not hold (daylight saving).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.ground.steering import Baseline, Steering, Target, TargetPoint, TargetScope, load_steering
from pipeline.measures.kpis import KpiError, baseline_arguments, kpi_sql, run_kpi
from pipeline.measures.targets import TargetStatus, evaluate_target, evaluate_targets
from pipeline.simulated.http import CONTACT_CENTRE_QUEUES, RECEPTION_SITE
from pipeline.simulated.municipality import simulate
from pipeline.simulated.phone import PHONE_QUEUES
from pipeline.simulated.truth import EventCount, GroundTruth, KeyedArrival, expected_first_contact, expected_inquiries
from pipeline.simulated.walkins import SPIKE_SITE
from pipeline.store.clickhouse import EmbeddedStore, init_schema
from schemas import InquiryEvent, SourceRef
from tests.pipeline.measures.inquiry_outcomes import outcomes
from tests.pipeline.simulated.simulated_files import FILE_SOURCES, simulated_events
from tests.stores import insert_events

REPO = Path(__file__).resolve().parents[3]
START = date(2026, 3, 2)  # Monday; two weeks: the baseline week, then the week looked at
BASELINE = (START, START + timedelta(days=6))
WEEK = (START + timedelta(days=7), START + timedelta(days=13))
SOURCES = (*FILE_SOURCES, "http")
DB = "kpis"
TZ_CPH = ZoneInfo("Europe/Copenhagen")
TZ = ZoneInfo("Europe/Copenhagen")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("kpis") / "simulated"
    return out, simulate(out, days=14, seed=2, start=START)


@pytest.fixture(scope="module")
def steering() -> Steering:
    return load_steering(REPO / "deploy" / "steering.yaml")


@pytest.fixture(scope="module")
def store(simulated: tuple[Path, GroundTruth], steering: Steering,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    out, _ = simulated
    opened = EmbeddedStore(tmp_path_factory.mktemp("kpi-store") / "chdb", DB)
    try:
        init_schema(opened, steering)
        insert_events(opened, simulated_events(out))
        yield opened
    finally:
        opened.close()


def rows(store: EmbeddedStore, name: str, **arguments: object) -> list[dict[str, object]]:
    return run_kpi(store.query, DB, name, **arguments).as_dicts()


def arrivals(truth: GroundTruth, first: date, last: date) -> Counter[tuple[str, str, str, str, str]]:
    """Inbound arrivals per (day, channel, task, department, site) in [first, last], as truth has them."""
    return Counter({key: n for key, n in expected_inquiries(truth, SOURCES).items()
                    if first <= date.fromisoformat(key[0]) <= last})


def inquiries_by(truth: GroundTruth, first: date, last: date, *, task: bool) -> Counter[tuple[str, str]]:
    """Inquiries (web page views excluded) per (task or '*', channel)."""
    out: Counter[tuple[str, str]] = Counter()
    for (_, channel, task_code, _, _), n in arrivals(truth, first, last).items():
        if channel != "web":
            out[(task_code if task else "*", channel)] += n
    return out


def close(a: object, b: float) -> bool:
    return math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


def test_volume_equals_ground_truth_per_day_channel_task_department_and_site(
        store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    got = {(str(r["day"]), r["channel"], r["task"], r["department"], r["site"]): r["inquiries"]
           for r in rows(store, "volume", from_day=START, to_day=WEEK[1])}
    expected = {k: n for k, n in arrivals(truth, START, WEEK[1]).items() if k[1] != "web"}
    assert got == expected
    assert {k[1] for k in got} == {"phone", "walk_in", "email", "letter", "digital_post", "self_service", "chat"}


def test_web_views_are_counted_apart_per_day_and_task(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    got = {(str(r["day"]), r["task"], r["department"]): r["page_views"]
           for r in rows(store, "web_views", from_day=START, to_day=WEEK[1])}
    expected: Counter[tuple[str, str, str]] = Counter()
    for (day, channel, task, department, _), n in arrivals(truth, START, WEEK[1]).items():
        if channel == "web":
            expected[(day, task, department)] += n
    assert got == dict(expected) and got


def test_channel_share_per_task_and_overall(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    counts = inquiries_by(truth, *WEEK, task=True) + inquiries_by(truth, *WEEK, task=False)
    totals: Counter[str] = Counter()
    for (task, _), n in counts.items():
        totals[task] += n
    got = rows(store, "channel_share", from_day=WEEK[0], to_day=WEEK[1])
    assert {(r["task"], r["channel"]): r["inquiries"] for r in got} == dict(counts)
    for r in got:
        assert close(r["share"], counts[(r["task"], r["channel"])] / totals[r["task"]])  # type: ignore[index]
    overall = {r["channel"]: r["share"] for r in got if r["task"] == "*"}
    assert close(sum(overall.values()), 1.0)  # type: ignore[arg-type]


def test_self_service_rate_per_task(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    counts = inquiries_by(truth, *WEEK, task=True) + inquiries_by(truth, *WEEK, task=False)
    got = {r["task"]: r for r in rows(store, "self_service_rate", from_day=WEEK[0], to_day=WEEK[1])}
    tasks = {task for task, _ in counts}
    assert set(got) == tasks
    for task in tasks:
        total = sum(n for (t, _), n in counts.items() if t == task)
        assert (got[task]["self_service"], got[task]["inquiries"]) == (counts[(task, "self_service")], total)
        assert close(got[task]["rate"], counts[(task, "self_service")] / total)
    assert 0 < got["*"]["rate"] < 1  # type: ignore[operator]


def test_channel_shift_against_a_named_baseline(store: EmbeddedStore, simulated: tuple[Path, GroundTruth],
                                                steering: Steering) -> None:
    _, truth = simulated
    # The week before, as a one-week rolling baseline of the steering file names it.
    steering = steering.model_copy(update={"baselines": {"last_week": Baseline(kind="rolling_weeks", weeks=1)}})
    base = baseline_arguments(steering, store.query, DB, "last_week", *WEEK)
    assert base == {"base_from": BASELINE[0], "base_to": BASELINE[1], "baseline_name": ""}
    now = inquiries_by(truth, *WEEK, task=True) + inquiries_by(truth, *WEEK, task=False)
    then = inquiries_by(truth, *BASELINE, task=True) + inquiries_by(truth, *BASELINE, task=False)

    def share(counts: Counter[tuple[str, str]], task: str, channel: str) -> float | None:
        total = sum(n for (t, _), n in counts.items() if t == task)
        return counts[(task, channel)] / total if total else None

    got = rows(store, "channel_shift", from_day=WEEK[0], to_day=WEEK[1], **base)
    assert {(r["task"], r["channel"]) for r in got} == set(now) | set(then)
    for r in got:
        key = (r["task"], r["channel"])
        assert (r["inquiries"], r["baseline_inquiries"]) == (now[key], then[key])  # type: ignore[index]
        now_share, then_share = share(now, *key), share(then, *key)
        if now_share is None or then_share is None:  # a task only one period has: no shift, not NaN
            assert r["shift"] is None
        else:
            assert close(r["shift"], now_share - then_share)


def test_cost_and_realised_gain_from_the_unit_prices(store: EmbeddedStore, simulated: tuple[Path, GroundTruth],
                                                     steering: Steering) -> None:
    _, truth = simulated
    prices = steering.unit_prices_dkk
    now = {c: n for (_, c), n in inquiries_by(truth, *WEEK, task=False).items() if c in prices}
    then = {c: n for (_, c), n in inquiries_by(truth, *BASELINE, task=False).items() if c in prices}
    cost = {r["channel"]: r for r in rows(store, "cost", from_day=WEEK[0], to_day=WEEK[1])}
    assert set(cost) == set(now) | {"*"}
    for channel, n in now.items():
        assert (cost[channel]["inquiries"], cost[channel]["price_dkk"]) == (n, prices[channel])
        assert close(cost[channel]["cost_dkk"], n * prices[channel])
    cost_now = sum(n * prices[c] for c, n in now.items())
    assert close(cost["*"]["cost_dkk"], cost_now)
    got = {(r["task"], r["channel"]): r for r in rows(store, "realised_gain", from_day=WEEK[0], to_day=WEEK[1],
                                                      base_from=BASELINE[0], base_to=BASELINE[1], baseline_name="")}
    # per task: this week's volume at the baseline week's mix for that task, minus at its own
    by_task_now = {k: n for k, n in inquiries_by(truth, *WEEK, task=True).items() if k[1] in prices}
    by_task_then = {k: n for k, n in inquiries_by(truth, *BASELINE, task=True).items() if k[1] in prices}
    gain_total = cost_compared = 0.0
    uncompared = 0
    for task in {t for t, _ in by_task_now}:
        now_t = {c: n for (t, c), n in by_task_now.items() if t == task}
        then_t = {c: n for (t, c), n in by_task_then.items() if t == task}
        if not then_t:
            uncompared += sum(now_t.values())
            assert got[(task, "*")]["has_baseline_mix"] == 0 and got[(task, "*")]["gain_dkk"] is None
            continue
        at_mix = sum(now_t.values()) * sum(n * prices[c] for c, n in then_t.items()) / sum(then_t.values())
        cost_t = sum(n * prices[c] for c, n in now_t.items())
        assert close(got[(task, "*")]["gain_dkk"], at_mix - cost_t)
        gain_total += at_mix - cost_t
        cost_compared += cost_t
    total = got[("*", "*")]
    assert close(total["gain_dkk"], gain_total) and close(total["cost_dkk"], cost_compared)
    assert total["uncompared_inquiries"] == uncompared and total["inquiries"] == sum(now.values())


def queue_scopes(truth: GroundTruth, channel: str, first: date, last: date) -> dict[tuple[str, str], Counter[str]]:
    """QueueDay sums per (day or '*', queue or site or '*'), as kpi_phone and kpi_walk_in scope them."""
    sums: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for q in truth.queues:
        if q.source in SOURCES and q.channel == channel and first <= q.day <= last:
            values = q.model_dump(exclude={"source", "day", "channel", "place"})
            for scope in ((str(q.day), q.place), (str(q.day), "*"), ("*", q.place), ("*", "*")):
                sums[scope].update(values)
    return dict(sums)


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def same(a: object, b: float) -> bool:
    """Equal to float tolerance; NaN (an empty average) equals NaN."""
    return (math.isnan(float(a)) and math.isnan(b)) or close(a, b)  # type: ignore[arg-type]


def test_phone_queue_kpis_per_day_queue_and_overall(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    """Both phone systems: the Asterisk queues and the contact centre's, each queue and every total."""
    _, truth = simulated
    got = {(r["day"], r["queue"]): r for r in rows(store, "phone", from_day=START, to_day=WEEK[1],
                                                   sl_seconds=truth.service_level_seconds)}
    sums = queue_scopes(truth, "phone", START, WEEK[1])
    assert set(got) == set(sums)
    for scope, s in sums.items():
        row, offered = got[scope], s["answered"] + s["abandoned"]
        assert (row["offered"], row["answered"], row["abandoned"], row["transferred"]) == (
            s["arrived"], s["answered"], s["abandoned"], s["not_resolved"]), scope
        expected = {"service_level": ratio(s["answered_within_service_level"], offered),
                    "abandonment_rate": ratio(s["abandoned"], offered),
                    "average_speed_of_answer": ratio(s["answered_wait_seconds"], s["answered"]),
                    "average_handle_time": ratio(s["closed_handle_seconds"], s["closed"])}
        assert all(same(row[k], v) for k, v in expected.items()), (scope, {k: row[k] for k in expected}, expected)
    # The Asterisk queues alone are what truth.phone (and `kanalpuls demo`) describe.
    pbx = {q: s for (d, q), s in sums.items() if d == "*" and q in PHONE_QUEUES}
    assert sum(s["arrived"] for s in pbx.values()) == truth.phone.overall.offered
    assert sum(s["not_resolved"] for s in pbx.values()) == truth.phone.overall.transferred
    assert {q for d, q in got if d == "*"} == {*PHONE_QUEUES, *(q for q, _ in CONTACT_CENTRE_QUEUES), "*"}


@pytest.mark.parametrize(("sl_seconds", "within"), [(10, 2), (20, 3), (30, 4)])
def test_phone_service_level_counts_the_calls_answered_within_the_threshold_asked_for(
    store: EmbeddedStore, steering: Steering, sl_seconds: int, within: int
) -> None:
    """Five answered calls with known waits and one abandoned: the share answered within
    sl_seconds (a wait equal to it included) moves with the threshold. The simulated fortnight
    is only ever asked at 20 s, so a database of its own."""
    from schemas import Stage
    from tests.factories import phone_event

    day = date(2027, 1, 12)
    at = datetime.combine(day, time(10, 0), TZ_CPH)
    events = [phone_event(n, stage=Stage.answered, at=at + timedelta(minutes=n), wait_seconds=float(wait))
              for n, wait in enumerate((5, 10, 15, 25, 40))]
    events.append(phone_event(9, stage=Stage.abandoned, at=at + timedelta(minutes=9), wait_seconds=60.0))
    kept, store.database = store.database, "kpis_service_level"
    try:
        init_schema(store, steering)
        insert_events(store, events)
        got = {(r["day"], r["queue"]): r for r in run_kpi(
            store.query, "kpis_service_level", "phone", from_day=day, to_day=day, sl_seconds=sl_seconds).as_dicts()}
    finally:
        store.database = kept
    assert set(got) == {(str(day), "pas"), (str(day), "*"), ("*", "pas"), ("*", "*")}
    for row in got.values():
        assert (row["answered"], row["abandoned"]) == (5, 1)
        assert close(row["service_level"], within / 6), (sl_seconds, row["service_level"])


def test_walk_in_kpis_per_day_and_site(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    """Ticket sites and the contact centre's reception; the wait averages tickets called and served only."""
    _, truth = simulated
    got = {(r["day"], r["site"]): r for r in rows(store, "walk_in", from_day=START, to_day=WEEK[1])}
    sums = queue_scopes(truth, "walk_in", START, WEEK[1])
    assert set(got) == set(sums)
    for scope, s in sums.items():
        row = got[scope]
        assert (row["tickets"], row["served"], row["transferred"], row["no_shows"]) == (
            s["arrived"], s["closed"] - s["not_resolved"], s["not_resolved"], s["abandoned"]), scope
        assert same(row["average_wait_seconds"], ratio(s["answered_wait_seconds"], s["answered"])), scope
    for stats in truth.walk_in:  # the ticket machine's own figures, per day and site
        row = got[(str(stats.day), stats.site)]
        assert (row["tickets"], row["served"], row["transferred"], row["no_shows"]) == (
            stats.tickets, stats.served, stats.transferred, stats.no_shows + stats.removed)
        assert close(row["average_wait_seconds"], stats.answered_average_wait_seconds)  # type: ignore[arg-type]
    # Not vacuous: no-shows waited too, so the mean over every called ticket differs.
    assert any(not close(s.average_wait_seconds, s.answered_average_wait_seconds) for s in truth.walk_in)  # type: ignore[arg-type]
    assert RECEPTION_SITE in {site for _, site in got}


def test_unclassified_share_per_channel(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    arrived: Counter[str] = Counter()
    unclassified: Counter[str] = Counter()
    for (_, channel, task, _, _), n in arrivals(truth, *WEEK).items():
        for scope in (channel,) if channel == "web" else (channel, "*"):  # page views are not inquiries
            arrived[scope] += n
            unclassified[scope] += n if task == "unclassified" else 0
    got = {r["channel"]: r for r in rows(store, "unclassified", from_day=WEEK[0], to_day=WEEK[1])}
    assert {c: (r["arrivals"], r["unclassified"]) for c, r in got.items()} == {
        c: (arrived[c], unclassified[c]) for c in arrived}
    assert 0 < got["*"]["share"] < 1 and "web" in got  # type: ignore[operator]


def events_in(truth: GroundTruth, first: date, last: date) -> list[EventCount]:
    return [r for r in truth.events if r.source in SOURCES and first <= r.day <= last]


def first_contact_resolution(events: list[InquiryEvent], first: date, last: date,
                             within_days: int = 7) -> dict[tuple[str, str], Counter[str]]:
    """The BRIEF's definition worked out per inquiry in Python (tests/pipeline/measures/inquiry_outcomes.py),
    counted per channel x department as the view counts it: served inbound inquiries by kind."""
    out: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for o in outcomes(events, first, last, within_days):
        if not o.inbound or not o.served:
            continue
        channel, department = o.arrival.channel.value, o.arrival.department
        for scope in ((channel, department), (channel, "*"), ("*", department), ("*", "*")):
            out[scope].update({"served": 1, o.kind: 1, f"{o.kind}_resolved": int(o.resolved)})
    return out


@pytest.mark.parametrize("period", [BASELINE, WEEK], ids=["followed_up", "newest_week"])
def test_first_contact_resolution_per_inquiry_registered_inferred_or_unknown(
        period: tuple[date, date], store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    """In the newest week the 7 days after a call reach past the data: those inquiries are
    pending, measured from the newest arrival stored, not from today's clock."""
    out, _ = simulated
    got = {(r["channel"], r["department"]): r for r in rows(store, "first_contact_resolution",
                                                             from_day=period[0], to_day=period[1], within_days=7)}
    expected = first_contact_resolution(simulated_events(out), *period)
    assert set(got) == set(expected)
    for scope, counts in expected.items():
        r = got[scope]
        assert (r["served"], r["registered"], r["registered_resolved"], r["inferred"], r["inferred_resolved"],
                r["unknown"], r["pending"]) == (counts["served"], counts["registered"], counts["registered_resolved"],
                                                counts["inferred"], counts["inferred_resolved"], counts["unknown"],
                                                counts["pending"]), scope
        known = counts["registered"] + counts["inferred"]
        resolved = counts["registered_resolved"] + counts["inferred_resolved"]
        assert close(r["rate"], resolved / known) if known else r["rate"] is None
        assert close(r["unknown_share"], counts["unknown"] / counts["served"])
    # every kind occurs: transfers and exports registered, keyed calls inferred, anonymous callers unknown
    total = expected[("*", "*")]
    assert total["unknown"]
    if period == BASELINE:
        assert total["registered"] and total["inferred"] > total["inferred_resolved"] and total["pending"] == 0
    else:  # every day of the newest week is followed by fewer than 7 days of data: registered or not, pending
        assert total["pending"] and total["inferred"] == total["registered"] == 0
    assert ("phone", "Social Service") in got and ("walk_in", "*") in got


def test_first_contact_resolution_equals_the_simulated_municipalitys_ground_truth(
        store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    """The simulator decides which calls settle the matter and has the others call back; what the
    view infers from the logs must be what the simulator's own records say, cell by cell."""
    _, truth = simulated
    got = {(r["channel"], r["department"]): r for r in rows(store, "first_contact_resolution",
                                                             from_day=BASELINE[0], to_day=BASELINE[1], within_days=7)}
    expected = expected_first_contact(truth, *BASELINE, SOURCES)
    assert set(got) == set(expected)
    names = ("served", "registered", "registered_resolved", "inferred", "inferred_resolved", "unknown")
    for scope, counts in expected.items():
        assert tuple(got[scope][n] for n in names) == tuple(counts[n] for n in names), scope
    assert expected[("phone", "*")]["inferred"] > expected[("phone", "*")]["inferred_resolved"]


def test_web_first_share_of_phone_and_walk_in(store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    expected: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for r in events_in(truth, *WEEK):
        if r.stage == "arrived" and r.direction == "inbound" and r.channel in ("phone", "walk_in"):
            for scope in (r.channel, "*"):
                expected[scope].update({"inquiries": r.count, "known": r.web_first_true + r.web_first_false,
                                        "web_first": r.web_first_true})
    got = {r["channel"]: r for r in rows(store, "web_first", from_day=WEEK[0], to_day=WEEK[1])}
    assert {c: {k: r[k] for k in ("inquiries", "known", "web_first")} for c, r in got.items()} == {
        c: dict(v) for c, v in expected.items()}
    for channel, counts in expected.items():
        assert 0 < counts["web_first"] < counts["known"] < counts["inquiries"], channel  # registered by some only
        assert close(got[channel]["share"], counts["web_first"] / counts["known"])


def expected_repeats(truth: GroundTruth, first: date, last: date, within_days: int
                     ) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(inquiries with a key, repeats, repeats whose earlier inquiry came on another channel) per
    (channel or '*', task or '*'): a repeat has an earlier inquiry by the same requester on the same
    task, on any channel, at most within_days x 24 h before."""
    keyed: Counter[tuple[str, str]] = Counter()
    for r in events_in(truth, first, last):
        if r.stage == "arrived" and r.direction == "inbound" and r.channel != "web":
            for scope in ((r.channel, r.task), (r.channel, "*"), ("*", r.task), ("*", "*")):
                keyed[scope] += r.with_contact_key
    groups: defaultdict[tuple[str, str], list[KeyedArrival]] = defaultdict(list)
    for a in truth.repeat_candidates:
        if a.source in SOURCES:
            groups[(a.requester, a.task)].append(a)
    repeats: Counter[tuple[str, str]] = Counter()
    crossed: Counter[tuple[str, str]] = Counter()
    for arrivals in groups.values():
        arrivals.sort(key=lambda a: a.at)
        for earlier, a in pairwise(arrivals):
            assert a.at != earlier.at  # a tie would make the channel of "the repeat" the store's choice
            if first <= a.at.astimezone(TZ).date() <= last and a.at - earlier.at <= timedelta(days=within_days):
                for scope in ((a.channel, a.task), (a.channel, "*"), ("*", a.task), ("*", "*")):
                    repeats[scope] += 1
                    crossed[scope] += a.channel != earlier.channel
    return keyed, repeats, crossed


@pytest.mark.parametrize("within_days", [7, 1])
def test_repeat_contacts_by_the_same_requester_on_the_same_task(
        within_days: int, store: EmbeddedStore, simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    keyed, repeats, crossed = expected_repeats(truth, *WEEK, within_days)
    got = {(r["channel"], r["task"]): r for r in rows(store, "repeat_contacts", from_day=WEEK[0], to_day=WEEK[1],
                                                      within_days=within_days)}
    assert {scope: (r["inquiries_with_key"], r["repeats"]) for scope, r in got.items()} == {
        scope: (n, repeats[scope]) for scope, n in keyed.items() if n}
    for scope, r in got.items():
        assert close(r["share"], repeats[scope] / keyed[scope]), scope
    # Not vacuous: callers, visitors and writers come back, some of them on another channel.
    assert all(repeats[(channel, "*")] > 0 for channel in ("phone", "walk_in", "email"))
    assert crossed[("walk_in", "*")] > 0 and repeats[("*", "*")] < keyed[("*", "*")]


def test_repeat_window_is_counted_in_hours_across_a_daylight_saving_change(
        store: EmbeddedStore, simulated: tuple[Path, GroundTruth], steering: Steering) -> None:
    """Summer time starts 2027-03-28: the week before 2027-04-01 00:15 (CEST) is 168 hours, so an
    inquiry 6 days 23 h 45 min earlier, at 23:30 (CET) on 2027-03-24, makes it a repeat. (Two events in
    a database of their own: in the simulated one they would move the newest arrival, and with it
    which inquiries' follow-up days have passed, a year on.)"""
    _, truth = simulated
    earlier = InquiryEvent(event_id="0" * 32, occurred_at=datetime(2027, 3, 24, 22, 30, tzinfo=UTC),
                           municipality=truth.municipality, channel="email", stage="arrived", task="85.02.00",
                           contact_key="d" * 64, source=SourceRef(system="dst-check"))
    later = earlier.model_copy(update={"event_id": "1" * 32, "occurred_at": datetime(2027, 3, 31, 22, 15, tzinfo=UTC)})
    kept, store.database = store.database, "kpis_daylight_saving"
    try:
        init_schema(store, steering)
        insert_events(store, (earlier, later))
        (row,) = [r for r in run_kpi(store.query, "kpis_daylight_saving", "repeat_contacts", from_day=date(2027, 4, 1),
                                     to_day=date(2027, 4, 1), within_days=7).as_dicts()
                  if r["channel"] == r["task"] == "*"]
    finally:
        store.database = kept
    assert (row["inquiries_with_key"], row["repeats"]) == (1, 1)


@pytest.mark.parametrize("channel", ["phone", "walk_in", "email"])
def test_demand_by_weekday_and_hour_against_opening_hours(
        channel: str, store: EmbeddedStore, simulated: tuple[Path, GroundTruth], steering: Steering) -> None:
    _, truth = simulated
    first, last = START, WEEK[1]
    inquiries: Counter[tuple[int, int]] = Counter()
    on_open_days: Counter[tuple[int, int]] = Counter()
    for h in truth.arrivals_by_hour:
        if h.source in SOURCES and h.channel == channel and first <= h.day <= last:
            inquiries[(h.day.isoweekday(), h.hour)] += h.count
            on_open_days[(h.day.isoweekday(), h.hour)] += 0 if steering.closed_day(h.day) else h.count
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    open_days = Counter(d.isoweekday() for d in days if not steering.closed_day(d))
    hours = steering.opening_hours.get(channel)  # type: ignore[call-overload]

    def open_minutes(weekday: int, hour: int) -> float:
        if hours is None:
            return 0  # no opening hours configured: the view has none to join
        lo, hi = hour * 60, hour * 60 + 60
        return sum(max(0, min(hi, c.hour * 60 + c.minute) - max(lo, o.hour * 60 + o.minute))
                   for o, c in hours.for_site("").on(weekday - 1))

    got = rows(store, "demand", from_day=first, to_day=last, channel_name=channel)
    assert [(r["weekday"], r["hour"]) for r in got] == [(w, h) for w in range(1, 8) for h in range(24)]
    for r in got:
        cell = (r["weekday"], r["hour"])
        assert (r["inquiries"], r["open_days"]) == (inquiries[cell], open_days[cell[0]]), cell
        assert close(r["per_open_day"], on_open_days[cell] / open_days[cell[0]] if open_days[cell[0]] else 0), cell
        assert close(r["open_minutes"], open_minutes(*cell)), cell
    assert sum(inquiries.values()) == sum(r["inquiries"] for r in got) > 0
    if channel == "walk_in":  # Thursday's late opening: half of 17:00-18:00
        assert close({(r["weekday"], r["hour"]): r for r in got}[(4, 17)]["open_minutes"], 30)


def test_demand_per_open_day_leaves_out_inquiries_on_public_holidays(store: EmbeddedStore, steering: Steering) -> None:
    """Self-service on Ascension Day (a Thursday holiday) and the Thursday after: one open
    Thursday, one inquiry on it. The simulated fortnight has no holiday, so a database of its own."""
    from schemas import Channel
    from tests.factories import phone_event

    ascension, next_thursday = date(2026, 5, 14), date(2026, 5, 21)
    assert steering.closed_day(ascension)
    events = [phone_event(n, at=datetime.combine(day, time(10, 30), TZ_CPH), channel=Channel.self_service, queue="")
              for n, day in enumerate((ascension, next_thursday))]
    kept, store.database = store.database, "kpis_holiday"
    try:
        init_schema(store, steering)
        insert_events(store, events)
        got = {(r["weekday"], r["hour"]): r for r in run_kpi(
            store.query, "kpis_holiday", "demand", from_day=ascension, to_day=next_thursday,
            channel_name="self_service").as_dicts()}
    finally:
        store.database = kept
    thursday_10 = got[(4, 10)]
    assert (thursday_10["inquiries"], thursday_10["open_days"], thursday_10["per_open_day"]) == (2, 1, 1.0)


def test_calls_and_tickets_waiting_at_moments_of_every_open_day(store: EmbeddedStore,
                                                               simulated: tuple[Path, GroundTruth]) -> None:
    _, truth = simulated
    expected: defaultdict[datetime, Counter[tuple[str, str]]] = defaultdict(Counter)
    for w in truth.waiting:
        if w.source in SOURCES:
            expected[w.at][(w.channel, w.place)] += w.waiting
    assert len(expected) == 3 * 10  # three moments on each of the ten open days
    for at, waiting in sorted(expected.items()):
        got = {(r["channel"], r["place"]): r["waiting"] for r in rows(store, "waiting", at=at)}
        assert got == dict(waiting), at
    peak = max(expected.values(), key=lambda w: w[("walk_in", SPIKE_SITE)])
    assert peak[("walk_in", SPIKE_SITE)] > 50  # the spike's queue
    assert any(w[("phone", q)] for w in expected.values() for q in PHONE_QUEUES)
    assert any(w[("walk_in", RECEPTION_SITE)] for w in expected.values())


def test_kpi_arguments_are_checked_before_any_sql_runs() -> None:
    with pytest.raises(KpiError, match="unknown KPI 'nope'"):
        kpi_sql(DB, "nope")
    with pytest.raises(KpiError, match="missing base_from, base_to, baseline_name"):
        kpi_sql(DB, "channel_shift", from_day=WEEK[0], to_day=WEEK[1])
    with pytest.raises(KpiError, match="after to_day"):
        kpi_sql(DB, "volume", from_day=WEEK[1], to_day=WEEK[0])
    assert kpi_sql(DB, "demand", from_day=START, to_day=WEEK[1], channel_name="it's") == (
        "SELECT * FROM kpis.kpi_demand(from_day = '2026-03-02', to_day = '2026-03-15', channel_name = 'it\\'s')")


def test_kpi_arguments_are_named_in_the_views_order_whatever_order_they_come_in() -> None:
    assert kpi_sql(DB, "repeat_contacts", within_days=7, to_day=WEEK[1], from_day=WEEK[0]) == (
        "SELECT * FROM kpis.kpi_repeat_contacts(from_day = '2026-03-09', to_day = '2026-03-15', within_days = 7)")
    assert kpi_sql(DB, "volume", from_day=WEEK[0], to_day=WEEK[0]) == (  # one day is a period
        "SELECT * FROM kpis.kpi_volume(from_day = '2026-03-09', to_day = '2026-03-09')")


def test_a_moment_is_passed_in_utc_whatever_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as clock

    monkeypatch.setenv("TZ", "America/Nuuk")  # the process's local zone, which the literal must not use
    clock.tzset()
    try:
        sql = kpi_sql(DB, "waiting", at=datetime(2026, 3, 2, 10, 30, tzinfo=TZ_CPH))
    finally:
        monkeypatch.undo()
        clock.tzset()
    assert sql == "SELECT * FROM kpis.kpi_waiting(at = toDateTime('2026-03-02 09:30:00', 'UTC'))"


@pytest.mark.parametrize("value", [True, 7.5, None])
def test_a_kpi_argument_of_another_type_is_refused(value: object) -> None:
    with pytest.raises(KpiError, match=f"^unsupported parameter value {value!r}$"):
        kpi_sql(DB, "repeat_contacts", from_day=WEEK[0], to_day=WEEK[1], within_days=value)


def test_a_wrong_kpi_or_argument_is_named_with_what_would_be_right() -> None:
    with pytest.raises(KpiError, match="^unknown KPI 'nope': choose one of volume, web_views, channel_share, "):
        kpi_sql(DB, "nope")
    with pytest.raises(KpiError, match="^phone takes from_day, to_day, sl_seconds; missing sl_seconds; unknown sl$"):
        kpi_sql(DB, "phone", from_day=WEEK[0], to_day=WEEK[1], sl=20)
    with pytest.raises(KpiError, match="^phone takes from_day, to_day, sl_seconds; unknown sl, at$"):
        kpi_sql(DB, "phone", from_day=WEEK[0], to_day=WEEK[1], sl_seconds=20, sl=20, at=WEEK[0])
    with pytest.raises(KpiError, match="^phone takes from_day, to_day, sl_seconds; missing sl_seconds$"):
        kpi_sql(DB, "phone", from_day=WEEK[0], to_day=WEEK[1])


def test_run_kpi_asks_the_query_function_for_the_views_select() -> None:
    from pipeline.store.clickhouse import QueryResult

    asked: list[str] = []
    answer = QueryResult(["day"], [("2026-03-09",)])

    def query(sql: str) -> QueryResult:
        asked.append(sql)
        return answer

    assert run_kpi(query, DB, "phone", from_day=WEEK[0], to_day=WEEK[1], sl_seconds=30) is answer
    assert asked == [kpi_sql(DB, "phone", from_day=WEEK[0], to_day=WEEK[1], sl_seconds=30)]


def test_a_named_baseline_becomes_the_views_base_period(steering: Steering) -> None:
    from pipeline.store.clickhouse import QueryResult

    def no_store(sql: str) -> QueryResult:
        raise AssertionError("a period baseline is resolved without the store")

    week = (date(2026, 11, 23), date(2026, 11, 29))
    assert baseline_arguments(steering, no_store, DB, "rolling_4_weeks", *week) == {
        "base_from": date(2026, 10, 26), "base_to": date(2026, 11, 22), "baseline_name": ""}
    assert baseline_arguments(steering, no_store, DB, "last_year", *week) == {
        "base_from": date(2025, 11, 23), "base_to": date(2025, 11, 29), "baseline_name": ""}
    assert baseline_arguments(steering, no_store, DB, "counting_week_2026", *week) == {
        "base_from": date(2026, 3, 9), "base_to": date(2026, 3, 15), "baseline_name": ""}


# --------------------------------------------------------------------------- targets


def evaluate(store: EmbeddedStore, steering: Steering, target: Target, on: date) -> TargetStatus:
    return evaluate_target("t", target, steering, store.query, DB, on)


def mean_over(first: date, last: date, trajectory) -> float:  # type: ignore[no-untyped-def]
    """A measure taken over a window is held to the trajectory's mean over that window."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return sum(trajectory(day) for day in days) / len(days)


def week_counts(truth: GroundTruth, first: date, last: date, channel: str) -> int:
    return sum(n for (_, c), n in inquiries_by(truth, first, last, task=False).items() if c == channel)


def test_a_volume_target_against_its_baseline_week(store: EmbeddedStore, simulated: tuple[Path, GroundTruth],
                                                   steering: Steering) -> None:
    """Esbjerg's shape: walk-ins -15 % a year from the baseline, measured over the last 7 days."""
    _, truth = simulated
    target = Target(description="walk-ins down", measure="volume_index", scope=TargetScope(channels=["walk_in"]),
                    baseline=Baseline(start=BASELINE[0], end=BASELINE[1]), start=TargetPoint(day=BASELINE[1], value=1.0),
                    goal=TargetPoint(day=BASELINE[1] + timedelta(days=365), value=0.85), window_days=7)
    status = evaluate(store, steering, target, WEEK[1])
    expected = week_counts(truth, *WEEK, "walk_in") / week_counts(truth, *BASELINE, "walk_in")
    wanted = mean_over(*WEEK, lambda day: 1 + (0.85 - 1) * (day - BASELINE[1]).days / 365)
    assert status.window == WEEK
    assert close(status.value, expected) and close(status.target, wanted)
    assert status.higher_is_better is False and status.on_track == (expected <= wanted)
    assert close(status.progress, (expected - 1) / (wanted - 1))  # type: ignore[arg-type]


def test_a_share_target_with_a_goal_and_a_yearly_change_after_it(
        store: EmbeddedStore, simulated: tuple[Path, GroundTruth], steering: Steering) -> None:
    """Gribskov's shape (a share from a start value to a goal), then +10 % a year compounded."""
    _, truth = simulated
    primary = ["self_service", "phone", "digital_post"]
    target = Target(description="primary channels up", measure="channel_share", scope=TargetScope(channels=primary),
                    start=TargetPoint(day=date(2024, 1, 1), value=0.5), goal=TargetPoint(day=date(2025, 1, 1), value=0.6),
                    then_per_year=0.10, window_days=7)
    status = evaluate(store, steering, target, WEEK[1])
    counts = inquiries_by(truth, *WEEK, task=False)
    expected = sum(n for (_, c), n in counts.items() if c in primary) / sum(counts.values())
    wanted = mean_over(*WEEK, lambda day: 0.6 * 1.10 ** ((day - date(2025, 1, 1)).days / 365.25))
    assert close(status.value, expected) and close(status.target, wanted)
    assert status.on_track == (expected >= wanted) and status.higher_is_better


def test_a_first_contact_resolution_target_measured_from_its_baseline(
        store: EmbeddedStore, simulated: tuple[Path, GroundTruth], steering: Steering) -> None:
    """Esbjerg's phone target: +10 % a year from what the baseline period measured."""
    out, _ = simulated
    events = simulated_events(out)

    steering = steering.model_copy(update={"resolution_within_days": 2})  # the week's last 2 days are pending

    def phone_fcr(first: date, last: date) -> float:
        counts = first_contact_resolution(events, first, last, within_days=2)[("phone", "*")]
        return ((counts["registered_resolved"] + counts["inferred_resolved"])
                / (counts["registered"] + counts["inferred"]))

    target = Target(description="phone FCR up", measure="first_contact_resolution",
                    scope=TargetScope(channels=["phone"]), baseline=Baseline(start=BASELINE[0], end=BASELINE[1]),
                    start=TargetPoint(day=BASELINE[1]), then_per_year=0.10, window_days=7)
    status = evaluate(store, steering, target, WEEK[1])
    assert close(status.start_value, phone_fcr(*BASELINE))  # type: ignore[arg-type]
    assert close(status.value, phone_fcr(*WEEK))
    assert close(status.target, mean_over(
        *WEEK, lambda day: min(1.0, phone_fcr(*BASELINE) * 1.10 ** ((day - BASELINE[1]).days / 365.25))))


def test_a_target_on_a_day_without_data_says_so(store: EmbeddedStore, steering: Steering) -> None:
    target = steering.targets["esbjerg_walk_ins"]
    status = evaluate(store, steering, target, date(2012, 6, 30))
    assert status.value is None and status.on_track is None
    start, goal = date(2010, 12, 31), date(2011, 12, 31)

    def esbjerg(day: date) -> float:  # -15 % by the goal, linearly; then -10 % a year
        if day <= goal:
            return 1 + (0.85 - 1) * (day - start).days / (goal - start).days
        return 0.85 * 0.9 ** ((day - goal).days / 365.25)

    assert close(status.target, mean_over(*status.window, esbjerg))


def test_a_volume_window_reaching_before_the_first_data_counts_only_days_with_data(
        store: EmbeddedStore, simulated: tuple[Path, GroundTruth], steering: Steering) -> None:
    """A new deployment's first weeks must not read as a drop in volume: per day over days with data."""
    _, truth = simulated
    target = Target(description="walk-ins down", measure="volume_index", scope=TargetScope(channels=["walk_in"]),
                    baseline=Baseline(start=BASELINE[0], end=BASELINE[1]), start=TargetPoint(day=BASELINE[1], value=1.0),
                    goal=TargetPoint(day=BASELINE[1] + timedelta(days=365), value=0.85), window_days=28)
    status = evaluate(store, steering, target, WEEK[1])  # 28 days, of which the store holds the last 14
    both_weeks = week_counts(truth, START, WEEK[1], "walk_in") / 14
    assert close(status.value, both_weeks / (week_counts(truth, *BASELINE, "walk_in") / 7))


def test_every_shipped_target_evaluates(store: EmbeddedStore, steering: Steering) -> None:
    statuses = evaluate_targets(steering, store.query, DB, WEEK[1])
    assert [s.name for s in statuses] == list(steering.targets)
    local = {s.name: s for s in statuses}["walk_in_share"]
    assert local.value is not None and local.on_track is not None

"""The channel-strategy report for a period: what strategy staff and the steering group ask
between counting weeks. Reads the KPI views (deploy/clickhouse/1xx_kpi_*.sql) through
pipeline.measures.kpis and the targets through pipeline.measures.targets, draws charts with charts.py, and
writes one `index.html` with the PNGs next to it (so a chart can be reused in slides).

Sections, in order, each with an id and `data-state="chart"` or `"text"` in the HTML:

- channel-mix: each channel's share of inquiries per ISO week (per day for periods of up to
  14 days), as 100 % stacked bars, and the period's totals per channel;
- channel-shift: per task, the percentage points each channel gained or lost against the
  baseline (the `--baseline` named in the steering file, else its first one);
- self-service: the self-service rate per task, with the overall rate;
- cost: inquiries x unit price per channel, and the realised gain against the baseline mix;
- targets: every target of the steering file on the period's last day, on or off track;
- demand: per channel with opening hours, inquiries per open day by weekday x hour with the
  opening hours outlined, and the share of demand that falls outside them.

A chart with no data is a defect, so every section first checks that its KPI has data for
the period (and the baseline, where it compares) and otherwise says so in words.

Danish first: the readers are Borgerservice managers, so the page and every chart are in
Danish unless `language="en"` asks for English (KANALPULS_LANGUAGE=en). Every word comes from
the message catalogue (pipeline/ground/messages.py, REPORT_PHRASES) and every number is written by
labels.py in the language's style ('1.234 kr.', '12,3 %'), so this module only decides what
to say. What the municipality wrote itself stays as written: task labels from the mapping
file, target names and descriptions from the steering file.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.ground.messages import CHANNELS, Language, channel_name, month_name, report_word, weekday_name
from pipeline.ground.steering import Steering
from pipeline.measures.baselines import ResolvedBaseline, baseline_volume, resolve_baseline
from pipeline.measures.kpis import run_kpi
from pipeline.measures.targets import TargetStatus, evaluate_targets
from pipeline.reports import charts
from pipeline.reports.labels import (
    channel_order,
    count,
    day_month,
    decimal,
    long_day,
    money,
    percent,
    points,
    price,
    task_title,
)
from pipeline.reports.labels import period as period_words
from pipeline.store.clickhouse import QueryResult

Query = Callable[[str], QueryResult]
INDEX = "index.html"
MOST_TASKS = 25  # tasks drawn per chart; more would not fit a page (the rest are named)
DAILY_UP_TO_DAYS = 14


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()  # columns aligned right


@dataclass
class Section:
    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (PNG file name, alt text)
    tables: list[Table] = field(default_factory=list)

    @property
    def state(self) -> str:
        return "chart" if self.charts else "text"


@dataclass
class StrategyReport:
    from_day: date
    to_day: date
    baseline: ResolvedBaseline | None
    sections: list[Section]
    path: Path
    language: Language = "da"

    @property
    def pngs(self) -> list[str]:
        return [name for section in self.sections for name, _ in section.charts]


def _baseline_words(baseline: ResolvedBaseline, language: Language) -> str:
    """'basis 'uge_12' (16. mar. 2026 – 22. mar. 2026)', or with the file it was imported from."""
    if baseline.kind == "period":
        dates = period_words(baseline.base_from, baseline.base_to, language)  # type: ignore[arg-type]
        return report_word("baseline_period", language, name=baseline.name, period=dates)
    return report_word("baseline_source", language, name=baseline.name, source=baseline.source)


@dataclass
class _Context:
    query: Query
    database: str
    steering: Steering
    from_day: date
    to_day: date
    out_dir: Path
    labels: dict[str, str]  # task -> label
    volume: Counter[str]  # task -> inquiries in the period
    language: Language = "da"
    baseline: ResolvedBaseline | None = None
    baseline_inquiries: float = 0

    def kpi(self, name: str, **arguments: object) -> list[dict[str, Any]]:
        return run_kpi(self.query, self.database, name, **arguments).as_dicts()

    @property
    def period(self) -> dict[str, date]:
        return {"from_day": self.from_day, "to_day": self.to_day}

    @property
    def base(self) -> dict[str, object]:
        assert self.baseline is not None
        return self.baseline.arguments()

    @property
    def base_text(self) -> str:
        assert self.baseline is not None
        return _baseline_words(self.baseline, self.language)

    def say(self, key: str, **values: object) -> str:
        return report_word(key, self.language, **values)

    @property
    def period_text(self) -> str:
        return period_words(self.from_day, self.to_day, self.language)

    @property
    def no_inquiries(self) -> str:
        return self.say("no_inquiries", period=self.period_text)

    def title(self, task: str) -> str:
        return task_title(task, self.labels.get(task, ""), language=self.language)

    def titles(self, tasks: list[str]) -> str:
        """Task titles in a sentence: on one line each, as a chart's wrapped ones are not."""
        return ", ".join(self.title(t).replace("\n", " ") for t in tasks)

    def channel(self, code: str) -> str:
        return channel_name(code, self.language)

    def count(self, value: float) -> str:
        return count(value, self.language)

    def percent(self, share: float, decimals: int = 1) -> str:
        return percent(share, self.language, decimals)

    def tasks_by_volume(self, tasks: set[str]) -> list[str]:
        return sorted(tasks, key=lambda t: (-self.volume[t], t))


def _volume_and_labels(ctx: _Context, rows: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in rows:
        task = str(r["task"])
        counts[task] += int(r["inquiries"])
        if r["task_label"] and task not in ctx.labels:
            ctx.labels[task] = str(r["task_label"])
    return counts


# --------------------------------------------------------------------------- sections


def _week_label(monday: date, first: date, last: date, language: Language) -> str:
    """'Uge 45\n2.–8. nov.'; a week cut by the period says how many of its days it holds."""
    lo, hi = max(monday, first), min(monday + timedelta(days=6), last)
    if lo == hi:
        span = day_month(lo, language)
    elif lo.month == hi.month:
        span = report_word("days_of_month", language, first=lo.day, last=hi.day, month=month_name(hi.month, language))
    else:
        span = f"{day_month(lo, language)}–{day_month(hi, language)}"
    week = report_word("week", language, week=monday.isocalendar().week)
    held = "" if (hi - lo).days == 6 else " " + report_word("days_held", language, days=(hi - lo).days + 1)
    return f"{week}\n{span}{held}"


def _day_label(day: date, language: Language) -> str:
    return f"{weekday_name(day.isoweekday(), language).capitalize()}\n{day_month(day, language)}"


def _mix(ctx: _Context, volume_rows: list[dict[str, Any]]) -> Section:
    section = Section("channel-mix", ctx.say("mix_title"))
    if not volume_rows:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    days = (ctx.to_day - ctx.from_day).days + 1
    weekly = days > DAILY_UP_TO_DAYS
    per_bucket: defaultdict[date, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for r in volume_rows:
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))
        bucket = day - timedelta(days=day.weekday()) if weekly else day
        per_bucket[bucket][str(r["channel"])] += int(r["inquiries"])
        totals[str(r["channel"])] += int(r["inquiries"])
    buckets = []
    start = ctx.from_day - timedelta(days=ctx.from_day.weekday()) if weekly else ctx.from_day
    while start <= ctx.to_day:
        if per_bucket.get(start):
            label = (_week_label(start, ctx.from_day, ctx.to_day, ctx.language) if weekly
                     else _day_label(start, ctx.language))
            n = ctx.say("bar_count", n=ctx.count(sum(per_bucket[start].values())))
            buckets.append((f"{label}\n{n}", dict(per_bucket[start])))
        start += timedelta(days=7 if weekly else 1)
    channels = sorted(totals, key=channel_order)
    unit = ctx.say("per_week" if weekly else "per_day")
    file = charts.channel_mix(buckets, channels, ctx.out_dir / "channel_mix.png",
                              ctx.say("mix_chart_title", unit=unit), ctx.language)
    section.charts.append((file.name, ctx.say("mix_alt", unit=unit)))
    total = sum(totals.values())
    empty = (len(range(0, days, 7)) if weekly else days) - len(buckets)
    section.paragraphs.append(" ".join([
        ctx.say("mix_text", total=ctx.count(total), period=ctx.period_text),
        ctx.say("mix_bars_week" if weekly else "mix_bars_day"),
        *([ctx.say("mix_empty_weeks" if weekly else "mix_empty_days", n=empty)] if empty > 0 else [])]))
    section.tables.append(Table([ctx.say("col_channel"), ctx.say("col_inquiries"), ctx.say("col_share")], [
        [ctx.channel(c), ctx.count(totals[c]), ctx.percent(totals[c] / total)] for c in channels], (1, 2)))
    return section


def _shift(ctx: _Context) -> Section:
    section = Section("channel-shift", ctx.say("shift_title"))
    if ctx.baseline is None:
        section.paragraphs.append(ctx.say("no_baseline_shift"))
        return section
    base_text = ctx.base_text
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    if not ctx.baseline_inquiries:
        section.paragraphs.append(ctx.say("empty_baseline_shift", baseline=base_text))
        return section
    rows = ctx.kpi("channel_shift", **ctx.period, **ctx.base)
    shifts: defaultdict[str, dict[str, float]] = defaultdict(dict)
    now_total: Counter[str] = Counter()
    base_total: Counter[str] = Counter()
    for r in rows:
        task = str(r["task"])
        now_total[task] += int(r["inquiries"])
        base_total[task] += int(r["baseline_inquiries"])
        if r["shift"] is not None:
            shifts[task][str(r["channel"])] = float(r["shift"]) * 100
    compared = {t for t in now_total if t != "*" and now_total[t] and base_total[t]}
    only_now = sorted(t for t in now_total if t != "*" and now_total[t] and not base_total[t])
    only_base = sorted(t for t in now_total if t != "*" and base_total[t] and not now_total[t])
    tasks = ctx.tasks_by_volume(compared)
    drawn = ["*", *tasks[:MOST_TASKS]]
    channels = sorted({c for t in drawn for c in shifts[t]}, key=channel_order)
    file = charts.channel_shift([(ctx.title(t), shifts[t]) for t in drawn], channels,
                                ctx.out_dir / "channel_shift.png", ctx.say("shift_chart_title", baseline=base_text),
                                ctx.language, total_first=True)
    section.charts.append((file.name, ctx.say("shift_alt")))
    overall = sorted(shifts["*"].items(), key=lambda kv: kv[1])
    gained = [f"{ctx.channel(c)} {points(v / 100, ctx.language)}" for c, v in reversed(overall) if v >= 0.05][:2]
    lost = [f"{ctx.channel(c)} {points(v / 100, ctx.language)}" for c, v in overall if v <= -0.05][:2]
    section.paragraphs.append(ctx.say("shift_text", baseline=base_text, gained=", ".join(gained) or ctx.say("nothing"),
                                      lost=", ".join(lost) or ctx.say("nothing")))
    if len(tasks) > MOST_TASKS:
        section.paragraphs.append(ctx.say("most_tasks_of", shown=MOST_TASKS, total=len(tasks)))
    if only_now or only_base:
        parts = [*([ctx.say("only_now", tasks=ctx.titles(only_now))] if only_now else []),
                 *([ctx.say("only_baseline", tasks=ctx.titles(only_base))] if only_base else [])]
        section.paragraphs.append(ctx.say("not_compared", parts="; ".join(parts)))
    overall_rows = [r for r in rows if r["task"] == "*" and r["shift"] is not None]
    overall_rows.sort(key=lambda r: channel_order(str(r["channel"])))
    section.tables.append(Table(
        [ctx.say("col_channel"), ctx.say("col_share_now"), ctx.say("col_share_baseline"), ctx.say("col_shift")], [
            [ctx.channel(str(r["channel"])), ctx.percent(float(r["share"])), ctx.percent(float(r["baseline_share"])),
             points(float(r["shift"]), ctx.language)]
            for r in overall_rows], (1, 2, 3)))
    return section


def _self_service(ctx: _Context) -> Section:
    section = Section("self-service", ctx.say("self_service_title"))
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    rows = {str(r["task"]): r for r in ctx.kpi("self_service_rate", **ctx.period)}
    overall = rows["*"]
    if not int(overall["self_service"]):
        section.paragraphs.append(ctx.say("no_self_service", period=ctx.period_text, zero=ctx.percent(0, 0)))
        return section
    tasks = ctx.tasks_by_volume({t for t, r in rows.items() if t != "*" and int(r["inquiries"])})
    drawn = tasks[:MOST_TASKS]
    overall_rate = float(overall["rate"])
    file = charts.self_service_rate(
        [(ctx.title(t), float(rows[t]["rate"]), int(rows[t]["inquiries"])) for t in drawn],
        overall_rate, ctx.out_dir / "self_service_rate.png", ctx.say("self_service_chart_title"), ctx.language)
    section.charts.append((file.name, ctx.say("self_service_alt")))
    rated = sorted(tasks, key=lambda t: float(rows[t]["rate"]))
    with_self_service = [t for t in tasks if int(rows[t]["self_service"])]
    section.paragraphs.append(" ".join([
        ctx.say("self_service_text", self_service=ctx.count(int(overall["self_service"])),
                inquiries=ctx.count(int(overall["inquiries"])), rate=ctx.percent(overall_rate),
                with_any=len(with_self_service), tasks=len(tasks), best=ctx.titles(rated[-1:]),
                best_rate=ctx.percent(float(rows[rated[-1]]["rate"]))),
        *([ctx.say("most_tasks", shown=MOST_TASKS)] if len(tasks) > MOST_TASKS else [])]))
    return section


def _cost(ctx: _Context) -> Section:
    section = Section("cost", ctx.say("cost_title"))
    prices = ", ".join(f"{ctx.channel(c)} {price(p, ctx.language)}"
                       for c, p in sorted(ctx.steering.unit_prices_dkk.items(), key=lambda kv: channel_order(kv[0])))
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    rows = ctx.kpi("cost", **ctx.period)
    per_channel = sorted([r for r in rows if r["channel"] != "*"], key=lambda r: channel_order(str(r["channel"])))
    if not per_channel:
        section.paragraphs.append(ctx.say("no_priced", prices=prices or ctx.say("nothing")))
        return section
    gain = None
    gain_text = ctx.say("no_baseline_gain") if ctx.baseline is None else ""
    if ctx.baseline is not None:
        base_text = ctx.base_text
        gain_rows = ctx.kpi("realised_gain", **ctx.period, **ctx.base)
        result = next((r for r in gain_rows if r["task"] == "*" and r["channel"] == "*"), {})
        uncompared = sorted({str(r["task"]) for r in gain_rows if r["task"] != "*" and not r["has_baseline_mix"]})
        if result.get("has_baseline_mix") and result.get("cost_at_baseline_mix_dkk") is not None:
            at_mix = float(result["cost_at_baseline_mix_dkk"])
            gain = charts.Gain(at_mix, float(result["cost_dkk"]))
            compared = float(result["inquiries"]) - float(result["uncompared_inquiries"] or 0)
            gain_text = ctx.say("gain_negative" if gain.gain < 0 else "gain", baseline=base_text,
                                inquiries=ctx.count(compared), at_mix=money(at_mix, ctx.language),
                                gain=money(gain.gain, ctx.language))
            if uncompared:
                gain_text += " " + ctx.say("gain_uncompared", tasks=len(uncompared),
                                           inquiries=ctx.count(float(result["uncompared_inquiries"])),
                                           names=ctx.titles(uncompared[:8]) + (", ..." if len(uncompared) > 8 else ""))
        else:
            gain_text = ctx.say("empty_baseline_gain", baseline=base_text)
    total = next((float(r["cost_dkk"]) for r in rows if r["channel"] == "*"), 0.0)
    file = charts.cost([(str(r["channel"]), int(r["inquiries"]), float(r["price_dkk"]), float(r["cost_dkk"]))
                        for r in per_channel], gain, ctx.out_dir / "cost.png", ctx.say("cost_chart_title"),
                       ctx.language)
    section.charts.append((file.name, ctx.say("cost_alt_gain" if gain else "cost_alt")))
    unpriced = [ctx.channel(c) for c in CHANNELS if c not in ctx.steering.unit_prices_dkk]
    section.paragraphs.append(" ".join([
        ctx.say("cost_text", total=money(total, ctx.language), prices=prices),
        *([ctx.say("unpriced", channels=", ".join(unpriced))] if unpriced else [])]))
    section.paragraphs.append(gain_text)
    section.tables.append(Table(
        [ctx.say("col_channel"), ctx.say("col_inquiries"), ctx.say("col_unit_price"), ctx.say("col_cost")], [
            [ctx.channel(str(r["channel"])), ctx.count(int(r["inquiries"])), price(float(r["price_dkk"]), ctx.language),
             ctx.count(float(r["cost_dkk"]))] for r in per_channel], (1, 2, 3)))
    return section


def _shown(ctx: _Context, value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return ctx.say("no_data")
    if unit in ("share", "rate"):
        return ctx.percent(value)
    return ctx.say("index_value", value=decimal(value, ctx.language, 3), share=ctx.percent(value, 0))


def _verdict(ctx: _Context, status: TargetStatus) -> str:
    """On or off track, and the targets module's note on why a value or verdict is missing."""
    verdict = ctx.say("on_track" if status.on_track else "off_track" if status.on_track is False else "no_verdict")
    return f"{verdict}: {status.note}" if status.note else verdict


def _targets(ctx: _Context) -> Section:
    section = Section("targets", ctx.say("targets_title"))
    statuses: list[TargetStatus] = evaluate_targets(ctx.steering, ctx.query, ctx.database, ctx.to_day,
                                                       language=ctx.language)
    if not statuses:
        section.paragraphs.append(ctx.say("no_targets"))
        return section
    measured = [s for s in statuses if s.value is not None and s.target is not None]
    on_track = sum(1 for s in measured if s.on_track)
    unmeasured = len(statuses) - len(measured)
    day = long_day(ctx.to_day, ctx.language)
    section.paragraphs.append(ctx.say("targets_text_unmeasured" if unmeasured else "targets_text", count=len(statuses),
                                      day=day, on=on_track, off=len(measured) - on_track, unmeasured=unmeasured))
    if measured:
        file = charts.targets([charts.TargetPoint(textwrap.fill(s.name.replace("_", " "), 30), s.start_value,
                                                  s.target, s.value, s.on_track)
                               for s in measured], ctx.out_dir / "targets.png",
                              ctx.say("targets_chart_title", day=day), ctx.language)
        section.charts.append((file.name, ctx.say("targets_alt")))
    else:
        section.paragraphs.append(ctx.say("no_target_data"))
    section.tables.append(Table(
        [ctx.say(f"col_{c}") for c in ("target", "window", "value", "target_today", "progress", "status")], [
            [f"{s.name}: {s.description}", period_words(*s.window, ctx.language), _shown(ctx, s.value, s.unit),
             _shown(ctx, s.target, s.unit), "" if s.progress is None else ctx.percent(s.progress, 0),
             _verdict(ctx, s)]
            for s in statuses], (2, 3, 4)))
    return section


def _demand(ctx: _Context) -> Section:
    section = Section("demand", ctx.say("demand_title"))
    channels = [c for c in CHANNELS if c in ctx.steering.opening_hours]
    if not channels:
        section.paragraphs.append(ctx.say("no_opening_hours"))
        return section
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    section.paragraphs.append(ctx.say("demand_text"))
    for channel in channels:
        name = ctx.channel(channel)
        rows = ctx.kpi("demand", **ctx.period, channel_name=channel)
        total = sum(int(r["inquiries"] or 0) for r in rows)
        if not total:
            section.paragraphs.append(ctx.say("demand_none", channel=name))
            continue
        grid = [[0.0] * 24 for _ in range(7)]
        outside = 0
        for r in rows:
            grid[int(r["weekday"]) - 1][int(r["hour"])] = float(r["per_open_day"] or 0)
            if not float(r["open_minutes"] or 0):
                outside += int(r["inquiries"] or 0)
        hours = ctx.steering.opening_hours[channel].hours
        file = charts.demand_heatmap(grid, [hours.on(d) for d in range(7)], channel,
                                     ctx.out_dir / f"demand_{channel}.png",
                                     ctx.say("demand_chart_title", channel=name), ctx.language)
        section.charts.append((file.name, ctx.say("demand_alt", channel=name)))
        day, hour = max(((d, h) for d in range(7) for h in range(24)), key=lambda dh: grid[dh[0]][dh[1]])
        section.paragraphs.append(ctx.say(
            "demand_summary", channel=name, total=ctx.count(total), weekday=weekday_name(day + 1, ctx.language),
            start=f"{hour:02d}:00", end=f"{hour + 1:02d}:00", per_day=decimal(grid[day][hour], ctx.language, 1),
            outside=ctx.percent(outside / total)))
    return section


# --------------------------------------------------------------------------- report


_CHART_FILES = ("channel_mix.png", "channel_shift.png", "self_service_rate.png", "cost.png", "targets.png")


def strategy_report(query: Query, database: str, steering: Steering, from_day: date, to_day: date, out_dir: Path,
                    baseline: str | None = None, *, language: Language = "da") -> StrategyReport:
    """Compute every section for [from_day, to_day] (local days), draw its charts into out_dir
    and write out_dir/index.html, in Danish unless `language` is "en". `baseline` names one of
    the steering file's baselines; None takes its first. Raises SteeringError for an unknown
    baseline name."""
    if from_day > to_day:
        raise ValueError(f"--from {from_day} is after --to {to_day}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*_CHART_FILES, *(p.name for p in out_dir.glob("demand_*.png"))]:
        (out_dir / stale).unlink(missing_ok=True)  # a chart of an earlier run must not look like this one's
    ctx = _Context(query, database, steering, from_day, to_day, out_dir, labels={}, volume=Counter(),
                   language=language)
    volume_rows = ctx.kpi("volume", **ctx.period)
    ctx.volume = _volume_and_labels(ctx, volume_rows)
    name = baseline if baseline is not None else next(iter(steering.baselines), None)
    if name is not None:
        ctx.baseline = resolve_baseline(steering, query, database, name, from_day, to_day)
        ctx.baseline_inquiries = baseline_volume(query, database, steering.timezone, ctx.baseline)
    sections = [_mix(ctx, volume_rows), _shift(ctx), _self_service(ctx), _cost(ctx), _targets(ctx), _demand(ctx)]
    report = StrategyReport(from_day, to_day, ctx.baseline, sections, out_dir / INDEX, language)
    report.path.write_text(render_html(report), encoding="utf-8")
    return report


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1060px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
.meta { color: #555; } nav a { margin-right: 1em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #eef2f7; }
"""


def render_html(report: StrategyReport) -> str:
    esc = html.escape
    language = report.language
    base = report.baseline
    baseline = report_word("no_baseline", language) if base is None else _baseline_words(base, language)
    dates = period_words(report.from_day, report.to_day, language)
    parts = [
        "<!doctype html>", f'<html lang="{language}">', "<head>", '<meta charset="utf-8">',
        f"<title>{esc(report_word('page_title', language, period=dates))}</title>",
        f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{esc(report_word('report_title', language))}</h1>",
        '<p class="meta">' + esc(report_word("meta", language, period=dates, baseline=baseline,
                                             at=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}")) + "</p>",
        "<nav>" + "".join(f'<a href="#{s.key}">{esc(s.title)}</a>' for s in report.sections) + "</nav>",
    ]
    for section in report.sections:
        parts.append(f'<section id="{section.key}" data-state="{section.state}">')
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
        for file, alt in section.charts:
            parts.append(f'<figure><img src="{esc(file)}" alt="{esc(alt)}"></figure>')
        for table in section.tables:
            parts.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in table.headers)
                         + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f'<td class="n">{esc(v)}</td>' if i in table.numeric else f"<td>{esc(v)}</td>"
                                       for i, v in enumerate(row)) + "</tr>" for row in table.rows]
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)

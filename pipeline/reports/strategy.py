"""The channel-strategy report for a period: what strategy staff and the steering group ask
between counting weeks. Reads the KPI views (deploy/clickhouse/1xx_kpi_*.sql) through
pipeline.kpis and the targets through pipeline.targets, draws charts with charts.py, and
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
the period (and the baseline, where it compares) and otherwise says so in words. English
throughout, like the CLI and the steering file; task labels are the mapping file's (Danish).
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

from pipeline.baselines import ResolvedBaseline, baseline_volume, resolve_baseline
from pipeline.kpis import run_kpi
from pipeline.reports import charts
from pipeline.reports.labels import CHANNEL_EN, CHANNELS, channel_order, task_title
from pipeline.steering import Steering
from pipeline.store import QueryResult
from pipeline.targets import TargetStatus, evaluate_targets

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

    @property
    def pngs(self) -> list[str]:
        return [name for section in self.sections for name, _ in section.charts]


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _period(first: date, last: date) -> str:
    return f"{_day(first)} – {_day(last)}"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _pp(value: float) -> str:
    return f"{round(value * 100, 1) + 0.0:+.1f} pp"  # + 0.0: no "-0.0"


def _number(value: float) -> str:
    return f"{value:,.0f}"


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
        b = self.baseline
        return (f"baseline '{b.name}' ({_period(b.base_from, b.base_to)})" if b.kind == "period"  # type: ignore[arg-type]
                else f"baseline '{b.name}' ({b.source})")

    @property
    def no_inquiries(self) -> str:
        return f"No inquiries are stored for {_period(self.from_day, self.to_day)}, so there is nothing to show."

    def title(self, task: str) -> str:
        return task_title(task, self.labels.get(task, ""))

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


def _week_label(monday: date, first: date, last: date) -> str:
    """'W45\n2–8 Nov'; a week cut by the period says how many of its days it holds."""
    lo, hi = max(monday, first), min(monday + timedelta(days=6), last)
    if lo == hi:
        span = f"{lo.day} {lo:%b}"
    else:
        span = f"{lo.day}–{hi.day} {hi:%b}" if lo.month == hi.month else f"{lo.day} {lo:%b}–{hi.day} {hi:%b}"
    return f"W{monday.isocalendar().week}\n{span}" + ("" if (hi - lo).days == 6 else f" ({(hi - lo).days + 1} d)")


def _mix(ctx: _Context, volume_rows: list[dict[str, Any]]) -> Section:
    section = Section("channel-mix", "Channel mix over time")
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
            label = _week_label(start, ctx.from_day, ctx.to_day) if weekly else f"{start:%a}\n{start.day} {start:%b}"
            buckets.append((f"{label}\nn = {_number(sum(per_bucket[start].values()))}", dict(per_bucket[start])))
        start += timedelta(days=7 if weekly else 1)
    channels = sorted(totals, key=channel_order)
    unit = "ISO week" if weekly else "day"
    file = charts.channel_mix(buckets, channels, ctx.out_dir / "channel_mix.png",
                              f"Share of inquiries per channel, per {unit}")
    section.charts.append((file.name, f"Stacked bars: each channel's share of inquiries per {unit}"))
    total = sum(totals.values())
    empty = (len(range(0, days, 7)) if weekly else days) - len(buckets)
    section.paragraphs.append(
        f"{_number(total)} inbound inquiries in {_period(ctx.from_day, ctx.to_day)} (web page views are not "
        f"inquiries and are left out). Each bar splits one {unit}'s inquiries by channel; weeks cut by the "
        "period's start or end say how many days they hold."
        + (f" {empty} {unit}(s) of the period have no inquiries and no bar." if empty > 0 else ""))
    section.tables.append(Table(["Channel", "Inquiries", "Share"], [
        [CHANNEL_EN.get(c, c), _number(totals[c]), _pct(totals[c] / total)] for c in channels], (1, 2)))
    return section


def _shift(ctx: _Context) -> Section:
    section = Section("channel-shift", "Channel shift against the baseline, per task")
    if ctx.baseline is None:
        section.paragraphs.append("No baseline is configured in the steering file (`baselines:`), so channel shift "
                                  "cannot be computed.")
        return section
    base_text = ctx.base_text
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    if not ctx.baseline_inquiries:
        section.paragraphs.append(f"No inquiries are stored for the {base_text}, so there is no channel mix to "
                                  "compare with.")
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
                                ctx.out_dir / "channel_shift.png", f"Channel shift against the {base_text}")
    section.charts.append((file.name, "Diverging bars per task: percentage points gained or lost per channel"))
    overall = sorted(shifts["*"].items(), key=lambda kv: kv[1])
    gained = [f"{CHANNEL_EN.get(c, c)} {_pp(v / 100)}" for c, v in reversed(overall) if v >= 0.05][:2]
    lost = [f"{CHANNEL_EN.get(c, c)} {_pp(v / 100)}" for c, v in overall if v <= -0.05][:2]
    section.paragraphs.append(
        f"Compared with the {base_text}: for each task, bars right of zero are channels whose share of the "
        "task's inquiries grew, bars left of zero those whose share fell (percentage points; a task's gains "
        "and losses add up to zero). Over all tasks, most gained: " + (", ".join(gained) or "none")
        + "; most lost: " + (", ".join(lost) or "none") + ".")
    if len(tasks) > MOST_TASKS:
        section.paragraphs.append(f"The chart shows the {MOST_TASKS} tasks with most inquiries of {len(tasks)}.")
    if only_now or only_base:
        section.paragraphs.append(
            "Not compared, for lack of inquiries in one of the two periods: "
            + "; ".join(filter(None, [
                ("only in this period: " + ", ".join(ctx.title(t).replace("\n", " ") for t in only_now))
                if only_now else "",
                ("only in the baseline: " + ", ".join(ctx.title(t).replace("\n", " ") for t in only_base))
                if only_base else ""])) + ".")
    overall_rows = [r for r in rows if r["task"] == "*" and r["shift"] is not None]
    overall_rows.sort(key=lambda r: channel_order(str(r["channel"])))
    section.tables.append(Table(["Channel", "Share now", "Share in baseline", "Shift"], [
        [CHANNEL_EN.get(str(r["channel"]), str(r["channel"])), _pct(float(r["share"])),
         _pct(float(r["baseline_share"])), _pp(float(r["shift"]))]
        for r in overall_rows], (1, 2, 3)))
    return section


def _self_service(ctx: _Context) -> Section:
    section = Section("self-service", "Self-service rate per task")
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    rows = {str(r["task"]): r for r in ctx.kpi("self_service_rate", **ctx.period)}
    overall = rows["*"]
    if not int(overall["self_service"]):
        section.paragraphs.append(f"No self-service inquiries are stored for {_period(ctx.from_day, ctx.to_day)}: "
                                  "the self-service rate is 0 % for every task.")
        return section
    tasks = ctx.tasks_by_volume({t for t, r in rows.items() if t != "*" and int(r["inquiries"])})
    drawn = tasks[:MOST_TASKS]
    overall_rate = float(overall["rate"])
    file = charts.self_service_rate(
        [(ctx.title(t), float(rows[t]["rate"]), int(rows[t]["inquiries"])) for t in drawn],
        overall_rate, ctx.out_dir / "self_service_rate.png", "Self-service rate (selvbetjeningsgrad) per task")
    section.charts.append((file.name, "Horizontal bars: self-service rate per task, overall rate as a dashed line"))
    rated = sorted(tasks, key=lambda t: float(rows[t]["rate"]))
    with_self_service = [t for t in tasks if int(rows[t]["self_service"])]
    section.paragraphs.append(
        f"Overall, {_number(int(overall['self_service']))} of {_number(int(overall['inquiries']))} inquiries "
        f"({_pct(overall_rate)}) came through digital self-service. {len(with_self_service)} of {len(tasks)} tasks "
        f"had any; highest: {ctx.title(rated[-1]).replace(chr(10), ' ')} ({_pct(float(rows[rated[-1]]['rate']))})."
        + (f" The chart shows the {MOST_TASKS} tasks with most inquiries." if len(tasks) > MOST_TASKS else ""))
    return section


def _cost(ctx: _Context) -> Section:
    section = Section("cost", "Cost and realised gain")
    prices = ", ".join(f"{CHANNEL_EN.get(c, c)} {p:g}" for c, p in sorted(ctx.steering.unit_prices_dkk.items(),
                                                                        key=lambda kv: channel_order(kv[0])))
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    rows = ctx.kpi("cost", **ctx.period)
    per_channel = sorted([r for r in rows if r["channel"] != "*"], key=lambda r: channel_order(str(r["channel"])))
    if not per_channel:
        section.paragraphs.append("None of the period's inquiries came through a channel with a unit price in the "
                                  f"steering file (unit prices, DKK: {prices or 'none'}).")
        return section
    gain = None
    gain_text = ("No baseline is configured in the steering file, so there is no realised gain to show."
                 if ctx.baseline is None else "")
    if ctx.baseline is not None:
        base_text = ctx.base_text
        gain_rows = ctx.kpi("realised_gain", **ctx.period, **ctx.base)
        result = next((r for r in gain_rows if r["task"] == "*" and r["channel"] == "*"), {})
        uncompared = sorted({str(r["task"]) for r in gain_rows if r["task"] != "*" and not r["has_baseline_mix"]})
        if result.get("has_baseline_mix") and result.get("cost_at_baseline_mix_dkk") is not None:
            at_mix = float(result["cost_at_baseline_mix_dkk"])
            gain = charts.Gain(at_mix, float(result["cost_dkk"]))
            compared = float(result["inquiries"]) - float(result["uncompared_inquiries"] or 0)
            gain_text = (f"At each task's channel mix of the {base_text}, the same {_number(compared)} "
                         f"priced inquiries would have cost {_number(at_mix)} DKK: the realised gain is "
                         f"{_number(gain.gain)} DKK" + (" (a negative gain: the mix moved to dearer channels)."
                                                         if gain.gain < 0 else "."))
            if uncompared:
                gain_text += (f" Not compared, for lack of a channel mix in the baseline: {len(uncompared)} task(s), "
                              f"{_number(float(result['uncompared_inquiries']))} inquiries ("
                              + ", ".join(ctx.title(t).replace(chr(10), " ") for t in uncompared[:8])
                              + (", ..." if len(uncompared) > 8 else "") + ").")
        else:
            gain_text = f"No priced inquiries are stored for the {base_text}, so there is no realised gain to show."
    total = next((float(r["cost_dkk"]) for r in rows if r["channel"] == "*"), 0.0)
    file = charts.cost([(str(r["channel"]), int(r["inquiries"]), float(r["price_dkk"]), float(r["cost_dkk"]))
                        for r in per_channel], gain, ctx.out_dir / "cost.png", "Cost per channel")
    section.charts.append((file.name, "Bars: cost per channel" + ("; realised gain against the baseline mix"
                                                                   if gain else "")))
    unpriced = [CHANNEL_EN.get(c, c) for c in CHANNELS if c not in ctx.steering.unit_prices_dkk]
    section.paragraphs.append(
        f"Inquiries on channels with a unit price cost {_number(total)} DKK in the period (unit prices from the "
        f"steering file, DKK per inbound inquiry: {prices})."
        + (f" Channels without a price are not costed: {', '.join(unpriced)}." if unpriced else ""))
    section.paragraphs.append(gain_text)
    section.tables.append(Table(["Channel", "Inquiries", "Unit price (DKK)", "Cost (DKK)"], [
        [CHANNEL_EN.get(str(r["channel"]), str(r["channel"])), _number(int(r["inquiries"])),
         f"{float(r['price_dkk']):g}", _number(float(r["cost_dkk"]))] for r in per_channel], (1, 2, 3)))
    return section


def _shown(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "no data"
    return _pct(value) if unit in ("share", "rate") else f"{value:.3f} ({value:.0%} of baseline)"


def _targets(ctx: _Context) -> Section:
    section = Section("targets", "Targets")
    statuses: list[TargetStatus] = evaluate_targets(ctx.steering, ctx.query, ctx.database, ctx.to_day)
    if not statuses:
        section.paragraphs.append("No targets configured in the steering file (`targets:`).")
        return section
    measured = [s for s in statuses if s.value is not None and s.target is not None]
    on_track = sum(1 for s in measured if s.on_track)
    unmeasured = len(statuses) - len(measured)
    section.paragraphs.append(
        f"{len(statuses)} target(s) in the steering file, evaluated on {_day(ctx.to_day)} over each target's "
        f"own trailing window: {on_track} on track, {len(measured) - on_track} off track"
        + (f", {unmeasured} without data in their window or baseline." if unmeasured else "."))
    if measured:
        file = charts.targets([charts.TargetPoint(textwrap.fill(s.name.replace("_", " "), 30), s.start_value,
                                                  s.target, s.value, s.on_track)
                               for s in measured], ctx.out_dir / "targets.png",
                              f"Targets on {_day(ctx.to_day)}: measured value against today's target")
        section.charts.append((file.name, "Per target: start, today's target and the measured value"))
    else:
        section.paragraphs.append("No target has data in its window, so there is no chart.")
    section.tables.append(Table(["Target", "Window", "Value", "Target today", "Progress", "Status"], [
        [f"{s.name}: {s.description}", _period(*s.window), _shown(s.value, s.unit), _shown(s.target, s.unit),
         "" if s.progress is None else f"{s.progress:.0%}",
         ("on track" if s.on_track else "off track" if s.on_track is False else "no verdict")
         + (f": {s.note}" if s.note else "")]
        for s in statuses], (2, 3, 4)))
    return section


def _demand(ctx: _Context) -> Section:
    section = Section("demand", "Demand by weekday and hour against opening hours")
    channels = [c for c in CHANNELS if c in ctx.steering.opening_hours]
    if not channels:
        section.paragraphs.append("No channel has opening hours in the steering file (`opening_hours:`).")
        return section
    if not ctx.volume:
        section.paragraphs.append(ctx.no_inquiries)
        return section
    section.paragraphs.append(
        "Inquiries per open day: a cell's inquiries divided by the number of days of that weekday in the period "
        "that were not public holidays or closing days. The black outline is the channel's default opening "
        "hours from the steering file (sites with their own hours are not drawn apart). Channels without "
        "opening hours (always open) are not shown.")
    for channel in channels:
        name = CHANNEL_EN.get(channel, channel)
        rows = ctx.kpi("demand", **ctx.period, channel_name=channel)
        total = sum(int(r["inquiries"] or 0) for r in rows)
        if not total:
            section.paragraphs.append(f"{name}: no inquiries in the period.")
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
                                     f"{name}: inquiries per open day, by weekday and hour")
        alt = f"Heatmap: {name} inquiries per open day by weekday and hour, opening hours outlined"
        section.charts.append((file.name, alt))
        busiest = max(((d, h) for d in range(7) for h in range(24)), key=lambda dh: grid[dh[0]][dh[1]])
        section.paragraphs.append(
            f"{name}: {_number(total)} inquiries; busiest hour {charts.WEEKDAYS_EN[busiest[0]]} "
            f"{busiest[1]:02d}:00–{busiest[1] + 1:02d}:00 ({grid[busiest[0]][busiest[1]]:.1f} per open day); "
            f"{_pct(outside / total)} arrived in hours the channel is closed.")
    return section


# --------------------------------------------------------------------------- report


_CHART_FILES = ("channel_mix.png", "channel_shift.png", "self_service_rate.png", "cost.png", "targets.png")


def strategy_report(query: Query, database: str, steering: Steering, from_day: date, to_day: date, out_dir: Path,
                    baseline: str | None = None) -> StrategyReport:
    """Compute every section for [from_day, to_day] (local days), draw its charts into out_dir
    and write out_dir/index.html. `baseline` names one of the steering file's baselines; None
    takes its first. Raises SteeringError for an unknown baseline name."""
    if from_day > to_day:
        raise ValueError(f"--from {from_day} is after --to {to_day}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*_CHART_FILES, *(p.name for p in out_dir.glob("demand_*.png"))]:
        (out_dir / stale).unlink(missing_ok=True)  # a chart of an earlier run must not look like this one's
    ctx = _Context(query, database, steering, from_day, to_day, out_dir, labels={}, volume=Counter())
    volume_rows = ctx.kpi("volume", **ctx.period)
    ctx.volume = _volume_and_labels(ctx, volume_rows)
    name = baseline if baseline is not None else next(iter(steering.baselines), None)
    if name is not None:
        ctx.baseline = resolve_baseline(steering, query, database, name, from_day, to_day)
        ctx.baseline_inquiries = baseline_volume(query, database, steering.timezone, ctx.baseline)
    sections = [_mix(ctx, volume_rows), _shift(ctx), _self_service(ctx), _cost(ctx), _targets(ctx), _demand(ctx)]
    report = StrategyReport(from_day, to_day, ctx.baseline, sections, out_dir / INDEX)
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
    base = report.baseline
    baseline = ("no baseline" if base is None else
                f"baseline '{esc(base.name)}' ({esc(_period(base.base_from, base.base_to))})" if base.kind == "period"  # type: ignore[arg-type]
                else f"baseline '{esc(base.name)}' ({esc(base.source)})")
    parts = [
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>Channel strategy report {esc(_period(report.from_day, report.to_day))}</title>",
        f"<style>{_CSS}</style>", "</head>", "<body>",
        "<h1>Channel strategy report</h1>",
        (f'<p class="meta">{esc(_period(report.from_day, report.to_day))} (local days); compared with {baseline}. '
         f"Made by kanalpuls on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from the KPI views "
         "(deploy/clickhouse/1xx_kpi_*.sql).</p>"),
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

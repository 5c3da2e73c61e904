"""The strategy report's charts: plain data in, one PNG out, drawn with matplotlib.

Kept apart from the report so each chart is a function of the numbers alone (no store, no
dates to resolve) and the report decides what to draw. Every function expects data to draw:
deciding that a KPI has no data, and saying so in words instead of drawing an empty chart,
is the caller's job (pipeline/reports/strategy.py). Figures are built on the Agg canvas
directly, never through pyplot, so nothing depends on a display or on global state.

Readability rules every chart follows: channel colours from labels.py and channel names from
the message catalogue, the same in every chart; task labels wrapped (labels.task_title) on
horizontal bars, where long KLE labels have room; values written on or next to what they
measure; legends outside the data. Every word on a chart is pipeline/ground/messages.py's in the
report's language (Danish unless asked), and every number is written by labels.py as the
page writes it, so '12,3 %' on a bar is '12,3 %' in the text beside it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.ground.messages import Language, channel_name, report_word, weekday_name
from pipeline.reports.labels import CHANNEL_COLOURS, count, decimal, money, percent, price, signed

# Labels come from events and the mapping file: '$' in one is text, never maths notation
# (a label '$\foo{$' stopped the report).
matplotlib.rcParams["text.parse_math"] = False

DPI = 100
WIDTH = 10.0  # inches: 1000 px, fits a report page without scaling text down
_GRID = {"color": "#dddddd", "linewidth": 0.8}


def _figure(height: float, width: float = WIDTH) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _open_frame(ax: object) -> None:
    """No top and right axis lines: the data, not the box, carries the chart."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)  # type: ignore[attr-defined]


def _title(ax: object, text: str, width: int = 80) -> None:
    """Title on the left, wrapped: a long baseline name must not run off the image."""
    ax.set_title(textwrap.fill(text, width), loc="left", fontsize=12)  # type: ignore[attr-defined]


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, facecolor="white")
    return path


def _text_colour(colour: str) -> str:
    red, green, blue = to_rgb(colour)
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.55 else "white"


def _percent_axis(language: Language) -> FuncFormatter:
    """Ticks as '20 %' (da) or '20%' (en), matplotlib's PercentFormatter knowing one style only;
    a decimal where the ticks are closer than a whole percent, so no two read the same."""
    return FuncFormatter(lambda v, _: percent(v, language, 0 if round(v * 100, 6).is_integer() else 1))


def _count_axis(language: Language) -> FuncFormatter:
    return FuncFormatter(lambda v, _: count(v, language))


def channel_mix(buckets: Sequence[tuple[str, dict[str, int]]], channels: Sequence[str], path: Path,
                title: str, language: Language = "da") -> Path:
    """100 % stacked bars: each bucket's (week's or day's) inquiries split by channel."""
    figure = _figure(5.2)
    ax = figure.add_subplot()
    positions = range(len(buckets))
    bottoms = [0.0] * len(buckets)
    totals = [sum(counts.values()) or 1 for _, counts in buckets]
    for channel in channels:
        shares = [counts.get(channel, 0) / total for (_, counts), total in zip(buckets, totals)]
        colour = CHANNEL_COLOURS.get(channel, "#666666")
        ax.bar(positions, shares, bottom=bottoms, color=colour, width=0.75, label=channel_name(channel, language),
               edgecolor="white", linewidth=0.5)
        for x, (share, bottom) in enumerate(zip(shares, bottoms)):
            if share >= 0.06:  # smaller segments have no room for a label
                ax.text(x, bottom + share / 2, percent(share, language, 0), ha="center", va="center", fontsize=8.5,
                        color=_text_colour(colour))
        bottoms = [b + s for b, s in zip(bottoms, shares)]
    ax.set_xticks(list(positions), [label for label, _ in buckets], fontsize=9)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(_percent_axis(language))
    ax.set_ylabel(report_word("axis_share_of_inquiries", language))
    _title(ax, title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title=report_word("legend_channel", language), reverse=True)
    _open_frame(ax)
    return _save(figure, path)


def channel_shift(rows: Sequence[tuple[str, dict[str, float]]], channels: Sequence[str], path: Path,
                  title: str, language: Language = "da", total_first: bool = False) -> Path:
    """Per task, a diverging bar: the percentage points each channel gained (right of 0) or
    lost (left of 0) against the baseline. Gains and losses of one task add up to zero.
    `total_first`: the first row is the municipality as a whole, set apart from the tasks."""
    figure = _figure(max(3.0, 0.5 * len(rows) + 1.8))
    ax = figure.add_subplot()
    labels = [label for label, _ in rows]
    y = list(range(len(rows)))
    widest = max((max(sum(v for v in shifts.values() if v > 0), -sum(v for v in shifts.values() if v < 0))
                  for _, shifts in rows), default=1.0) or 1.0
    right, left = [0.0] * len(rows), [0.0] * len(rows)
    for channel in channels:
        colour = CHANNEL_COLOURS.get(channel, "#666666")
        values = [shifts.get(channel, 0.0) for _, shifts in rows]
        starts = [right[i] if v >= 0 else left[i] for i, v in enumerate(values)]
        ax.barh(y, values, left=starts, color=colour, height=0.65, label=channel_name(channel, language),
                edgecolor="white", linewidth=0.5)
        for i, value in enumerate(values):
            if abs(value) >= 0.12 * widest:
                ax.text(starts[i] + value / 2, i, signed(value, language), ha="center", va="center", fontsize=8,
                        color=_text_colour(colour))
            if value >= 0:
                right[i] += value
            else:
                left[i] += value
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(y, labels, fontsize=9)
    if labels and total_first:
        ax.get_yticklabels()[0].set_fontweight("bold")
        ax.axhline(0.5, color="#999999", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlim(-widest * 1.1, widest * 1.1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}" if v else "0"))  # whole points: no separator
    ax.set_xlabel(report_word("axis_shift", language))
    ax.grid(axis="x", **_GRID)
    ax.set_axisbelow(True)
    _title(ax, title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title=report_word("legend_channel", language))
    _open_frame(ax)
    return _save(figure, path)


def self_service_rate(rows: Sequence[tuple[str, float, int]], overall: float, path: Path, title: str,
                      language: Language = "da") -> Path:
    """Horizontal bars: each task's self-service rate, the municipality's overall rate as a line."""
    figure = _figure(max(3.0, 0.45 * len(rows) + 1.6))
    ax = figure.add_subplot()
    y = list(range(len(rows)))
    rates = [rate for _, rate, _ in rows]
    ax.barh(y, rates, color=CHANNEL_COLOURS["self_service"], height=0.65)
    for i, (_, rate, inquiries) in enumerate(rows):
        ax.annotate(report_word("rate_of", language, rate=percent(rate, language), n=count(inquiries, language)),
                    (rate, i), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8.5, zorder=4,  # over the overall line, which may cross it
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    ax.axvline(overall, color="black", linestyle="--", linewidth=1)
    ax.annotate(report_word("all_tasks_rate", language, rate=percent(overall, language)), (overall, -0.75),
                xytext=(3, 0), textcoords="offset points",
                fontsize=8.5, va="bottom")
    ax.set_yticks(y, [label for label, _, _ in rows], fontsize=9)
    ax.set_ylim(len(rows) - 0.5, -1.1)
    ax.set_xlim(0, min(1.0, max([*rates, overall]) * 1.3 + 0.04))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(_percent_axis(language))
    ax.set_xlabel(report_word("axis_self_service", language))
    ax.grid(axis="x", **_GRID)
    ax.set_axisbelow(True)
    _title(ax, title)
    _open_frame(ax)
    return _save(figure, path)


@dataclass(frozen=True)
class Gain:
    cost_at_baseline_mix: float
    cost: float

    @property
    def gain(self) -> float:
        return self.cost_at_baseline_mix - self.cost


def cost(channels: Sequence[tuple[str, int, float, float]], gain: Gain | None, path: Path, title: str,
         language: Language = "da") -> Path:
    """Left: cost per channel (inquiries x unit price). Right, with a baseline: the period's
    cost at the baseline's channel mix beside its actual cost; the difference is the gain."""
    figure = _figure(max(3.2, 0.45 * len(channels) + 1.8))
    grid = figure.add_gridspec(1, 3 if gain else 1)
    ax = figure.add_subplot(grid[0, :2] if gain else grid[0, 0])
    y = list(range(len(channels)))
    costs = [c for _, _, _, c in channels]
    ax.barh(y, costs, color=[CHANNEL_COLOURS.get(ch, "#666666") for ch, _, _, _ in channels], height=0.65)
    for i, (_, inquiries, unit_price, amount) in enumerate(channels):
        ax.annotate(report_word("cost_bar", language, amount=money(amount, language),
                                inquiries=count(inquiries, language), price=price(unit_price, language)),
                    (amount, i), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8.5)
    ax.set_yticks(y, [channel_name(ch, language) for ch, _, _, _ in channels], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(costs) * 1.6 if max(costs) > 0 else 1)
    ax.xaxis.set_major_formatter(_count_axis(language))
    ax.set_xlabel(report_word("axis_cost", language))
    ax.grid(axis="x", **_GRID)
    ax.set_axisbelow(True)
    _title(ax, title)
    _open_frame(ax)
    if gain:
        gx = figure.add_subplot(grid[0, 2])
        values = [gain.cost_at_baseline_mix, gain.cost]
        gx.bar([0, 1], values, color=["#bbbbbb", "#0072B2"], width=0.6)
        for x, value in enumerate(values):
            gx.text(x, value, count(value, language), ha="center", va="bottom", fontsize=8.5)
        gx.set_xticks([0, 1], [report_word("at_baseline_mix", language), report_word("actual", language)], fontsize=9)
        gx.set_ylim(0, max(values) * 1.18)
        gx.yaxis.set_major_formatter(_count_axis(language))
        gx.set_ylabel(report_word("axis_cost_period", language))
        verdict = report_word("gain_saved" if gain.gain >= 0 else "gain_extra", language,
                              amount=money(abs(gain.gain), language))
        gx.set_title(textwrap.fill(verdict, 30), loc="left", fontsize=10)  # a third of the width: two lines
        _open_frame(gx)
    return _save(figure, path)


@dataclass(frozen=True)
class TargetPoint:
    """One target on a common percent axis (an index of 0.85 is 85 % of its baseline)."""

    label: str
    start: float | None
    target: float
    value: float
    on_track: bool | None


def targets(points: Sequence[TargetPoint], path: Path, title: str, language: Language = "da") -> Path:
    """Per target: where it started (hollow), what the trajectory asks for today (black bar),
    and the measured value (green on track, red off track)."""
    figure = _figure(max(2.6, 0.65 * len(points) + 1.6))
    ax = figure.add_subplot()
    for i, point in enumerate(points):
        colour = "#009E73" if point.on_track else "#D55E00" if point.on_track is False else "#666666"
        if point.start is not None:
            ax.plot([point.start, point.value], [i, i], color="#999999", linewidth=1.5, zorder=1)
            ax.plot(point.start, i, marker="o", markersize=8, markerfacecolor="white", markeredgecolor="#666666",
                    linestyle="none", zorder=2)
        ax.plot(point.target, i, marker="|", markersize=22, markeredgewidth=2.5, color="black", linestyle="none",
                zorder=3)
        ax.plot(point.value, i, marker="o", markersize=10, color=colour, linestyle="none", zorder=4)
        verdict = (report_word("on_track", language) if point.on_track else
                   report_word("off_track", language) if point.on_track is False else "")
        ax.annotate(f"{percent(point.value, language)} {verdict}".strip(), (point.value, i), xytext=(0, 9),
                    textcoords="offset points",
                    ha="center", fontsize=8.5, color=colour)
    values = [v for p in points for v in (p.start, p.target, p.value) if v is not None]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, 0.03)
    ax.set_xlim(max(0.0, low - pad), high + pad)
    ax.set_ylim(len(points) - 0.4, -0.8)
    ax.set_yticks(range(len(points)), [p.label for p in points], fontsize=9)
    ax.xaxis.set_major_formatter(_percent_axis(language))
    ax.set_xlabel(report_word("axis_targets", language))
    ax.grid(axis="x", **_GRID)
    ax.set_axisbelow(True)
    ax.plot([], [], marker="o", markerfacecolor="white", markeredgecolor="#666666", linestyle="none",
            label=report_word("legend_start", language))
    ax.plot([], [], marker="|", markersize=12, markeredgewidth=2.5, color="black", linestyle="none",
            label=report_word("legend_target_today", language))
    ax.plot([], [], marker="o", color="#009E73", linestyle="none", label=report_word("legend_on_track", language))
    ax.plot([], [], marker="o", color="#D55E00", linestyle="none", label=report_word("legend_off_track", language))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _title(ax, title)
    _open_frame(ax)
    return _save(figure, path)


def demand_heatmap(per_open_day: Sequence[Sequence[float]], opening: Sequence[Sequence[tuple[time, time]]],
                   channel: str, path: Path, title: str, language: Language = "da") -> Path:
    """Weekday x local hour: inquiries per open day of that weekday as colour (numbers in the
    cells), the channel's opening hours outlined, so demand outside them stands out.
    `per_open_day` and `opening` have 7 rows, Monday first; `per_open_day` has 24 columns."""
    shown = {h for h in range(24) if any(per_open_day[d][h] > 0 for d in range(7))}
    for intervals in opening:
        for opens, closes in intervals:
            shown.update(range(opens.hour, 24 if closes >= time(23, 59) else closes.hour + (closes.minute > 0)))
    first, last = max(0, min(shown) - 1), min(24, max(shown) + 2)  # an empty hour either side
    hours = list(range(first, last))
    colour = CHANNEL_COLOURS.get(channel, "#0072B2")
    cmap = LinearSegmentedColormap.from_list(channel, ["#ffffff", colour])
    figure = _figure(3.9, width=max(6.5, 0.55 * len(hours) + 2.8))
    ax = figure.add_subplot()
    data = [[per_open_day[d][h] for h in hours] for d in range(7)]
    peak = max(max(row) for row in data) or 1.0
    image = ax.imshow(data, cmap=cmap, vmin=0, vmax=peak, aspect="auto",
                      extent=(first, last, 6.5, -0.5), interpolation="nearest")
    for d in range(7):
        edges = []
        for opens, closes in opening[d]:
            start = opens.hour + opens.minute / 60
            end = 24.0 if closes >= time(23, 59) else closes.hour + closes.minute / 60
            edges += [start, end]
            ax.add_patch(Rectangle((start, d - 0.5), end - start, 1.0, fill=False, edgecolor="black", linewidth=2.2,
                                   zorder=3))
        for i, h in enumerate(hours):
            value = data[d][i]
            if value > 0:
                text = decimal(value, language, 0 if value >= 10 else 1)
                crossed = any(h < edge < h + 1 for edge in edges)  # half-hour opening: the outline runs through
                ax.text(h + 0.5, d, text, ha="center", va="center", fontsize=7.5, zorder=4,
                        color="white" if value > 0.6 * peak and not crossed else "black",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
                        if crossed else None)
    ax.set_yticks(range(7), [weekday_name(d, language).capitalize() for d in range(1, 8)])
    ax.set_xticks([*hours, last], [f"{h:02d}" for h in [*hours, last]], fontsize=8.5)
    ax.set_xlabel(report_word("axis_local_time", language))
    bar = figure.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    bar.set_label(report_word("axis_per_open_day", language), fontsize=9)
    bar.ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _: decimal(v, language, 0 if float(v).is_integer() else 1)))
    _title(ax, title)
    ax.plot([], [], color="black", linewidth=2.2, label=report_word("legend_opening_hours", language))
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.16), frameon=False, fontsize=8.5)
    return _save(figure, path)

"""A look at the boards without Grafana: each panel's SQL, expanded as a live board would send
it, run against the store and drawn to PNG with matplotlib, plus an index.html per run.

Drawing follows the panel's kind only roughly as Grafana would (lines for time series, bars,
a big number for stats, the first rows for tables, a grid for weekday x hour); the point is
that a reviewer sees what data each panel gets. Prometheus panels are listed, not drawn.
Figures use the Agg canvas directly, as pipeline/reports/charts.py does.
"""

from __future__ import annotations

import html
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from dashboards.boards import BOARDS, TZ, Board, Panel
from dashboards.macros import TimeRange
from dashboards.queries import Query, all_values, board_values, panel_sql
from pipeline.ground.messages import Language, channel_name, column_name, translate, weekday_name
from pipeline.reports.labels import CHANNEL_COLOURS
from pipeline.store.clickhouse import QueryResult

# Labels come from events and the mapping file: '$' in one is text, never maths notation
# (a label '$\foo{$' stopped the report).
matplotlib.rcParams["text.parse_math"] = False

LOCAL = ZoneInfo(TZ)
MAX_TABLE_ROWS = 15
ALL_AT_ALL = ("all template variables at All; each image is a panel's SQL, expanded as Grafana would send it, run "
              "against the store.")


@dataclass(frozen=True)
class RenderedPanel:
    board: Board
    panel: Panel
    png: Path | None
    rows: int
    sql: str


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=LOCAL)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _figure(panel: Panel) -> Figure:
    figure = Figure(figsize=(max(panel.width, 8) * 0.5, panel.height * 0.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _colour(name: str) -> str | None:
    return CHANNEL_COLOURS.get(name)


def _break_gaps(points: list[tuple[datetime, float]]) -> tuple[list[datetime], list[float]]:
    """No row for a bucket means nothing happened (counters closed at night): break the line
    there rather than draw a ramp across the night. A gap is over twice the usual step."""
    steps = sorted((b[0] - a[0]).total_seconds() for a, b in zip(points, points[1:]))
    usual = steps[len(steps) // 2] if steps else 0
    xs: list[datetime] = []
    ys: list[float] = []
    for previous, point in zip([None, *points], points):
        if previous is not None and usual and (point[0] - previous[0]).total_seconds() > 2 * usual:
            xs.append(previous[0] + (point[0] - previous[0]) / 2)
            ys.append(float("nan"))
        xs.append(point[0])
        ys.append(point[1])
    return xs, ys


def _name(value: str, language: Language) -> str:
    """A series or category as the board shows it: a channel by its name, a column by its heading."""
    return channel_name(value, language) if value in CHANNEL_COLOURS else column_name(value, language)


def _timeseries(figure: Figure, result: QueryResult, language: Language) -> None:
    axes = figure.add_subplot()
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    wide = len(result.columns) > 2 and all(not isinstance(r[1], str) for r in result.rows)
    for row in result.rows:
        when = _moment(row[0]).astimezone(LOCAL)
        if wide or len(row) == 2:
            for name, value in zip(result.columns[1:], row[1:]):
                series[name].append((when, _number(value)))
        else:  # long format: time, series name, value (the plugin turns it wide)
            series[str(row[1])].append((when, _number(row[2])))
    for name, points in sorted(series.items()):
        xs, ys = _break_gaps(sorted(points))
        axes.plot(xs, ys, label=_name(name, language), color=_colour(name), linewidth=1.2, marker="." if len(points) < 40 else None)
    locator = AutoDateLocator(tz=LOCAL)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=LOCAL))
    axes.grid(True, color="#dddddd")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _bar(figure: Figure, result: QueryResult, language: Language) -> None:
    axes = figure.add_subplot()
    codes = [str(r[0]) for r in result.rows]
    labels = [_name(code, language) if code in CHANNEL_COLOURS else code for code in codes]
    names = result.columns[1:]
    if len(names) == 1 and len(labels) > 6:  # many places or tasks: horizontal, so every label is readable
        values = [_number(r[1]) for r in result.rows]
        axes.barh(range(len(labels)), values, color=[_colour(code) or "C0" for code in codes])
        axes.horizontal_bars = True  # type: ignore[attr-defined]  # the values are on the x axis
        axes.set_yticks(range(len(labels)), labels, fontsize=7)
        axes.invert_yaxis()
        axes.grid(True, axis="x", color="#dddddd")
        axes.set_xlabel(column_name(names[0], language))
        return
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        positions = [k - 0.4 + width * (i + 0.5) for k in range(len(labels))]
        values = [_number(r[i + 1]) for r in result.rows]
        colours = [_colour(code) or _colour(name) or f"C{i}" for code in codes] if len(names) == 1 else (
            _colour(name) or f"C{i}")
        axes.bar(positions, values, width=width, label=_name(name, language), color=colours)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    axes.grid(True, axis="y", color="#dddddd")
    axes.axhline(0, color="#444444", linewidth=0.8)
    if len(names) > 1:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _stat(figure: Figure, result: QueryResult, language: Language) -> None:
    from pipeline.measures.kpi_output import number

    row = result.rows[0]
    for i, (name, value) in enumerate(zip(result.columns, row)):
        x = (i + 0.5) / len(row)
        figure.text(x, 0.55, number(_number(value), language), ha="center", va="center", fontsize=22, weight="bold")
        figure.text(x, 0.25, column_name(name, language), ha="center", va="center", fontsize=9, color="#555555")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def _table(figure: Figure, result: QueryResult, language: Language) -> None:
    axes = figure.add_subplot()
    axes.axis("off")
    rows = [[channel_name(v, language) if c == "channel" else _cell(v) for c, v in zip(result.columns, r)]
            for r in result.rows[:MAX_TABLE_ROWS]]
    table = axes.table(cellText=rows, colLabels=[column_name(c, language) for c in result.columns], loc="upper center")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    if len(result.rows) > MAX_TABLE_ROWS:
        axes.set_title(translate("first {shown} of {rows} rows", language).format(shown=MAX_TABLE_ROWS,
                                                                                  rows=len(result.rows)), fontsize=8)


def _heatmap(figure: Figure, result: QueryResult, language: Language) -> None:
    """weekday, hour, value, open minutes: colour is demand, a dot marks open hours."""
    axes = figure.add_subplot()
    grid = [[0.0] * 24 for _ in range(7)]
    open_cells = []
    for weekday, hour, value, open_minutes, *_ in result.rows:
        grid[int(weekday) - 1][int(hour)] = _number(value)
        if _number(open_minutes) > 0:
            open_cells.append((int(hour), int(weekday) - 1))
    image = axes.imshow(grid, aspect="auto", cmap="Oranges")
    axes.scatter([c[0] for c in open_cells], [c[1] for c in open_cells], s=6, color="#0072B2",
                 label=translate("open", language))
    axes.set_yticks(range(7), [weekday_name(day, language) for day in range(1, 8)])
    axes.set_xticks(range(0, 24, 2))
    axes.set_xlabel(translate("local hour", language))
    figure.colorbar(image, ax=axes, label=column_name(result.columns[2], language))
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.25, 1.0))


DRAW = {"timeseries": _timeseries, "bar": _bar, "stat": _stat, "table": _table, "heatmap": _heatmap}


def render_panel(panel: Panel, result: QueryResult, path: Path, language: Language = "da") -> None:
    """The panel as a PNG; with no rows, the words Grafana shows instead (its noValue)."""
    figure = _figure(panel)
    figure.suptitle(translate(panel.title, language), fontsize=10, x=0.01, ha="left")
    if result.rows:
        DRAW[panel.kind](figure, result, language)
        if panel.unit == "percentunit":  # as Grafana shows it: 6 %, not 0.06
            for axes in figure.axes[:1]:
                value_axis = axes.xaxis if getattr(axes, "horizontal_bars", False) else axes.yaxis
                value_axis.set_major_formatter(PercentFormatter(1.0, decimals=None if language == "en" else 0))
    else:
        figure.text(0.5, 0.5, textwrap.fill(translate(panel.no_value, language), 70), ha="center", va="center",
                    fontsize=10, color="#555555")
    figure.savefig(path)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60]


def render_preview(query: Query, out: Path, time_range: TimeRange,
                   dimensions: dict[str, Sequence[str]] | None = None, language: Language = "da") -> list[RenderedPanel]:
    """Draw every ClickHouse panel of every board to out/<board>/<nn>-<title>.png; write out/index.html."""
    out.mkdir(parents=True, exist_ok=True)
    dimensions = dimensions if dimensions is not None else all_values(query)
    rendered: list[RenderedPanel] = []
    for board in BOARDS:
        values = board_values(board, dimensions)
        (out / board.uid).mkdir(exist_ok=True)
        for number, panel in enumerate(board.panels, 1):
            if panel.is_prometheus:
                rendered.append(RenderedPanel(board, panel, None, 0, panel.promql))
                continue
            sql = panel_sql(panel, time_range, values)
            result = query(sql)
            path = out / board.uid / f"{number:02d}-{_slug(panel.title)}.png"
            render_panel(panel, result, path, language)
            rendered.append(RenderedPanel(board, panel, path, len(result.rows), sql))
    _write_index(out, rendered, time_range, language)
    return rendered


def _write_index(out: Path, rendered: list[RenderedPanel], time_range: TimeRange, language: Language) -> None:
    def say(text: str) -> str:
        return html.escape(translate(text, language))

    span = (f"{time_range.start.astimezone(LOCAL):%Y-%m-%d %H:%M} – "
            f"{time_range.end.astimezone(LOCAL):%Y-%m-%d %H:%M} ({TZ})")
    parts = [f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'>"
             f"<title>{say('kanalpuls boards preview')}</title>",
             "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%;border:1px solid #ddd}"
             "figure{display:inline-block;vertical-align:top;margin:0 1em 1em 0;max-width:48%}"
             "details{font-size:80%}</style></head><body>",
             f"<h1>{say('kanalpuls boards preview')}</h1><p>{say('Time range')} {html.escape(span)}; "
             f"{say(ALL_AT_ALL)}</p>"]
    board = None
    for item in rendered:
        if item.board is not board:
            board = item.board
            parts.append(f"<h2>{say(board.title)}</h2>")
        title = say(item.panel.title)
        if item.png is None:
            parts.append(f"<figure><figcaption>{title}: {say('from Prometheus, not drawn here')} "
                         f"(<code>{html.escape(item.sql)}</code>)</figcaption></figure>")
            continue
        src = item.png.relative_to(out).as_posix()
        parts.append(f"<figure><img src='{html.escape(src)}' alt='{title}'>"
                     f"<figcaption>{title}: {item.rows} {say('rows')}</figcaption>"
                     f"<details><summary>SQL</summary><pre>{html.escape(item.sql)}</pre></details></figure>")
    parts.append("</body></html>\n")
    (out / "index.html").write_text("\n".join(parts), encoding="utf-8")

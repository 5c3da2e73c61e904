"""Panel SQL as the server receives it: Grafana's template variables, then the ClickHouse
plugin's macros, expanded here the way Grafana and grafana-clickhouse-datasource do, so the
tests and the preview run exactly what a live board would.

Macro expansions follow the plugin's pkg/macros/macros.go (grafana/clickhouse-datasource):
    $__timeFilter(c)   c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)
    $__dateFilter(c)   c >= toDate('<from UTC date>') AND c <= toDate('<to UTC date>')
    $__fromTime        toDateTime(<from s>)          $__toTime   toDateTime(<to s>)
    $__timeInterval(c) toStartOfInterval(toDateTime(c), INTERVAL <interval s, at least 1> second)
    $__interval_s      <interval s, at least 1>
Template variables: `${name:singlequote}` is each value in single quotes (Grafana escapes a
quote inside as \\'), joined by commas; `$name` / `${name}` is the value
itself. "All" without a custom all value is every option, as Grafana expands it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.ground.errors import TerminalError


class MacroError(TerminalError):
    """Panel SQL uses a macro or variable this expansion does not know; the message names it."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise MacroError("time range bounds must carry a time zone")


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _datetime(moment: datetime) -> str:
    return f"toDateTime({_seconds(moment)})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment.astimezone(UTC):%Y-%m-%d}')"


_FUNCTION = re.compile(r"\$__(timeFilter|dateFilter|timeInterval)\(([^()]*)\)")
_PLAIN = re.compile(r"\$__(fromTime|toTime|interval_s)\b")
_LEFT = re.compile(r"\$__\w+")


def expand_macros(sql: str, time_range: TimeRange) -> str:
    interval = max(time_range.interval_seconds, 1)

    def function(match: re.Match[str]) -> str:
        name, column = match.group(1), match.group(2).strip()
        if name == "timeFilter":
            return f"{column} >= {_datetime(time_range.start)} AND {column} <= {_datetime(time_range.end)}"
        if name == "dateFilter":
            return f"{column} >= {_date(time_range.start)} AND {column} <= {_date(time_range.end)}"
        return f"toStartOfInterval(toDateTime({column}), INTERVAL {interval} second)"

    def plain(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "fromTime":
            return _datetime(time_range.start)
        if name == "toTime":
            return _datetime(time_range.end)
        return str(interval)

    out = _PLAIN.sub(plain, _FUNCTION.sub(function, sql))
    left = _LEFT.search(out)
    if left:
        raise MacroError(f"macro {left.group(0)} is not expanded here: add it to dashboards/macros.py")
    return out


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def variables_used(sql: str) -> set[str]:
    return {m.group(1) or m.group(3) for m in _VARIABLE.finditer(sql)
            if not (m.group(3) or "").startswith("__")}


def expand_variables(sql: str, values: Mapping[str, Sequence[str]]) -> str:
    """Replace template variables by their chosen values (a list: several for multi-value/All)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name.startswith("__"):
            return match.group(0)  # a plugin macro, expanded afterwards
        if name not in values:
            raise MacroError(f"template variable ${name} has no value")
        chosen = list(values[name])
        if match.group(2) == "singlequote":
            return ",".join(_quote(v) for v in chosen)
        if match.group(2) not in (None, "raw"):
            raise MacroError(f"format :{match.group(2)} of ${name} is not expanded here")
        return ",".join(chosen)

    return _VARIABLE.sub(replace, sql)


def expand(sql: str, time_range: TimeRange, values: Mapping[str, Sequence[str]]) -> str:
    """Grafana interpolates template variables first, then the plugin expands its macros."""
    return expand_macros(expand_variables(sql, values), time_range)

"""Macro and template-variable expansion, pinned to the ClickHouse plugin's own expansions
(grafana/clickhouse-datasource pkg/macros/macros.go) and Grafana's :singlequote format."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboards.macros import MacroError, TimeRange, expand, expand_macros, expand_variables, variables_used

# The plugin's documented example: from 1415792726, to 1447328726
RANGE = TimeRange(datetime.fromtimestamp(1415792726, UTC), datetime.fromtimestamp(1447328726, UTC), 20)


def test_time_filter_compares_the_column_with_unix_seconds_inclusive_at_both_ends() -> None:
    assert expand_macros("WHERE $__timeFilter(time)", RANGE) == \
        "WHERE time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)"


def test_date_filter_uses_the_utc_dates_of_the_range() -> None:
    assert expand_macros("$__dateFilter(day)", RANGE) == \
        "day >= toDate('2014-11-12') AND day <= toDate('2015-11-12')"


def test_from_and_to_time_interval_and_interval_seconds() -> None:
    assert expand_macros("$__fromTime $__toTime $__interval_s $__timeInterval(minute)", RANGE) == (
        "toDateTime(1415792726) toDateTime(1447328726) 20 "
        "toStartOfInterval(toDateTime(minute), INTERVAL 20 second)")


def test_interval_below_one_second_counts_as_one_second() -> None:
    short = TimeRange(RANGE.start, RANGE.end, 0)
    assert expand_macros("$__interval_s", short) == "1"


def test_a_macro_not_implemented_here_is_an_error_not_left_in_the_sql() -> None:
    with pytest.raises(MacroError, match=r"\$__timeFilter_ms"):
        expand_macros("$__timeFilter_ms(t)", RANGE)


def test_singlequote_joins_every_chosen_value_and_escapes_quotes() -> None:
    sql = "site IN (${site:singlequote}) AND x = $n AND y = ${n}"
    assert expand_variables(sql, {"site": ["Rådhuset", "O'Brien"], "n": ["20"]}) == \
        "site IN ('Rådhuset','O\\'Brien') AND x = 20 AND y = 20"
    assert variables_used(sql + " $__timeFilter(t)") == {"site", "n"}


def test_an_undefined_variable_is_an_error() -> None:
    with pytest.raises(MacroError, match=r"\$channel"):
        expand("channel IN (${channel:singlequote})", RANGE, {})

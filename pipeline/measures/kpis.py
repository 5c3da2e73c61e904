"""The channel-strategy KPIs, as the parameterised views in deploy/clickhouse/1xx_kpi_*.sql
define them, called with typed arguments: what `kanalpuls kpi`, the reports and the tests use.

The SQL is the definition (an analyst reads and reuses it in ClickHouse); this module only
names the views, quotes their parameters and resolves named baselines from the steering
file, so the numbers in a report are the numbers an analyst gets from the same view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone

from pipeline.ground.errors import TerminalError
from pipeline.ground.steering import Steering
from pipeline.store.clickhouse import QueryResult, sql_string

Query = Callable[[str], QueryResult]


class KpiError(TerminalError):
    """A KPI cannot be computed as asked; the message says which argument to fix."""


@dataclass(frozen=True)
class Kpi:
    view: str
    summary: str
    parameters: tuple[str, ...] = ("from_day", "to_day")


KPIS: dict[str, Kpi] = {kpi.view.removeprefix("kpi_"): kpi for kpi in (  # komhen_week keeps its name
    Kpi("kpi_volume", "inbound inquiries per day, channel, task, department and site"),
    Kpi("kpi_web_views", "task-page views per day and task (the 'found it online' signal)"),
    Kpi("kpi_channel_share", "channel share per task and overall ('*')"),
    Kpi("kpi_self_service_rate", "self-service rate per task and overall ('*')"),
    Kpi("kpi_channel_shift", "channel share minus the baseline's, per task and overall",
        ("from_day", "to_day", "base_from", "base_to", "baseline_name")),
    Kpi("kpi_cost", "inquiries x unit price per channel, and the total ('*')"),
    Kpi("kpi_realised_gain", "per task: cost at the baseline's channel mix minus cost at this period's",
        ("from_day", "to_day", "base_from", "base_to", "baseline_name")),
    Kpi("kpi_first_contact_resolution", "resolved at first contact / registered or inferred, per channel and "
        "department, with the registered, inferred, pending and unknown shares",
        ("from_day", "to_day", "within_days")),
    Kpi("kpi_repeat_contacts", "inquiries by a requester with an earlier one on the same task within N days",
        ("from_day", "to_day", "within_days")),
    Kpi("kpi_web_first", "share of phone and walk-in inquiries that had been on the website first"),
    Kpi("kpi_phone", "service level, abandonment, speed of answer, handle time per day and queue",
        ("from_day", "to_day", "sl_seconds")),
    Kpi("kpi_waiting", "calls per queue and tickets per site waiting at a moment", ("at",)),
    Kpi("kpi_walk_in", "tickets, served, transferred, no-shows, wait per day and site"),
    Kpi("kpi_demand", "inquiries by weekday x hour against opening hours, for one channel",
        ("from_day", "to_day", "channel_name")),
    Kpi("kpi_unclassified", "share of arrivals no mapping rule classified, per channel"),
    Kpi("komhen_week", "KOMHEN counting table: task x channel x direction with registration parameters",
        ("from_day", "to_day", "within_days")),
)}


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"toDateTime('{value.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}', 'UTC')"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise KpiError(f"unsupported parameter value {value!r}")
    if isinstance(value, int):
        return str(value)
    return sql_string(value)


def kpi_sql(database: str, name: str, **arguments: object) -> str:
    """The SELECT an analyst would write for this KPI and these arguments."""
    if name not in KPIS:
        raise KpiError(f"unknown KPI '{name}': choose one of {', '.join(KPIS)}")
    kpi = KPIS[name]
    missing = [p for p in kpi.parameters if p not in arguments]
    extra = [a for a in arguments if a not in kpi.parameters]
    if missing or extra:
        raise KpiError(f"{name} takes {', '.join(kpi.parameters)}"
                       + (f"; missing {', '.join(missing)}" if missing else "")
                       + (f"; unknown {', '.join(extra)}" if extra else ""))
    if "from_day" in arguments and arguments["from_day"] > arguments["to_day"]:  # type: ignore[operator]
        raise KpiError(f"{name}: from_day {arguments['from_day']} is after to_day {arguments['to_day']}")
    args = ", ".join(f"{p} = {_literal(arguments[p])}" for p in kpi.parameters)
    return f"SELECT * FROM {database}.{kpi.view}({args})"


def run_kpi(query: Query, database: str, name: str, **arguments: object) -> QueryResult:
    return query(kpi_sql(database, name, **arguments))


def baseline_arguments(steering: Steering, query: Query, database: str, baseline: str, from_day: date,
                       to_day: date) -> dict[str, object]:
    """base_from, base_to and baseline_name for a named baseline (of the steering file, or
    imported), for the period looked at."""
    from pipeline.measures.baselines import resolve_baseline

    return resolve_baseline(steering, query, database, baseline, from_day, to_day).arguments()


def known_values(query: Query, database: str, column: str, value: str, language: str = "da") -> None:
    """KpiError naming the known values when `value` is no channel, task, site or queue the
    store has seen: a typo must not print a table of zeros that reads like a real answer."""
    from typing import get_args

    from pipeline.ground.messages import column_name, word
    from pipeline.ground.steering import Channel

    if column == "channel":
        known = sorted(get_args(Channel))
    else:
        if len(value) <= 200 and query(f"SELECT count() > 0 FROM {database}.inquiry_hour WHERE {column} = "
                                       f"{sql_string(value)}").scalar():
            return  # looked up itself, not among a first thousand
        known = [str(v) for (v,) in query(f"SELECT DISTINCT {column} FROM {database}.inquiry_hour "
                                          f"WHERE {column} != '' ORDER BY {column} LIMIT 41").rows]
    if value in known:
        return
    if column == "channel":  # the codes with the names a user may type instead
        from pipeline.ground.messages import channel_name

        known = [f"{code} ({channel_name(code, language)})" for code in known]  # type: ignore[arg-type]
    shown = ", ".join(known[:40]) + (" …" if len(known) > 40 else "") if known else "–"
    raise KpiError(word("unknown_value", language, what=column_name(column, language), value=value[:60],  # type: ignore[arg-type]
                        known=shown))

"""How the reports write the pipeline's codes, numbers and dates for a reader, in one place:
Danish for the KOMHEN hand-in (KL's form is Danish), Danish or English for the strategy
report, with the words from pipeline/ground/messages.py. The strategy page and its charts write a
share or an amount through the same functions here, so a number reads the same in the text
as on the chart. Codes stay in every machine-readable column.
"""

from __future__ import annotations

import textwrap
from datetime import date

from pipeline.ground.messages import CHANNELS, DIRECTION_NAMES, Language, month_name, report_word, word
from pipeline.measures.kpi_output import number

DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")

DIRECTION_DA = {code: names[0].capitalize() for code, names in DIRECTION_NAMES.items()}  # KOMHEN's headings
REQUESTER_TYPES: tuple[str, ...] = ("citizen", "business", "association", "authority", "unknown")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
UNCLASSIFIED = "unclassified"

# Colour per channel (Okabe-Ito, safe for colour-blind readers): warm for the expensive
# personal channels, cool for the digital ones, grey for paper.
CHANNEL_COLOURS = {
    "walk_in": "#D55E00",
    "phone": "#E69F00",
    "email": "#CC79A7",
    "letter": "#999999",
    "digital_post": "#0072B2",
    "self_service": "#009E73",
    "chat": "#56B4E9",
}


def channel_order(channel: str) -> int:
    """Sort key: KOMHEN's order, anything unknown after it."""
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def task_order(task: str) -> tuple[int, str]:
    """Sort key: KLE codes in order, `unclassified` last."""
    return (1 if task == UNCLASSIFIED else 0, task)


def task_title(task: str, label: str, width: int = 30, language: Language = "da") -> str:
    """'85.06.00 Pas' for a chart axis, wrapped onto lines of at most `width` characters so
    long KLE labels neither overlap nor squeeze the plot; 'Uklassificeret' for unmapped events."""
    if task == UNCLASSIFIED:
        return report_word("unclassified", language)
    if task == "*":
        return report_word("all_tasks", language)
    return textwrap.fill(f"{task} {label}".strip(), width=width, break_long_words=True)


def count(value: float, language: Language) -> str:
    """A count or an amount in whole units: '1.234' (da), '1,234' (en)."""
    return number(value, language)


def decimal(value: float, language: Language, decimals: int) -> str:
    return number(value, language, decimals)


def percent(share: float, language: Language, decimals: int = 1) -> str:
    """0.123 -> '12,3 %' (da), '12.3%' (en)."""
    return report_word("percent", language, value=number(share * 100, language, decimals))


def signed(value: float, language: Language, decimals: int = 1) -> str:
    """A change, always signed: '+1,2', '-0,5'. Rounded before the sign is chosen, so a tiny
    loss reads '+0,0', never '-0,0'."""
    value = round(value, decimals) + 0.0
    return ("+" if value >= 0 else "-") + number(abs(value), language, decimals)


def points(share: float, language: Language, decimals: int = 1) -> str:
    """A change of a share in percentage points: 0.012 -> '+1,2 pp'."""
    return word("points", language, value=signed(share * 100, language, decimals))


def money(amount: float, language: Language) -> str:
    """'1.234 kr.' (da), 'DKK 1,234' (en)."""
    return word("money", language, amount=number(amount, language))


def price(amount: float, language: Language) -> str:
    """A unit price as the steering file gives it: whole kroner whole, øre where there are some."""
    return number(amount, language, 0 if float(amount).is_integer() else 2)


def day_month(day: date, language: Language) -> str:
    """'2. mar.' (da), '2 Mar' (en)."""
    return report_word("day_month", language, day=day.day, month=month_name(day.month, language))


def long_day(day: date, language: Language) -> str:
    """'2. mar. 2025' (da), '2 Mar 2025' (en): no locale needed, unlike strftime's %b."""
    return report_word("day", language, day=day.day, month=month_name(day.month, language), year=day.year)


def period(first: date, last: date, language: Language) -> str:
    return f"{long_day(first, language)} – {long_day(last, language)}"


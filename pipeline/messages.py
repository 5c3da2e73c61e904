"""Every word a user reads, in Danish and English, in one place.

Borgerservice managers and frontline staff read Danish; the language setting
(KANALPULS_LANGUAGE=en) switches to English. Codes (channel, task, column names in CSV and
JSON, SQL) stay as they are: data teams and integrations read those. A new word for users
goes here, in both languages, never as a literal in the module that shows it.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["da", "en"]

CHANNEL_NAMES: dict[str, tuple[str, str]] = {
    "walk_in": ("Personligt fremmøde", "Walk-in"),
    "phone": ("Telefon", "Phone"),
    "email": ("E-mail", "E-mail"),
    "letter": ("Papirpost", "Letter"),
    "digital_post": ("Digital Post", "Digital Post"),
    "self_service": ("Digital selvbetjening", "Self-service"),
    "chat": ("Chat", "Chat"),
    "web": ("Hjemmeside", "Website"),
    "*": ("Alle kanaler", "All channels"),
}

# Column names of the KPI views as table headings.
COLUMNS: dict[str, tuple[str, str]] = {
    "day": ("dag", "day"),
    "municipality": ("kommune", "municipality"),
    "channel": ("kanal", "channel"),
    "task": ("opgave", "task"),
    "task_label": ("opgavenavn", "task label"),
    "department": ("afdeling", "department"),
    "site": ("sted", "site"),
    "queue": ("kø", "queue"),
    "place": ("kø/sted", "queue/site"),
    "inquiries": ("henvendelser", "inquiries"),
    "page_views": ("sidevisninger", "page views"),
    "all_channels": ("alle kanaler", "all channels"),
    "share": ("andel", "share"),
    "self_service": ("selvbetjening", "self-service"),
    "rate": ("grad", "rate"),
    "baseline_inquiries": ("henvendelser i basis", "baseline inquiries"),
    "baseline_share": ("andel i basis", "baseline share"),
    "shift": ("kanalskift", "shift"),
    "price_dkk": ("enhedspris", "unit price"),
    "cost_dkk": ("omkostning", "cost"),
    "has_baseline_mix": ("basismix", "baseline mix"),
    "inquiries_at_baseline_mix": ("henvendelser ved basismix", "inquiries at baseline mix"),
    "cost_at_baseline_mix_dkk": ("omkostning ved basismix", "cost at baseline mix"),
    "gain_dkk": ("gevinst", "gain"),
    "uncompared_inquiries": ("uden basismix", "without baseline mix"),
    "known": ("kendt", "known"),
    "served": ("betjent", "served"),
    "registered": ("registreret", "registered"),
    "registered_resolved": ("registreret afklaret", "registered resolved"),
    "inferred": ("udledt", "inferred"),
    "inferred_resolved": ("udledt afklaret", "inferred resolved"),
    "pending": ("afventer", "pending"),
    "unknown": ("ukendt", "unknown"),
    "registered_share": ("andel registreret", "registered share"),
    "inferred_share": ("andel udledt", "inferred share"),
    "pending_share": ("andel afventer", "pending share"),
    "unknown_share": ("andel ukendt", "unknown share"),
    "resolved": ("straksafklaret", "resolved first contact"),
    "inquiries_with_key": ("med nøgle", "with key"),
    "repeats": ("gentagne", "repeats"),
    "web_first": ("hjemmeside først", "web first"),
    "offered": ("tilbudt", "offered"),
    "answered": ("besvaret", "answered"),
    "abandoned": ("opgivet", "abandoned"),
    "transferred": ("viderestillet", "transferred"),
    "service_level": ("serviceniveau", "service level"),
    "abandonment_rate": ("opgivelsesrate", "abandonment rate"),
    "average_speed_of_answer": ("gns. ventetid", "avg. speed of answer"),
    "average_handle_time": ("gns. samtaletid", "avg. handle time"),
    "waiting": ("venter", "waiting"),
    "tickets": ("numre", "tickets"),
    "served": ("betjent", "served"),
    "no_shows": ("udeblevet", "no-shows"),
    "average_wait_seconds": ("gns. ventetid", "avg. wait"),
    "weekday": ("ugedag", "weekday"),
    "hour": ("time", "hour"),
    "open_days": ("åbne dage", "open days"),
    "per_open_day": ("pr. åben dag", "per open day"),
    "open_minutes": ("åbne minutter", "open minutes"),
    "arrivals": ("ankomster", "arrivals"),
    "unclassified": ("uklassificeret", "unclassified"),
    "direction": ("retning", "direction"),
    "resolution_known": ("afklaring kendt", "resolution known"),
    "web_first_known": ("hjemmeside først kendt", "web first known"),
    "requesters_citizen": ("borgere", "citizens"),
    "requesters_business": ("virksomheder", "businesses"),
    "requesters_association": ("foreninger", "associations"),
    "requesters_authority": ("myndigheder", "authorities"),
    "requesters_unknown": ("ukendt henvender", "unknown requester"),
}

# A column whose meaning depends on the KPI: 'andel' alone would not say of what.
KPI_COLUMNS: dict[tuple[str, str], tuple[str, str]] = {
    ("first_contact_resolution", "rate"): ("straksafklaringsgrad", "first-contact resolution"),
    ("self_service_rate", "rate"): ("selvbetjeningsgrad", "self-service rate"),
    ("channel_share", "share"): ("kanalandel", "channel share"),
    ("channel_shift", "share"): ("kanalandel nu", "share now"),
    ("repeat_contacts", "share"): ("andel gentagne", "repeat share"),
    ("web_first", "share"): ("andel hjemmeside først", "web-first share"),
    ("unclassified", "share"): ("andel uklassificeret", "unclassified share"),
}

WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("man", "Mon"), ("tir", "Tue"), ("ons", "Wed"), ("tor", "Thu"), ("fre", "Fri"), ("lør", "Sat"), ("søn", "Sun"))

PHRASES: dict[str, tuple[str, str]] = {
    "all": ("alle", "all"),
    "yes": ("ja", "yes"),
    "no": ("nej", "no"),
    "none": ("–", "–"),
    "no_rows": ("ingen henvendelser i {period}", "no inquiries in {period}"),
    "nobody_waiting": ("ingen venter {at}", "nobody waiting at {at}"),
    "money": ("{amount} kr.", "DKK {amount}"),
    "points": ("{value} pp", "{value} pp"),
    "unknown_value": ("ukendt {what} '{value}': kendte er {known}", "unknown {what} '{value}': known are {known}"),
    "no_column": ("{kpi} har ingen {what}", "{kpi} has no {what}"),
}


def word(key: str, language: Language, **values: object) -> str:
    """The phrase `key` in `language`, with its {placeholders} filled in."""
    da, en = PHRASES[key]
    return (da if language == "da" else en).format(**values)


def column_name(column: str, language: Language, kpi: str = "") -> str:
    names = KPI_COLUMNS.get((kpi, column)) or COLUMNS.get(column)
    return column if names is None else names[0 if language == "da" else 1]


def channel_name(channel: str, language: Language) -> str:
    names = CHANNEL_NAMES.get(channel)
    return channel if names is None else names[0 if language == "da" else 1]


def channel_code(text: str) -> str | None:
    """The channel a user typed, as its code or its name in either language ('telefon',
    'Personligt fremmøde'), case and spacing aside; None when it is no channel."""
    wanted = " ".join(text.casefold().split())
    for code, names in CHANNEL_NAMES.items():
        if code != "*" and wanted in (code, *(" ".join(name.casefold().split()) for name in names)):
            return code
    return None


def weekday_name(weekday: int, language: Language) -> str:
    """1 = Monday, as ClickHouse's toDayOfWeek."""
    return WEEKDAYS[weekday - 1][0 if language == "da" else 1]


# The KPIs `kanalpuls kpi` computes (pipeline/kpis.py KPIS has the same names), as titles.
KPI_TITLES: dict[str, tuple[str, str]] = {
    "volume": ("Henvendelser pr. dag, kanal, opgave, afdeling og sted",
               "Inbound inquiries per day, channel, task, department and site"),
    "web_views": ("Visninger af opgavesider pr. dag og opgave (fandt det på hjemmesiden)",
                  "Task-page views per day and task (the 'found it online' signal)"),
    "channel_share": ("Kanalfordeling pr. opgave og i alt", "Channel share per task and overall"),
    "self_service_rate": ("Selvbetjeningsgrad pr. opgave og i alt", "Self-service rate per task and overall"),
    "channel_shift": ("Kanalskift: kanalandel nu minus i basis, pr. opgave og i alt",
                      "Channel shift: share now minus in the baseline, per task and overall"),
    "cost": ("Omkostning: henvendelser x enhedspris pr. kanal og i alt",
             "Cost: inquiries x unit price per channel, and the total"),
    "realised_gain": ("Realiseret gevinst pr. opgave: omkostning ved basis' kanalmix minus ved periodens",
                      "Realised gain per task: cost at the baseline's channel mix minus at this period's"),
    "first_contact_resolution": ("Straksafklaring pr. kanal og afdeling (tilbage inden for {days} dage = "
                                 "ikke afklaret)", "First-contact resolution per channel and department (back "
                                 "within {days} days = not resolved)"),
    "repeat_contacts": ("Gentagne henvendelser om samme opgave inden for {days} dage",
                        "Repeat contacts on the same task within {days} days"),
    "web_first": ("Andel af telefon og fremmøde, der var på hjemmesiden først",
                  "Share of phone and walk-in inquiries that were on the website first"),
    "phone": ("Telefonkøer: serviceniveau, opgivne, ventetid og samtaletid pr. dag og kø",
              "Phone queues: service level, abandonment, speed of answer, handle time per day and queue"),
    "waiting": ("Ventende lige nu pr. kø og sted", "Waiting now per queue and site"),
    "walk_in": ("Personligt fremmøde: numre, betjente, udeblevne og ventetid pr. dag og sted",
                "Walk-ins: tickets, served, no-shows and wait per day and site"),
    "demand": ("Efterspørgsel pr. ugedag og time mod åbningstid, for én kanal",
               "Demand by weekday x hour against opening hours, for one channel"),
    "unclassified": ("Andel uklassificerede henvendelser pr. kanal", "Share of unclassified arrivals per channel"),
    "komhen_week": ("KOMHEN-optælling: opgave x kanal x retning", "KOMHEN count: task x channel x direction"),
}


def kpi_title(name: str, language: Language, days: int | None = None) -> str:
    """The KPI's title; `days` fills in the look-back of the KPIs that have one."""
    return KPI_TITLES[name][0 if language == "da" else 1].replace("{days}", str(days) if days else "N")

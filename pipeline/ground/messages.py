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
    "resolution_pending": ("afklaring afventer", "resolution pending"),
    # columns of the boards' tables
    "peak_count": ("højeste antal", "peak count"),
    "expected": ("forventet", "expected"),
    "ratio": ("forhold", "ratio"),
    "fired_at": ("opstod", "fired at"),
    "today": ("i dag", "today"),
    "events": ("hændelser", "events"),
    "source_system": ("kildesystem", "source system"),
    "newest_event": ("nyeste hændelse", "newest event"),
    "age_seconds": ("alder (s)", "age (s)"),
    "name": ("navn", "name"),
    "description": ("beskrivelse", "description"),
    "value": ("værdi", "value"),
    "target": ("mål", "target"),
    "progress": ("fremdrift", "progress"),
    "on_track": ("på sporet", "on track"),
    "note": ("note", "note"),
    "window_from": ("vindue fra", "window from"),
    "window_to": ("vindue til", "window to"),
    "speed_of_answer": ("ventetid", "speed of answer"),
    "handle_time": ("samtaletid", "handle time"),
    "waiting_time": ("ventetid", "waiting time"),
    "unclassified_share": ("andel uklassificeret", "unclassified share"),
    "walk_in": ("personligt fremmøde", "walk-in"),
    "phone": ("telefon", "phone"),
    "email": ("e-mail", "e-mail"),
}

DIRECTION_NAMES: dict[str, tuple[str, str]] = {"inbound": ("indgående", "inbound"), "outbound": ("udgående", "outbound")}

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


def _in(names: tuple[str, str], language: Language) -> str:
    """The Danish or the English of a catalogue entry."""
    return names[0 if language == "da" else 1]


def word(key: str, language: Language, **values: object) -> str:
    """The phrase `key` in `language`, with its {placeholders} filled in."""
    return _in(PHRASES[key], language).format(**values)


def column_name(column: str, language: Language, kpi: str = "") -> str:
    names = KPI_COLUMNS.get((kpi, column)) or COLUMNS.get(column)
    return column if names is None else _in(names, language)


def channel_name(channel: str, language: Language) -> str:
    names = CHANNEL_NAMES.get(channel)
    return channel if names is None else _in(names, language)


def direction_name(direction: str, language: Language) -> str:
    names = DIRECTION_NAMES.get(direction)
    return direction if names is None else _in(names, language)


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
    return _in(WEEKDAYS[weekday - 1], language)


# The KPIs `kanalpuls kpi` computes (pipeline/measures/kpis.py KPIS has the same names), as titles.
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
    return _in(KPI_TITLES[name], language).replace("{days}", str(days) if days else "N")

# Board and panel texts (dashboards/boards.py, dashboards/preview.py), gettext's way: the
# English text in the code is the key, its Danish here. A test fails on a text without one.
TRANSLATIONS_DA: dict[str, str] = {
    # boards
    "Citizen service now": "Borgerservice nu",
    "Channel shift": "Kanalskift",
    "Phone": "Telefon",
    "Walk-in": "Personligt fremmøde",
    "Data quality": "Datakvalitet",
    "Service level (s)": "Serviceniveau (s)",
    # panels
    "Inquiries today per channel": "Henvendelser i dag pr. kanal",
    "Inbound inquiries since local midnight of the range's end.":
        "Indgående henvendelser siden midnat (lokal tid) på periodens sidste dag.",
    "Calls and tickets waiting now": "Ventende opkald og numre nu",
    "kpi_waiting at the range's end: arrived today, neither answered nor abandoned.":
        "kpi_waiting ved periodens slutning: kommet i dag, hverken besvaret eller opgivet.",
    "Walk-ins per site today against the seasonal expectation": "Personligt fremmøde pr. sted i dag mod det forventede",
    "Tickets issued today up to this hour, and the mean of the same weekdays of the previous four weeks up to the "
    "same hour (holidays left out).":
        "Numre trukket i dag til denne time, og gennemsnittet af samme ugedag de fire foregående uger til samme time "
        "(helligdage udeladt).",
    "Open walk-in spike alerts": "Åbne alarmer for spidsbelastning ved skranken",
    "Spikes the worker holds open (walk_in_alerts). A spike resolved in the same millisecond it fired (a replay "
    "catching up) is resolved.":
        "Spidsbelastninger, som workeren holder åbne (walk_in_alerts). En spidsbelastning afsluttet i samme "
        "millisekund, som den opstod (en genafspilning der indhenter), er afsluttet.",
    "No open alerts": "Ingen åbne alarmer",
    "No targets evaluated yet": "Ingen mål vurderet endnu",
    "Inquiries per channel": "Henvendelser pr. kanal",
    "Channel share over time": "Kanalfordeling over tid",
    "Share of inbound inquiries per channel, per local day.": "Andel af indgående henvendelser pr. kanal pr. dag.",
    "Shift against the previous four weeks per task (share points)":
        "Kanalskift mod de fire foregående uger pr. opgave (procentpoint)",
    "Self-service rate per task": "Selvbetjeningsgrad pr. opgave",
    "Cost and realised gain against the previous four weeks (DKK)":
        "Omkostning og realiseret gevinst mod de fire foregående uger (kr.)",
    "Cost per channel (DKK)": "Omkostning pr. kanal (kr.)",
    "Targets: on or off track": "Mål: på sporet eller ej",
    "deploy/steering.yaml targets as the worker last evaluated them (every 5 minutes): value over the target's "
    "window, the trajectory's mean over it, progress, on/off track; value empty when the window holds no data; "
    "note says why in words.":
        "Målene i deploy/steering.yaml, som workeren sidst vurderede dem (hvert 5. minut): værdi over målets vindue, "
        "målkurvens gennemsnit over det, fremdrift, på sporet eller ej; tom værdi, når vinduet ingen data har; "
        "noten siger hvorfor.",
    "Per queue over the range": "Pr. kø i perioden",
    "kpi_phone; '*' is all queues.": "kpi_phone; '*' er alle køer.",
    "Service level per queue and day": "Serviceniveau pr. kø og dag",
    "Abandonment rate per queue and day": "Opgivelsesrate pr. kø og dag",
    "Average speed of answer per queue (s)": "Gennemsnitlig ventetid pr. kø (s)",
    "Average handle time per queue (s)": "Gennemsnitlig samtaletid pr. kø (s)",
    "Per site over the range": "Pr. sted i perioden",
    "kpi_walk_in; '*' is all sites.": "kpi_walk_in; '*' er alle steder.",
    "Tickets issued per site": "Numre trukket pr. sted",
    "Average waiting time per site (s)": "Gennemsnitlig ventetid pr. sted (s)",
    "No-shows per site and day": "Udeblevne pr. sted og dag",
    "Walk-in demand by weekday x hour against opening hours": "Efterspørgsel ved skranken pr. ugedag og time mod åbningstid",
    "Inquiries per open day (colour) and the minutes of each hour the counters are open by their default hours "
    "(kpi_demand).":
        "Henvendelser pr. åben dag (farve) og de minutter af hver time, skrankerne har åbent efter deres normale "
        "åbningstid (kpi_demand).",
    "Unclassified share per channel": "Andel uklassificerede pr. kanal",
    "Arrivals no rule in deploy/mapping.yaml classified; a rise means a new queue, service, mailbox or page.":
        "Henvendelser, ingen regel i deploy/mapping.yaml har klassificeret; en stigning betyder en ny kø, tjeneste, "
        "postkasse eller side.",
    "Events per source system": "Hændelser pr. kildesystem",
    "From the raw events: no rollup carries the source system.":
        "Fra de rå hændelser: ingen opsummering har kildesystemet.",
    "Freshness: newest event age per source system": "Friskhed: alder af nyeste hændelse pr. kildesystem",
    "Age at the range's end of the newest event each source sent (sources silent for 30 days are not listed).":
        "Alderen ved periodens slutning af den nyeste hændelse fra hver kilde (kilder tavse i 30 dage vises ikke).",
    "Dead letters per connector (per minute)": "Afviste poster pr. connector (pr. minut)",
    "From Prometheus: records the connectors rejected onto inquiries.dlq.":
        "Fra Prometheus: poster, som connectorerne afviste til inquiries.dlq.",
    "Worker consumer lag (messages)": "Workerens efterslæb (beskeder)",
    "From Prometheus: messages on the inquiries topic the workers have not read yet.":
        "Fra Prometheus: beskeder på inquiries-emnet, som workerne ikke har læst endnu.",
    # what a panel shows when its query has no rows
    "No inquiries in this range": "Ingen henvendelser i perioden",
    "No comparison: the four weeks before the range hold no inquiries. Import a counting week (kanalpuls baseline "
    "import) and compare with kanalpuls kpi channel_shift --baseline NAME":
        "Ingen sammenligning: de fire uger før perioden har ingen henvendelser. Importér en tælleuge (kanalpuls "
        "baseline import) og sammenlign med kanalpuls kpi channel_shift --baseline NAVN",
    "No comparison: the four weeks before the range hold no inquiries. Import a counting week (kanalpuls baseline "
    "import) and compare with kanalpuls kpi realised_gain --baseline NAME":
        "Ingen sammenligning: de fire uger før perioden har ingen henvendelser. Importér en tælleuge (kanalpuls "
        "baseline import) og sammenlign med kanalpuls kpi realised_gain --baseline NAVN",
    # the preview
    "kanalpuls boards preview": "kanalpuls: forhåndsvisning af tavlerne",
    "rows": "rækker",
    "from Prometheus, not drawn here": "fra Prometheus, ikke tegnet her",
    "Time range": "Periode",
    "all template variables at All; each image is a panel's SQL, expanded as Grafana would send it, run against the "
    "store.": "alle filtre på Alle; hvert billede er et panels SQL, udfoldet som Grafana sender det, kørt mod lageret.",
    "local hour": "time (lokal tid)",
    "open": "åbent",
    "first {shown} of {rows} rows": "de første {shown} af {rows} rækker",
}


def translate(text: str, language: Language) -> str:
    """`text` (English, as the code writes it) in `language`."""
    return TRANSLATIONS_DA.get(text, text) if language == "da" else text
TRANSLATIONS_DA.update({
    # targets (pipeline/measures/targets.py notes, `kanalpuls targets`)
    "no data in the baseline {baseline}: import that count with `kanalpuls baseline import FILE --name NAME` and "
    "name it as the target's baseline":
        "ingen data i basis {baseline}: importér den optælling med `kanalpuls baseline import FIL --name NAVN` og "
        "angiv den som målets basis",
    "the baseline {baseline} cannot give this measure (a count has no departments, inquiry kinds or resolution; a "
    "mix has no volume): give start.value":
        "basis {baseline} kan ikke give dette mål (en optælling har ingen afdelinger, henvendelsestyper eller "
        "straksafklaring; en kanalfordeling har ingen mængde): angiv start.value",
    "the baseline {baseline} has no inquiries in this target's scope":
        "basis {baseline} har ingen henvendelser inden for målets afgrænsning",
    "no inquiries in its scope in the window {first} – {last}":
        "ingen henvendelser inden for afgrænsningen i vinduet {first} – {last}",
    "no targets in {file}": "ingen mål i {file}",
    "no data": "ingen data",
    "target": "mål",
    "window": "vindue",
    "value": "værdi",
    "target value": "målværdi",
    "progress": "fremdrift",
    "status": "status",
    "Targets on {day}": "Mål pr. {day}",
    "on track": "på sporet",
    "off track": "ikke på sporet",
    "no verdict": "ingen vurdering",
    # `kanalpuls report strategy`
    "wrote {path} with {charts} chart(s)": "skrev {path} med {charts} diagram(mer)",
    "; in words only (no data or nothing to compare): {sections}":
        "; kun i ord (ingen data eller intet at sammenligne med): {sections}",
    # `kanalpuls baseline list`
    "baseline": "basis",
    "kind": "slags",
    "what": "hvad",
    "fixed": "fast periode",
    "same_period_last_year": "samme periode sidste år",
    "rolling_weeks": "rullende uger",
    "channel_mix": "kanalfordeling",
    "imported": "importeret",
    "the same days a year earlier": "de samme dage et år tidligere",
    "the {weeks} weeks before the period": "de {weeks} uger før perioden",
    "shares for {tasks} task(s)": "andele for {tasks} opgave(r)",
    "{days} days, {tasks} tasks, {inquiries} inquiries, from {source}":
        "{days} dage, {tasks} opgaver, {inquiries} henvendelser, fra {source}",
})


# --------------------------------------------------------------------------- strategy report
# The channel-strategy report's words (pipeline/reports/strategy.py and charts.py): the page,
# its charts, and what it says where there is no data. Danish first, as its readers read it;
# {placeholders} take numbers and names already written in the same language.

MONTHS: tuple[tuple[str, str], ...] = (
    ("jan.", "Jan"), ("feb.", "Feb"), ("mar.", "Mar"), ("apr.", "Apr"), ("maj", "May"), ("jun.", "Jun"),
    ("jul.", "Jul"), ("aug.", "Aug"), ("sep.", "Sep"), ("okt.", "Oct"), ("nov.", "Nov"), ("dec.", "Dec"))

REPORT_PHRASES: dict[str, tuple[str, str]] = {
    # numbers, dates and names
    "percent": ("{value} %", "{value}%"),
    "day": ("{day}. {month} {year}", "{day} {month} {year}"),
    "day_month": ("{day}. {month}", "{day} {month}"),
    "days_of_month": ("{first}.–{last}. {month}", "{first}–{last} {month}"),
    "week": ("Uge {week}", "W{week}"),
    "days_held": ("({days} d.)", "({days} d)"),
    "bar_count": ("n = {n}", "n = {n}"),
    "all_tasks": ("Alle opgaver", "All tasks"),
    "unclassified": ("Uklassificeret", "Unclassified"),
    "nothing": ("ingen", "none"),
    "no_data": ("ingen data", "no data"),
    "index_value": ("{value} ({share} af basis)", "{value} ({share} of baseline)"),
    "baseline_period": ("basis '{name}' ({period})", "baseline '{name}' ({period})"),
    "baseline_source": ("basis '{name}' ({source})", "baseline '{name}' ({source})"),
    "no_baseline": ("ingen basis", "no baseline"),
    "on_track": ("på sporet", "on track"),
    "off_track": ("ikke på sporet", "off track"),
    "no_verdict": ("ingen vurdering", "no verdict"),
    # the page
    "report_title": ("Kanalstrategirapport", "Channel strategy report"),
    "page_title": ("Kanalstrategirapport {period}", "Channel strategy report {period}"),
    "meta": ("{period} (lokale dage); sammenlignet med {baseline}. Lavet af kanalpuls {at} UTC ud fra "
             "KPI-visningerne (deploy/clickhouse/1xx_kpi_*.sql).",
             "{period} (local days); compared with {baseline}. Made by kanalpuls on {at} UTC from the KPI views "
             "(deploy/clickhouse/1xx_kpi_*.sql)."),
    "no_inquiries": ("Der er ingen henvendelser gemt for {period}, så der er intet at vise.",
                     "No inquiries are stored for {period}, so there is nothing to show."),
    "col_channel": ("Kanal", "Channel"),
    "col_inquiries": ("Henvendelser", "Inquiries"),
    "col_share": ("Andel", "Share"),
    "col_share_now": ("Andel nu", "Share now"),
    "col_share_baseline": ("Andel i basis", "Share in baseline"),
    "col_shift": ("Kanalskift", "Shift"),
    "col_unit_price": ("Enhedspris (kr.)", "Unit price (DKK)"),
    "col_cost": ("Omkostning (kr.)", "Cost (DKK)"),
    "col_target": ("Mål", "Target"),
    "col_window": ("Vindue", "Window"),
    "col_value": ("Værdi", "Value"),
    "col_target_today": ("Mål i dag", "Target today"),
    "col_progress": ("Fremdrift", "Progress"),
    "col_status": ("Status", "Status"),
    # channel mix
    "mix_title": ("Kanalfordeling over tid", "Channel mix over time"),
    "per_week": ("pr. ISO-uge", "per ISO week"),
    "per_day": ("pr. dag", "per day"),
    "mix_chart_title": ("Kanalfordeling: andel af henvendelserne pr. kanal, {unit}",
                        "Share of inquiries per channel, {unit}"),
    "mix_alt": ("Stablede søjler: hver kanals andel af henvendelserne {unit}",
                "Stacked bars: each channel's share of inquiries {unit}"),
    "mix_text": ("{total} indgående henvendelser i {period} (visninger af hjemmesiden er ikke henvendelser og er "
                 "udeladt).", "{total} inbound inquiries in {period} (web page views are not inquiries and are "
                 "left out)."),
    "mix_bars_week": ("Hver søjle fordeler en uges henvendelser på kanaler; en uge, som periodens start eller slut "
                      "skærer over, siger hvor mange dage den har.",
                      "Each bar splits one ISO week's inquiries by channel; weeks cut by the period's start or end "
                      "say how many days they hold."),
    "mix_bars_day": ("Hver søjle fordeler en dags henvendelser på kanaler.",
                     "Each bar splits one day's inquiries by channel."),
    "mix_empty_weeks": ("{n} uge(r) i perioden har ingen henvendelser og ingen søjle.",
                        "{n} week(s) of the period have no inquiries and no bar."),
    "mix_empty_days": ("{n} dag(e) i perioden har ingen henvendelser og ingen søjle.",
                       "{n} day(s) of the period have no inquiries and no bar."),
    "axis_share_of_inquiries": ("Andel af henvendelser", "Share of inquiries"),
    "legend_channel": ("Kanal", "Channel"),
    # channel shift
    "shift_title": ("Kanalskift mod basis pr. opgave", "Channel shift against the baseline, per task"),
    "no_baseline_shift": ("Styringsfilen har ingen basis (`baselines:`), så kanalskift kan ikke beregnes.",
                          "No baseline is configured in the steering file (`baselines:`), so channel shift cannot "
                          "be computed."),
    "empty_baseline_shift": ("Der er ingen henvendelser gemt for {baseline}, så der er ingen kanalfordeling at "
                             "sammenligne med.", "No inquiries are stored for the {baseline}, so there is no "
                             "channel mix to compare with."),
    "shift_chart_title": ("Kanalskift mod {baseline}", "Channel shift against the {baseline}"),
    "shift_alt": ("Søjler til begge sider pr. opgave: procentpoint vundet eller tabt pr. kanal",
                  "Diverging bars per task: percentage points gained or lost per channel"),
    "shift_text": ("Sammenlignet med {baseline}: for hver opgave er søjler til højre for nul de kanaler, hvis andel "
                   "af opgavens henvendelser voksede, og søjler til venstre for nul dem, hvis andel faldt "
                   "(procentpoint, pp; en opgaves kanalskift summer til nul). For alle opgaver under ét vandt mest: "
                   "{gained}; tabte mest: {lost}.",
                   "Compared with the {baseline}: for each task, bars right of zero are channels whose share of the "
                   "task's inquiries grew, bars left of zero those whose share fell (percentage points; a task's "
                   "gains and losses add up to zero). Over all tasks, most gained: {gained}; most lost: {lost}."),
    "most_tasks_of": ("Diagrammet viser de {shown} af {total} opgaver, der har flest henvendelser.",
                      "The chart shows the {shown} tasks with most inquiries of {total}."),
    "not_compared": ("Ikke sammenlignet, fordi der mangler henvendelser i en af de to perioder: {parts}.",
                     "Not compared, for lack of inquiries in one of the two periods: {parts}."),
    "only_now": ("kun i denne periode: {tasks}", "only in this period: {tasks}"),
    "only_baseline": ("kun i basis: {tasks}", "only in the baseline: {tasks}"),
    "axis_shift": ("Procentpoint af opgavens henvendelser mod basis (← andel tabt | andel vundet →)",
                   "Percentage points of the task's inquiries against the baseline (← share lost | share gained →)"),
    # self-service
    "self_service_title": ("Selvbetjeningsgrad pr. opgave", "Self-service rate per task"),
    "no_self_service": ("Der er ingen henvendelser via digital selvbetjening gemt for {period}: "
                        "selvbetjeningsgraden er {zero} for alle opgaver.",
                        "No self-service inquiries are stored for {period}: the self-service rate is {zero} for "
                        "every task."),
    "self_service_chart_title": ("Selvbetjeningsgrad pr. opgave", "Self-service rate per task"),
    "self_service_alt": ("Vandrette søjler: selvbetjeningsgrad pr. opgave, den samlede grad som stiplet linje",
                         "Horizontal bars: self-service rate per task, overall rate as a dashed line"),
    "self_service_text": ("I alt kom {self_service} af {inquiries} henvendelser ({rate}) via digital "
                          "selvbetjening. {with_any} af {tasks} opgaver havde selvbetjening; højest: {best} "
                          "({best_rate}).",
                          "Overall, {self_service} of {inquiries} inquiries ({rate}) came through digital "
                          "self-service. {with_any} of {tasks} tasks had any; highest: {best} ({best_rate})."),
    "most_tasks": ("Diagrammet viser de {shown} opgaver med flest henvendelser.",
                   "The chart shows the {shown} tasks with most inquiries."),
    "rate_of": ("{rate} af {n}", "{rate} of {n}"),
    "all_tasks_rate": ("alle opgaver: {rate}", "all tasks: {rate}"),
    "axis_self_service": ("Henvendelser via selvbetjening / alle opgavens henvendelser",
                          "Self-service inquiries / all inquiries of the task"),
    # cost and realised gain
    "cost_title": ("Omkostning og realiseret gevinst", "Cost and realised gain"),
    "no_priced": ("Ingen af periodens henvendelser kom via en kanal med enhedspris i styringsfilen "
                  "(enhedspriser, kr.: {prices}).",
                  "None of the period's inquiries came through a channel with a unit price in the steering file "
                  "(unit prices, DKK: {prices})."),
    "no_baseline_gain": ("Styringsfilen har ingen basis, så der er ingen realiseret gevinst at vise.",
                         "No baseline is configured in the steering file, so there is no realised gain to show."),
    "gain": ("Med hver opgaves kanalfordeling fra {baseline} ville de samme {inquiries} prissatte henvendelser have "
             "kostet {at_mix}: den realiserede gevinst er {gain}.",
             "At each task's channel mix of the {baseline}, the same {inquiries} priced inquiries would have cost "
             "{at_mix}: the realised gain is {gain}."),
    "gain_negative": ("Med hver opgaves kanalfordeling fra {baseline} ville de samme {inquiries} prissatte "
                      "henvendelser have kostet {at_mix}: den realiserede gevinst er {gain} (en negativ gevinst: "
                      "kanalfordelingen er flyttet mod dyrere kanaler).",
                      "At each task's channel mix of the {baseline}, the same {inquiries} priced inquiries would "
                      "have cost {at_mix}: the realised gain is {gain} (a negative gain: the mix moved to dearer "
                      "channels)."),
    "gain_uncompared": ("Ikke sammenlignet, fordi basis ikke har nogen kanalfordeling for dem: {tasks} opgave(r), "
                        "{inquiries} henvendelser ({names}).",
                        "Not compared, for lack of a channel mix in the baseline: {tasks} task(s), {inquiries} "
                        "inquiries ({names})."),
    "empty_baseline_gain": ("Der er ingen prissatte henvendelser gemt for {baseline}, så der er ingen realiseret "
                            "gevinst at vise.", "No priced inquiries are stored for the {baseline}, so there is no "
                            "realised gain to show."),
    "cost_text": ("Henvendelser på kanaler med enhedspris kostede {total} i perioden (enhedspriser fra styringsfilen, "
                  "kr. pr. indgående henvendelse: {prices}).",
                  "Inquiries on channels with a unit price cost {total} in the period (unit prices from the "
                  "steering file, DKK per inbound inquiry: {prices})."),
    "unpriced": ("Kanaler uden enhedspris indgår ikke i omkostningen: {channels}.",
                 "Channels without a price are not costed: {channels}."),
    "cost_chart_title": ("Omkostning pr. kanal", "Cost per channel"),
    "cost_alt": ("Søjler: omkostning pr. kanal", "Bars: cost per channel"),
    "cost_alt_gain": ("Søjler: omkostning pr. kanal og realiseret gevinst mod basis' kanalfordeling",
                      "Bars: cost per channel; realised gain against the baseline mix"),
    "cost_bar": ("{amount} ({inquiries} × {price})", "{amount} ({inquiries} × {price})"),
    "axis_cost": ("kr. (henvendelser × enhedspris)", "DKK (inquiries × unit price)"),
    "at_baseline_mix": ("ved basis'\nkanalfordeling", "at baseline\nchannel mix"),
    "actual": ("faktisk", "actual"),
    "axis_cost_period": ("kr. i perioden", "DKK in the period"),
    "gain_saved": ("Realiseret gevinst: {amount} sparet", "Realised gain: {amount} saved"),
    "gain_extra": ("Realiseret gevinst: {amount} i merudgift", "Realised gain: {amount} extra cost"),
    # targets
    "targets_title": ("Mål", "Targets"),
    "no_targets": ("Styringsfilen har ingen mål (`targets:`).", "No targets configured in the steering file "
                   "(`targets:`)."),
    "targets_text": ("{count} mål i styringsfilen, opgjort {day} over hvert måls eget bagudrettede vindue: {on} på "
                     "sporet, {off} ikke på sporet.",
                     "{count} target(s) in the steering file, evaluated on {day} over each target's own trailing "
                     "window: {on} on track, {off} off track."),
    "targets_text_unmeasured": ("{count} mål i styringsfilen, opgjort {day} over hvert måls eget bagudrettede "
                                "vindue: {on} på sporet, {off} ikke på sporet, {unmeasured} uden data i deres "
                                "vindue eller basis.",
                                "{count} target(s) in the steering file, evaluated on {day} over each target's own "
                                "trailing window: {on} on track, {off} off track, {unmeasured} without data in their "
                                "window or baseline."),
    "targets_chart_title": ("Mål {day}: målt værdi mod dagens mål",
                            "Targets on {day}: measured value against today's target"),
    "targets_alt": ("Pr. mål: start, dagens mål og den målte værdi",
                    "Per target: start, today's target and the measured value"),
    "no_target_data": ("Intet mål har data i sit vindue, så der er intet diagram.",
                       "No target has data in its window, so there is no chart."),
    "legend_start": ("start", "start"),
    "legend_target_today": ("mål i dag", "target today"),
    "legend_on_track": ("målt, på sporet", "measured, on track"),
    "legend_off_track": ("målt, ikke på sporet", "measured, off track"),
    "axis_targets": ("Værdi (andele og grader i %, volumenindeks i % af basis)",
                     "Value (shares and rates in %, volume indices in % of their baseline)"),
    # demand and opening hours
    "demand_title": ("Efterspørgsel pr. ugedag og time mod åbningstid",
                     "Demand by weekday and hour against opening hours"),
    "no_opening_hours": ("Ingen kanal har åbningstid i styringsfilen (`opening_hours:`).",
                         "No channel has opening hours in the steering file (`opening_hours:`)."),
    "demand_text": ("Henvendelser pr. åben dag: en celles henvendelser delt med antallet af dage af den ugedag i "
                    "perioden, som ikke var helligdage eller lukkedage. Den sorte ramme er kanalens almindelige "
                    "åbningstid fra styringsfilen (steder med egen åbningstid tegnes ikke for sig). Kanaler uden "
                    "åbningstid (altid åbne) vises ikke.",
                    "Inquiries per open day: a cell's inquiries divided by the number of days of that weekday in the "
                    "period that were not public holidays or closing days. The black outline is the channel's "
                    "default opening hours from the steering file (sites with their own hours are not drawn apart). "
                    "Channels without opening hours (always open) are not shown."),
    "demand_none": ("{channel}: ingen henvendelser i perioden.", "{channel}: no inquiries in the period."),
    "demand_chart_title": ("{channel}: henvendelser pr. åben dag efter ugedag og time",
                           "{channel}: inquiries per open day, by weekday and hour"),
    "demand_alt": ("Varmekort: {channel}, henvendelser pr. åben dag efter ugedag og time, åbningstiden indrammet",
                   "Heatmap: {channel} inquiries per open day by weekday and hour, opening hours outlined"),
    "demand_summary": ("{channel}: {total} henvendelser; travleste time {weekday} kl. {start}–{end} ({per_day} pr. "
                       "åben dag); {outside} kom i timer, hvor kanalen er lukket.",
                       "{channel}: {total} inquiries; busiest hour {weekday} {start}–{end} ({per_day} per open "
                       "day); {outside} arrived in hours the channel is closed."),
    "axis_local_time": ("Lokal tid", "Local time"),
    "axis_per_open_day": ("Henvendelser pr. åben dag", "Inquiries per open day"),
    "legend_opening_hours": ("åbningstid", "opening hours"),
}


def report_word(key: str, language: Language, **values: object) -> str:
    """A phrase of the strategy report, as word() for the CLI's."""
    return _in(REPORT_PHRASES[key], language).format(**values)


def month_name(month: int, language: Language) -> str:
    """1 = January."""
    return _in(MONTHS[month - 1], language)


# Inquiry channels in the order KOMHEN tables and every report list them: the personal
# channels first, then the written ones, then the digital ones (BRIEF.md's channel table).
# `web` (page views) is not an inquiry channel and appears in no table.
CHANNELS: tuple[str, ...] = ("walk_in", "phone", "email", "letter", "digital_post", "self_service", "chat")

# Channel names come from the one message catalogue; '*' (all channels) is not a channel.
CHANNEL_DA = {code: names[0] for code, names in CHANNEL_NAMES.items() if code != "*"}
CHANNEL_EN = {code: names[1] for code, names in CHANNEL_NAMES.items() if code != "*"}

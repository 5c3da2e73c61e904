"""nginx access logs of the website (combined format) and the form platform (JSON), for web_access_log.

Visitors read task pages (web events) and send forms (self-service events); assets, bots,
probes, scanners, redirects and errors fill the rest, each judged here the way the
connector's documented rules judge it. Client addresses and personal query strings are planted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time
from urllib.parse import unquote

from pipeline.simulated.calendar import local_epoch
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.truth import SourceTally
from pipeline.simulated.world import DOMAIN, MONTHS, WEB_HOUR_DEMAND, World, local_time
from schemas import UNCLASSIFIED

WWW_SYSTEM, FORMS_SYSTEM = "www", "selvbetjening"
WWW_LOG, FORMS_LOG = "web/www.access.log", "web/selvbetjening.access.json"
# Task information pages (tasks in catalogue.py) and their share of page views; paths as browsers send them.
TASK_PAGES = (
    ("/borger/pas-og-koerekort/pas", 0.18), ("/borger/pas-og-koerekort/k%C3%B8rekort", 0.10),
    ("/borger/flytning", 0.14), ("/borger/sundhedskort", 0.08), ("/borger/affald", 0.12),
    ("/borger/affald/storskrald", 0.06), ("/erhverv/byggeri", 0.07), ("/erhverv/byggeri/byggetilladelse", 0.05),
)
OTHER_PAGES = ("/", "/borger", "/kontakt", "/nyheder/ny-genbrugsplads-aabner", "/om-kommunen/job", "/politik/dagsordener")
STATIC_ASSETS = ("/static/css/main.4f1c2a.css", "/static/js/app.9b3e1d.js")
FORM_ASSETS = ("/selvbetjening/static/forms.css", "/selvbetjening/static/forms.js")
STATIC_PATHS = frozenset(STATIC_ASSETS + FORM_ASSETS + ("/favicon.ico", "/robots.txt", "/sitemap.xml"))
HEALTH_PATHS = frozenset({"/healthz", "/status"})
# Forms on the self-service platform: (form page, POST target, success status, receipt page, share).
# The hundetegn form has no task on purpose (catalogue.py): its POSTs are skipped, not counted.
FORMS = (
    ("/selvbetjening/flytning", "/selvbetjening/flytning/send", 302, "/selvbetjening/flytning/kvittering", 0.35),
    ("/selvbetjening/pas/bestil", "/selvbetjening/pas/bestil", 303, "/selvbetjening/pas/kvittering", 0.25),
    ("/selvbetjening/boligstoette", "/api/formular/boligst%C3%B8tte", 200, None, 0.15),
    ("/selvbetjening/storskrald", "/selvbetjening/storskrald/bestil", 302, "/selvbetjening/storskrald/kvittering", 0.18),
    ("/selvbetjening/hundetegn", "/selvbetjening/hundetegn/send", 302, "/selvbetjening/hundetegn/kvittering", 0.07),
)
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Siteimprove",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "-",
)
UPTIME_AGENT = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
WWW_VISITS_PER_HOUR = 22.0  # at demand factor 1: ~3,000 visits in an ordinary week
FORM_VISITS_PER_HOUR = 6.0
WWW_BOT_REQUESTS_PER_HOUR = 8.0
SEARCH_WORDS = ("pas", "storskrald", "%C3%A5bningstider", "boligst%C3%B8tte", "flytning", "byggetilladelse")


@dataclass
class _Line:
    at: float
    seq: int
    text: str
    bad: bool = False


class _AccessLog:
    """One web server's access log: each request written as the server logs it and judged as the
    web connector's rules say (status, request line, path, bot, method, redirect), the task as
    catalogue.py gives it."""

    def __init__(self, world: World, tally: SourceTally, json_format: bool, host: str) -> None:
        self.world = world
        self.tally = tally
        self.json = json_format
        self.host = host
        self.lines: list[_Line] = []
        self.events_written: set[str] = set()

    def request(self, at: float, client: str, method: str, target: str, status: int, size: int,
                referer: str, agent: str, forwarded: str = "") -> None:
        if at >= self.world.end:  # a visit that runs past the last day: callers plant nothing in such lines
            return
        outcome = self._outcome(method, target, status, agent)
        text = self._format(at, client, method, target, status, size, referer, agent, forwarded)
        if not isinstance(outcome, str):
            while text in self.events_written:  # a byte-identical line would be one event, not two
                size += 1
                text = self._format(at, client, method, target, status, size, referer, agent, forwarded)
            self.events_written.add(text)
            self.tally.event(at, *outcome)
        else:
            self.tally.skipped[outcome] += 1
        self.lines.append(_Line(at, len(self.lines), text))

    def _outcome(self, method: str, target: str, status: int, agent: str) -> str | tuple[str, str, str, str, str]:
        """The skip reason, or (channel, direction, stage, task, department) of the event."""
        if status >= 400:
            return "status 4xx/5xx"
        path = unquote(target.split("?")[0])
        if path in STATIC_PATHS:
            return "static asset"
        if path in HEALTH_PATHS:
            return "health check"
        if agent in BOTS or agent == UPTIME_AGENT:
            return "bot"
        if method == "POST":
            kind, channel = "web_form", "self_service"
        elif method == "GET":
            if 300 <= status < 400 and status != 304:
                return "redirect"
            kind, channel = "web_page", "web"
        else:
            return "method"
        task, department = meaning(kind, path)
        if task == UNCLASSIFIED:
            return "not a form or task page"
        return channel, "inbound", "arrived", task, department

    def _format(self, at: float, client: str, method: str, target: str, status: int, size: int,
                referer: str, agent: str, forwarded: str) -> str:
        local = local_time(at)
        if self.json:
            return json.dumps({
                "time_iso8601": local.isoformat(timespec="seconds"), "remote_addr": client, "remote_user": "",
                "request_method": method, "request_uri": target, "status": str(status), "body_bytes_sent": str(size),
                "http_referer": "" if referer == "-" else referer, "http_user_agent": agent,
                "request_time": f"{0.002 + (size % 997) / 2000:.3f}", "http_x_forwarded_for": forwarded,
                "host": self.host,
            }, ensure_ascii=False, separators=(",", ":"))
        protocol = "HTTP/2.0" if agent in BROWSERS else "HTTP/1.1"  # browsers speak HTTP/2, bots and probes not
        return (f'{client} - - [{_clf(local)}] "{method} {target} {protocol}" {status} {size}'
                f' "{referer}" "{agent}" "{forwarded or "-"}"')

    def write(self, name: str, malformed: list[str]) -> None:
        lines = sorted(self.lines, key=lambda line: (line.at, line.seq))
        last_day = [i for i, line in enumerate(lines) if local_time(line.at).date() == self.world.days[-1]] or [len(lines)]
        for i, text in enumerate(malformed):
            position = last_day[min(len(last_day) - 1, (i + 1) * len(last_day) // (len(malformed) + 1))] + i
            lines.insert(position, _Line(0, 0, text, bad=True))
        path = self.world.out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line.text + "\n" for line in lines), encoding="utf-8")
        self.tally.files.append(name)
        self.tally.records += len(lines)
        self.tally.rejected_at += [f"{name}:{n}" for n, line in enumerate(lines, start=1) if line.bad]


def _clf(local: datetime) -> str:
    offset = local.strftime("%z")
    return f"{local.day:02d}/{MONTHS[local.month - 1]}/{local.year}:{local:%H:%M:%S} {offset}"


class Web:
    """Visits to the website and the form platform, bots, probes and scanners, in two access logs."""

    def __init__(self, world: World, www: SourceTally, forms: SourceTally) -> None:
        self.world = world
        self.rng = world.rng("web")
        self.www = _AccessLog(world, www, json_format=False, host=f"www.{DOMAIN}")
        self.forms = _AccessLog(world, forms, json_format=True, host=f"selvbetjening.{DOMAIN}")
        self.clients: list[tuple[str, str]] = []

    def client(self) -> tuple[str, str]:
        """(address, user agent) of a visitor; households and phones come back."""
        rng = self.rng
        if self.clients and rng.random() < 0.25:
            return rng.choice(self.clients)
        r = rng.random()
        if r < 0.45:  # mobile networks: carrier-grade NAT space
            address = f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        elif r < 0.70:
            address = f"{rng.choice(('192.0.2', '198.51.100'))}.{rng.randint(1, 254)}"
        else:
            address = f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
        found = (self.world.ip(address), rng.choice(BROWSERS))
        self.clients.append(found)
        return found

    def write(self) -> None:
        rng, world = self.rng, self.world
        for at in world.arrivals(rng, WWW_VISITS_PER_HOUR, WEB_HOUR_DEMAND):
            self.www_visit(at)
        for at in world.arrivals(rng, FORM_VISITS_PER_HOUR, WEB_HOUR_DEMAND):
            self.form_visit(at)
        for at in world.arrivals(rng, WWW_BOT_REQUESTS_PER_HOUR, (1.0,) * 24):
            self.bot(at)
        for day in world.days:
            start = local_epoch(day, time(0))
            for minute in range(0, 24 * 60, 10):  # probes every ten minutes
                at = start + minute * 60 + rng.uniform(0, 2)
                self.www.request(at, "10.0.0.4", "GET", "/healthz", 200, 2, "-", "kube-probe/1.29")
                self.forms.request(at + 1, "10.20.0.2", "GET", "/status", 200, 15, "-", "Zabbix")
                if minute % 30 == 0:
                    self.www.request(at + 3, "198.18.0.10", "HEAD", "/", 200, 0, "-", UPTIME_AGENT)
            for _ in range(rng.randint(3, 8)):  # scanners
                at = start + rng.uniform(0, 86_000)
                target = rng.choice(("/wp-login.php", "/.env", "/xmlrpc.php", "/admin/config.php", "/.git/config"))
                self.www.request(at, f"198.18.{rng.randint(1, 255)}.{rng.randint(1, 254)}", "GET", target, 404, 153,
                                 "-", rng.choice(BROWSERS[:1] + ("Mozilla/5.0 zgrab/0.x",)))
        self.www.write(WWW_LOG, self._malformed_combined())
        self.forms.write(FORMS_LOG, self._malformed_json())

    def _task_page(self) -> str:
        return self.rng.choices([p for p, _ in TASK_PAGES], [w for _, w in TASK_PAGES])[0]

    def www_visit(self, at: float) -> None:
        rng, world = self.rng, self.world
        client, agent = self.client()
        returning = rng.random() < 0.3
        referer = rng.choice(("https://www.google.com/", "-", "https://www.google.dk/", "https://l.facebook.com/",
                              "https://www.borger.dk/"))
        for page in range(1 + (rng.random() < 0.45) + (rng.random() < 0.2)):
            if at >= world.end:  # the run is over: nothing more is written, so nothing more is planted
                return
            r = rng.random()
            status = 200
            if r < 0.6:
                target = self._task_page()
                q = rng.random()
                if q < 0.08:
                    target += "?utm_source=nyhedsbrev&utm_medium=email"
                elif q < 0.11:  # a link from a reply mail carries the citizen's address
                    target += f"?email={world.email(world.citizen(rng).email)}"
                if returning and rng.random() < 0.3:
                    status = 304
            elif r < 0.88:
                target = rng.choice(OTHER_PAGES)
                if target == "/borger" and rng.random() < 0.2:
                    target, status = "/borger/pas", 301  # an old link, redirected
            elif r < 0.96:  # search; some people search for their own CPR number or address
                q = rng.random()
                citizen = world.citizen(rng)
                if q < 0.1:
                    term = world.cpr(citizen.cpr if rng.random() < 0.5 else citizen.cpr.replace("-", ""))
                elif q < 0.2:
                    term = world.email(citizen.email)
                else:
                    term = rng.choice(SEARCH_WORDS)
                target = f"/soeg?q={term}"
            else:
                target, status = "/borger/pas-og-koerekort/pas-gammel-side", 404
            size = 0 if status in (301, 304) else rng.randint(12_000, 48_000)
            self.www.request(at, client, "GET", target, status, size, referer, agent)
            if page == 0:  # later pages come from the browser cache
                for asset in STATIC_ASSETS:
                    at += rng.uniform(0.05, 0.4)
                    self.www.request(at, client, "GET", asset, 304 if returning else 200,
                                     0 if returning else rng.randint(5_000, 90_000), f"https://www.{DOMAIN}{target}", agent)
            if page == 0 and not returning:
                self.www.request(at + 0.3, client, "GET", "/favicon.ico", 200, 1150, "-", agent)
            referer = f"https://www.{DOMAIN}{target}"
            at += rng.uniform(8, 150)

    def form_visit(self, at: float) -> None:
        rng, world = self.rng, self.world
        client, agent = self.client()
        forwarded = world.ip(self.client()[0]) if rng.random() < 0.15 else ""  # through a proxy: both addresses
        page, post, ok, receipt, _ = rng.choices(FORMS, [f[-1] for f in FORMS])[0]
        referer = f"https://www.{DOMAIN}/borger"
        log = self.forms
        page_url = f"https://selvbetjening.{DOMAIN}{page}"
        if page == "/selvbetjening/pas/bestil" and rng.random() < 0.1:
            log.request(at, client, "GET", "/selvbetjening/pas", 301, 0, referer, agent, forwarded)
            at += 0.3
        log.request(at, client, "GET", page, 200, rng.randint(20_000, 60_000), referer, agent, forwarded)
        for asset in FORM_ASSETS:
            at += rng.uniform(0.05, 0.3)
            log.request(at, client, "GET", asset, 200, rng.randint(3_000, 40_000), page_url, agent, forwarded)
        if rng.random() < 0.25:  # read the form, never sent it
            return
        at += rng.uniform(60, 900)
        if at >= world.end:
            return
        target = post
        if rng.random() < 0.05:  # a form that puts the CPR number in its action URL
            target += f"?cpr={world.cpr(world.citizen(rng).cpr.replace('-', ''))}"
        if receipt is None and rng.random() < 0.3:  # cross-origin API: the browser asks first
            log.request(at - 0.2, client, "OPTIONS", post, 204, 0, page_url, agent, forwarded)
        r = rng.random()
        if r < 0.08:
            # Validation errors: re-rendered with 200 (counted, the log cannot tell) or a 422 from the API.
            log.request(at, client, "POST", target, 422 if receipt is None else 200, rng.randint(20_000, 60_000),
                        page_url, agent, forwarded)
            at += rng.uniform(20, 120)
        elif r < 0.1:
            log.request(at, client, "POST", target, 502, 157, page_url, agent, forwarded)
            at += rng.uniform(5, 60)
        log.request(at, client, "POST", target, ok, 0 if ok != 200 else 87, page_url, agent, forwarded)
        if receipt is not None:
            log.request(at + 0.4, client, "GET", receipt, 200, rng.randint(8_000, 20_000), page_url, agent, forwarded)

    def bot(self, at: float) -> None:
        rng = self.rng
        agent = rng.choice(BOTS)
        target = rng.choice((self._task_page(), rng.choice(OTHER_PAGES), "/robots.txt", "/sitemap.xml"))
        status = rng.choices((200, 304, 404), (0.9, 0.06, 0.04))[0]
        self.www.request(at, f"198.18.{rng.randint(1, 255)}.{rng.randint(1, 254)}", "GET", target, status,
                         rng.randint(500, 40_000), "-", agent)

    def _malformed_combined(self) -> list[str]:
        rng, world, day = self.rng, self.world, self.world.days[-1]
        citizen = world.citizen(rng)
        a, b = world.ip(f"192.0.2.{rng.randint(1, 254)}"), world.ip(f"2001:db8:bad::{rng.getrandbits(16):x}")
        stamp = f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year}"
        return [
            # no such time, and the citizen's address in the query string
            (f'{a} - - [{stamp}:24:61:00 +0100] "GET /borger/flytning?email={world.email(citizen.email)} HTTP/1.1"'
            f' 200 18342 "-" "{BROWSERS[0]}" "-"'),
            # cut off mid-line by a full disk
            f'{b} - - [{stamp}:10:15:02 +0100] "POST /selvbetjening/pas/bestil?cpr={world.cpr(citizen.cpr)} HTT',
            # a month name no server writes
            (f'{a} - - [{day.day:02d}/Foo/{day.year}:11:00:00 +0100] "GET /borger/affald HTTP/2.0" 200 9000 "-"'
            f' "{BROWSERS[1]}" "-"'),
        ]

    def _malformed_json(self) -> list[str]:
        rng, world, day = self.rng, self.world, self.world.days[-1]
        citizen = world.citizen(rng)
        a = world.ip(f"198.51.100.{rng.randint(1, 254)}")
        good = {"time_iso8601": f"{day.isoformat()}T10:00:00+01:00", "remote_addr": a, "remote_user": "",
                "request_method": "POST", "request_uri": "/selvbetjening/flytning/send", "status": "302",
                "body_bytes_sent": "0", "http_referer": "", "http_user_agent": BROWSERS[2], "request_time": "0.120",
                "http_x_forwarded_for": world.ip(f"2001:db8:cafe::{rng.getrandbits(16):x}"), "host": f"selvbetjening.{DOMAIN}"}
        whole = json.dumps(good | {"request_uri": f"/selvbetjening/pas/bestil?cpr={world.cpr(citizen.cpr)}"})
        cut = whole[: whole.index("?cpr=") + 16]  # the writer stopped just after the CPR number
        return [
            cut,  # not JSON: the line ends mid-object
            json.dumps(good | {"time_iso8601": f"{day:%d/%m/%Y} 10:00"}),  # a time format the log never has
            json.dumps(good | {"status": "OK", "request_uri": f"/selvbetjening/flytning/send?email={world.email(citizen.email)}"}),
        ]

"""Web server access logs -> self-service and web InquiryEvents: forms sent, task pages read.

The runtime hands this parser one access-log line at a time: the combined or common log
format nginx and Apache write, or one JSON object per line. A successful POST to a form
endpoint in the `web_form` rules is a self-service inquiry (digital selvbetjening); a
successful GET of a task's information page in `web_page` is a web page view, the "found it
on the website" signal counted per task. Every other line is skipped and counted by reason.

Choices where the logs are silent:
- Rules are globs on the percent-decoded path without its query string; the event's `queue`
  is the matching rule's glob, never the path, so nothing a visitor typed reaches an event.
  Client addresses, user names, user agents, referrers and query strings never leave this
  module: they are read only to decide a skip. A client field holding an X-Forwarded-For
  list (`10.0.0.2, 10.0.0.1, 85.181.35.98 - - [...]`, nginx behind a proxy) is read as one
  field; like any client address it is not even parsed out.
- A rejected line is dead-lettered without what identifies the visitor or holds a secret:
  client addresses and user names, request bodies, query strings (of every URL in the line),
  cookies and authorization headers (`personal_fields` for JSON lines, and in a combined line
  every extra quoted field that holds `name=value` pairs or credentials); addresses and user
  info inside URLs are masked. A JSON line cut off mid-object keeps only its keys and the
  values of its time, status and method fields.
- Whether a form is integrated with the case system belongs to the form's rule, but the
  event contract has no field for it yet, so nothing is carried for it.
- A form answered with 2xx or 3xx counts as sent (post/redirect/get answers 302 or 303); a
  form that re-renders its validation errors with 200 is counted too, the log cannot tell.
  A GET answered with a redirect (3xx other than 304) is skipped as "redirect": the page
  view is counted where the redirect leads, not twice.
- The event reference is the HMAC (privacy.contact_key_secret) of the whole line, so
  re-reading a line, also after rotation or from a copy, gives the same event id, and a
  guessed client address cannot be confirmed from the id. Two byte-identical lines (same
  second, client, request, response size and user agent) collapse into one event: a double
  submit or reload within the second counts once. Changing the secret changes every web
  event id, so a log re-read after such a change is counted again.
- Every line is checked as far as its time and status before it is skipped, so a broken
  line is rejected, not silently skipped. Skips are decided in this order: status, request
  line, skip_path_patterns, bots, method, redirect, rules.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import unquote

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.base import ConnectorContext, Location, RecordParser, RecordRejected, Skip, decode_record
from connectors.config import ConnectorConfig, rule_set_field, system_field
from connectors.mapping import Classification
from pipeline.ground.privacy import REDACTED, shown
from schemas import Channel, InquiryEvent, Stage


class AccessLogFormat(StrEnum):
    auto = "auto"  # a line starting with '{' is JSON, anything else combined or common
    combined = "combined"  # also vhost_combined and the Common Log Format
    json = "json"


class AccessLogJsonFields(BaseModel):
    """Field names of a JSON access log; the first present and non-empty name of each list is read.

    A dotted name (`http.request.method`) reaches into nested objects when no flat key has it.
    """

    model_config = ConfigDict(extra="forbid")

    time: list[str] = Field(
        default_factory=lambda: ["time", "time_iso8601", "time_local", "@timestamp", "timestamp", "msec"],
        min_length=1,
        description="When the request was served: ISO 8601 with offset, nginx $time_local, or epoch seconds ($msec).",
    )
    status: list[str] = Field(
        default_factory=lambda: ["status", "status_code", "http.response.status_code"],
        min_length=1,
        description="HTTP status, as a number or a string of 3 digits.",
    )
    method: list[str] = Field(
        default_factory=lambda: ["request_method", "method", "http.request.method"],
        description="Request method; with `uri` it replaces the request line.",
    )
    uri: list[str] = Field(
        default_factory=lambda: ["request_uri", "uri", "path", "url.original", "url.path"],
        description="Request target (path, maybe with query string).",
    )
    request: list[str] = Field(
        default_factory=lambda: ["request"],
        description="The whole request line ('GET /path HTTP/1.1'), read when method or uri is absent.",
    )
    user_agent: list[str] = Field(
        default_factory=lambda: ["http_user_agent", "user_agent", "agent", "user_agent.original"],
        description="User agent, only to recognise bots; absent means unknown (not a bot).",
    )
    client: list[str] = Field(
        default_factory=lambda: [
            "remote_addr",
            "client_ip",
            "client",
            "realip_remote_addr",
            "http_x_forwarded_for",
            "x_forwarded_for",
            "source.ip",
            "client.ip",
        ],
        description="Client address fields, blanked in rejected lines before they are dead-lettered.",
    )
    user: list[str] = Field(
        default_factory=lambda: ["remote_user", "user", "user.name"],
        description="Authenticated user fields, blanked in rejected lines like the client address.",
    )


# JSON fields a dead letter never carries (besides json_fields.client and .user), as nginx
# (log_format ... escape=json with its variables' names), Elastic Common Schema and common
# variants name them: who the visitor is, what it sent, its secrets. `*` matches by prefix.
DEFAULT_PERSONAL_JSON_FIELDS = [
    "remote_user", "user_name", "username", "user_id", "user.email", "user.id", "client.user.name",
    "remote_port", "http_x_real_ip", "x_real_ip", "http_client_ip", "proxy_protocol_addr", "binary_remote_addr",
    "request_body", "body", "http.request.body.content", "response_body", "resp_body",
    "args", "query_string", "query", "request_param", "url.query", "arg_*",
    "http_cookie", "cookie", "cookies", "cookie_*", "sent_http_set_cookie", "set_cookie", "set-cookie",
    "http_authorization", "authorization", "http_proxy_authorization", "proxy_authorization",
    "request_headers", "response_headers", "req_header", "resp_header",
    "password", "passwd", "token", "access_token", "api_key", "apikey", "http_x_api_key", "x-api-key",
]  # fmt: skip


# Bots and tools that fetch pages without a person behind them. 'bot' spares CUBOT phones and "both".
DEFAULT_BOT_PATTERNS = [
    r"(?<!cu)bot(?![a-z])", r"crawl", r"spider", r"slurp", r"curl/", r"wget/", r"python-requests", r"python-urllib",
    r"aiohttp", r"httpx", r"go-http-client", r"java/", r"okhttp", r"libwww-perl", r"apache-httpclient",
    r"scrapy", r"headlesschrome", r"phantomjs", r"monitor", r"uptime", r"pingdom", r"nagios", r"zabbix",
    r"check_http", r"prometheus", r"blackbox", r"statuscake", r"site24x7", r"facebookexternalhit",
    r"siteimprove", r"lighthouse",
]  # fmt: skip
DEFAULT_SKIP_PATHS = {
    "static asset": [
        r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot|mp4|webm|mp3)$",
        r"^/favicon\.ico$", r"^/robots\.txt$", r"^/sitemap[^/]*\.xml$", r"^/apple-touch-icon[^/]*$",
        r"^/\.well-known/",
    ],
    "health check": [
        r"^/health(?:z|check)?/?$", r"^/(?:livez|readyz|ping|status|metrics)/?$", r"^/server-status",
        r"^/nginx_status",
    ],
}  # fmt: skip


class WebAccessLogConfig(ConnectorConfig):
    """How to read one web server's access log and which requests are inquiries or page views."""

    system: str = system_field("web", "the web server or site", "www-kommune", "selvbetjening")
    format: AccessLogFormat = Field(
        default=AccessLogFormat.auto,
        description="'combined' (nginx/Apache combined, vhost_combined, common), 'json', or 'auto' per line.",
    )
    rule_set: str = rule_set_field(
        "web_form", "form endpoint paths (globs): self-service inquiries; also read as form_rule_set, its name "
        "before every source had a rule_set", validation_alias=AliasChoices("rule_set", "form_rule_set"))
    page_rule_set: str = Field(
        default="web_page",
        min_length=1,
        description="Rule set mapping task information page paths (globs) to task and department: page views.",
    )
    form_methods: list[str] = Field(
        default_factory=lambda: ["POST"],
        min_length=1,
        description="Methods that send a form; such a request to a rule_set path is a self-service inquiry.",
        examples=[["POST", "PUT"]],
    )
    page_methods: list[str] = Field(
        default_factory=lambda: ["GET"],
        description="Methods that read a page; such a request to a page_rule_set path is a web page view.",
    )
    skip_user_agent_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BOT_PATTERNS),
        description="Regexes (searched, case-insensitive) on the user agent; a match is skipped as 'bot'.",
        examples=[["bot", "crawl", "internal-monitor"]],
    )
    skip_empty_user_agent: bool = Field(
        default=True,
        description="Skip as 'bot' a line whose user agent is logged but empty or '-' (browsers always send one);"
        " lines of the common log format, which has no user agent, are never skipped for it.",
    )
    skip_path_patterns: dict[str, list[str]] = Field(
        default_factory=lambda: {label: list(patterns) for label, patterns in DEFAULT_SKIP_PATHS.items()},
        description="Skip reason -> regexes (searched, case-insensitive) on the decoded path without query string.",
        examples=[{"static asset": [r"\.css$"], "health check": [r"^/healthz$"], "intranet": [r"^/intra/"]}],
    )
    json_fields: AccessLogJsonFields = Field(
        default_factory=AccessLogJsonFields, description="Field names read from JSON access-log lines."
    )
    personal_fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PERSONAL_JSON_FIELDS),
        description="JSON fields blanked in dead letters besides json_fields.client and .user: names or dotted"
        " paths, case-insensitive, at any depth; a trailing * matches by prefix (nginx's arg_* and cookie_*)."
        " By default user names, request bodies, query strings, cookies and authorization headers. Query"
        " strings and user info in every URL of a rejected line are blanked and IP addresses masked whatever"
        " this says.",
        examples=[["request_body", "args", "http_cookie", "cookie_*"]],
    )

    @field_validator("form_methods", "page_methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        methods = [method.strip().upper() for method in value]
        if not all(re.fullmatch(r"[A-Z]+", method) for method in methods):
            raise ValueError(f"methods {value!r}: expected HTTP method names such as 'POST'")
        return methods

    @field_validator("skip_user_agent_patterns")
    @classmethod
    def _agent_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            _compiled(pattern)
        return value

    @field_validator("skip_path_patterns")
    @classmethod
    def _path_patterns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for label, patterns in value.items():
            if not label.strip():
                raise ValueError("skip_path_patterns: a skip reason must not be empty")
            for pattern in patterns:
                _compiled(pattern)
        return value

    @model_validator(mode="after")
    def _methods_apart(self) -> WebAccessLogConfig:
        both = set(self.form_methods) & set(self.page_methods)
        if both:
            raise ValueError(f"{sorted(both)} in both form_methods and page_methods: a request is a form or a page")
        return self


def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None


logger = logging.getLogger(__name__)

# One quoted field as Apache and nginx write it: `"` and `\` inside escaped with a backslash.
_QUOTED = r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"'
_CLF_TIME = r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+\-][0-9]{4}"
# The client field: an address or host, or an X-Forwarded-For list ("10.0.0.2, 10.0.0.1, 85.181.35.98").
_CLIENT = r"\S++(?:(?<=,) \S++)*+"
# [vhost:port ]client ident user [time] "request" status bytes ["referer" "user agent"][ extra...]
_COMBINED = re.compile(
    r"(?:\S++ )?" + _CLIENT + r" \S++ \S++ \[(" + _CLF_TIME + r")\] " + _QUOTED + r" ([0-9]{3}) \S++"
    r'(?: "(?:[^"\\]*+(?:\\.[^"\\]*+)*+)" ' + _QUOTED + r")?(?: .*)?",
    re.DOTALL,
)
_CLF_TIME_ONLY = re.compile(_CLF_TIME)
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?(?:Z|[+\-][0-9]{2}:?[0-9]{2})"
)
_EPOCH_TIME = re.compile(r"[0-9]{9,10}(?:\.[0-9]{1,9})?")
_QUOTED_FIRST = re.compile(" " + _QUOTED + "(?: |$)")
_STATUS = re.compile(r"[0-9]{3}")
# Apache and nginx escapes inside a quoted field: \" \\ and \xHH for other bytes.
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
# [vhost:port ]client ident user [  -- for blanking them in a rejected line (a vhost never ends in
# a comma: that is the first address of a forwarded-for list).
_HEAD = re.compile(r"^((?:\S*[^\s,] )?)(" + _CLIENT + r") (\S++) (\S++)( \[)")
# A JSON string (to its closing quote, or to the end of a line cut off inside it) or a run of
# anything else: a rejected line is cut into these in one pass, no character read twice.
_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[^"]++', re.DOTALL)
# A query string (to the next blank or unescaped quote) and the authority part of a URL (after //).
_QUERY = re.compile(r'\?(?:[^\s"\\]++|\\.)*+')
_AUTHORITY = re.compile(r'(?<=//)[^/\s"?#]++')
# A quoted extra field of a combined line that holds a secret: credentials or name=value pairs (cookies).
_SECRET_FIELD = re.compile(r'"(?:(?:Basic|Bearer|Digest|Negotiate|NTLM|Token|ApiKey) |[^"]*=)', re.IGNORECASE)
# IPv6 (a run of hex groups with at least two colons) or dotted IPv4, not inside a version
# number such as Chrome/120.0.0.0; ipaddress decides.
_ADDRESS_LIKE = re.compile(
    r"(?<![\w/.:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w:])"
    r"|(?<![\w/.:])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![\w.])"
)

_MONTH_DIGITS = {
    "Jan": "01", "Feb": "02", "Mar": "03", "Apr": "04", "May": "05", "Jun": "06",
    "Jul": "07", "Aug": "08", "Sep": "09", "Oct": "10", "Nov": "11", "Dec": "12",
}  # fmt: skip
_FIRST_YEAR, _LAST_YEAR = 2000, 2099
_EARLIEST_EPOCH, _LATEST_EPOCH = 946_684_800, 4_102_444_800  # 2000-01-01, 2100-01-01
_MAX_CACHED = 4096
_EMPTY = ("", "-")
_MISSING = object()
_CLF_LAYOUT = 'client ident user [time] "request" status bytes ["referer" "user agent"]'
_PLACEHOLDERS = frozenset({"<client>", "<user>"})
_BLANK = Skip(reason="blank line")


def _address_blanked(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)
    return "<ip>"


def _without_addresses(text: str) -> str:
    """Every IPv4 and IPv6 address in `text` replaced by <ip>."""
    return _ADDRESS_LIKE.sub(_address_blanked, text)


def _shown(value: str) -> str:
    """shown(), after blanking addresses: a garbled line can put the client's address anywhere."""
    return shown(_without_addresses(value))


def _authority_masked(match: re.Match[str]) -> str:
    """A URL's user info blanked and its host masked when it is an IP address; the port stays."""
    _, at, host = match.group(0).rpartition("@")
    address, port = host, ""
    if host.startswith("[") and "]" in host:  # [2001:db8::1]:8443
        end = host.index("]")
        address, port = host[1:end], host[end + 1 :]
    elif host.count(":") == 1:  # www.kommune.dk:443, 192.0.2.10:8080
        address, port = host.split(":")
        port = ":" + port
    try:
        ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        host = "<ip>" + port
    return ("<user>@" if at else "") + host


def _urls_redacted(text: str) -> str:
    """Query strings blanked, and user info and IP-address hosts in URLs masked."""
    if "?" in text:
        text = _QUERY.sub("?<redacted>", text)
    if "//" in text:
        text = _AUTHORITY.sub(_authority_masked, text)
    return text


def _secret_fields_blanked(text: str) -> str:
    """Each quoted field after the first three (request, referer, user agent) of a combined line
    blanked when it holds credentials or name=value pairs (cookies, custom headers)."""
    out, quoted = [], 0
    for token in _TOKENS.findall(text):
        if token.startswith('"'):
            quoted += 1
            if quoted > 3 and _SECRET_FIELD.match(token):
                token = f'"{REDACTED}"'
        out.append(token)
    return "".join(out)


def _unescape_percent(match: re.Match[str]) -> str:
    # \xHH becomes %HH so that unquote() decodes escaped UTF-8 bytes together with %-escapes.
    escaped = match.group(1)
    return "%" + escaped[1:] if len(escaped) == 3 else escaped


@dataclass(frozen=True, slots=True)
class _Matched:
    """The rule a path matched: its glob (carried as `queue`) and what it classifies the request as."""

    pattern: str
    classification: Classification


@dataclass(frozen=True, slots=True)
class _PathVerdict:
    skip: str | None = None
    form: _Matched | None = None
    page: _Matched | None = None


class WebAccessLogParser(RecordParser[WebAccessLogConfig]):
    """Parses one access-log line into a self-service or web event, a Skip, or a RecordRejected."""

    kind: ClassVar[str] = "web_access_log"

    def __init__(self, config: WebAccessLogConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self._format = config.format
        self._form_methods = frozenset(config.form_methods)
        self._page_methods = frozenset(config.page_methods)
        agents = config.skip_user_agent_patterns
        self._bot = _compiled("|".join(f"(?:{p})" for p in agents)).search if agents else None
        self._path_skips = [
            (label, _compiled("|".join(f"(?:{p})" for p in patterns)).search)
            for label, patterns in config.skip_path_patterns.items()
            if patterns
        ]
        self._form_rules = self._globs(config.rule_set)
        self._page_rules = self._globs(config.page_rule_set)
        self._fields = config.json_fields
        personal = [name.strip().casefold() for name in config.personal_fields]
        self._personal = frozenset(name for name in personal if not name.endswith("*"))
        self._personal_prefixes = tuple(name[:-1] for name in personal if name.endswith("*"))
        # What a JSON line cut off mid-object keeps: keys, and the values of these fields.
        self._kept_when_broken = frozenset(
            name.rsplit(".", 1)[-1].casefold()
            for name in (*self._fields.time, *self._fields.status, *self._fields.method)
        )
        self._paths: dict[str, _PathVerdict] = {}
        self._agents: dict[str, bool] = {}
        self._last_time = ""
        self._last_at = datetime.min

    def _globs(self, rule_set: str) -> list[tuple[Callable[[str], Any], str]]:
        """Each rule's glob compiled as MappingRules.classify matches it (lower-cased, fnmatch)."""
        rules = self._context.mapping.sources.get(rule_set)
        if not rules:
            logger.warning("mapping has no rules in %r: no %s line becomes an event", rule_set, self.kind)
            return []
        return [(re.compile(fnmatch.translate(rule.match.lower())).match, rule.match) for rule in rules]

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """Access logs have no header: every line stands alone."""
        logger.debug("reading access log %s for system %s", path, self._config.system)

    def redact(self, record: str) -> str:
        """A rejected line fit for the dead-letter topic. Combined: client address (or forwarded-for
        list) and user blanked by position (also a host name logged in their place), query strings
        and extra fields holding secrets blanked. JSON: the client, user and personal_fields blanked
        at any depth, query strings blanked in every value. Both: user info and IP hosts in URLs
        masked, and every IP address anywhere (X-Forwarded-For in an extra field, say) replaced by <ip>."""
        if record.lstrip().startswith("{"):
            record = self._redact_json(record)
        else:
            record = _secret_fields_blanked(_urls_redacted(_HEAD.sub(self._blank_head, record, count=1)))
        return _without_addresses(record)

    @staticmethod
    def _blank_head(match: re.Match[str]) -> str:
        vhost, _client, ident, user, bracket = match.groups()
        ident = ident if ident == "-" else "<ident>"
        user = user if user == "-" else "<user>"
        return f"{vhost}<client> {ident} {user}{bracket}"

    def _redact_json(self, record: str) -> str:
        try:
            obj = orjson.loads(record)
        except orjson.JSONDecodeError:
            return self._redact_broken_json(record)
        if not isinstance(obj, dict):
            return self._redact_broken_json(record)
        for names, placeholder in ((self._fields.client, "<client>"), (self._fields.user, "<user>")):
            for name in names:
                _replace(obj, name, placeholder)
        # Without recursion: orjson reads objects nested 1,024 deep, deeper than Python recurses.
        stack: list[tuple[dict[str, Any] | list[Any], str]] = [(obj, "")]
        while stack:
            node, path = stack.pop()
            for key, value in (node.items() if isinstance(node, dict) else enumerate(node)):
                inner = path
                if isinstance(key, str):
                    name = key.casefold()
                    inner = f"{path}{name}"
                    if self._is_personal(name, inner):
                        if not (isinstance(value, str) and value in _PLACEHOLDERS):  # <client>, <user> say more
                            node[key] = REDACTED  # type: ignore[index]
                        continue
                    inner += "."
                if isinstance(value, str):
                    node[key] = _urls_redacted(value)  # type: ignore[index]
                elif isinstance(value, (dict, list)):
                    stack.append((value, inner))
        return orjson.dumps(obj).decode()

    def _is_personal(self, name: str, path: str) -> bool:
        return name in self._personal or path in self._personal or name.startswith(self._personal_prefixes)

    def _redact_broken_json(self, record: str) -> str:
        """A line that is not a JSON object (cut off mid-object, say) cannot be trusted to pair keys
        with values: its keys stay, and only the values of the time, status and method fields."""
        tokens = _TOKENS.findall(record)
        out, key = [], ""
        for i, token in enumerate(tokens):
            if token.startswith('"'):
                follows = tokens[i + 1].lstrip() if i + 1 < len(tokens) else ""
                if follows.startswith(":"):
                    key = token.strip('"').casefold()
                elif not (key in self._kept_when_broken and out and out[-1].rstrip().endswith(":")):
                    token = f'"{REDACTED}"'
            out.append(token)
        return "".join(out)

    def parse(self, record: bytes, location: Location) -> list[InquiryEvent] | Skip:
        if not record or record.isspace():  # a blank line says nothing: counted, not dead-lettered
            return _BLANK
        text = decode_record(record)
        text = text.removesuffix("\r")  # a CRLF file whose CR survived line splitting
        fmt = self._format
        if fmt is AccessLogFormat.json or (fmt is AccessLogFormat.auto and text.startswith("{")):
            return self._json_line(text, location)
        return self._combined_line(text, location)

    # --- the two formats -------------------------------------------------------------------

    def _combined_line(self, text: str, location: Location) -> list[InquiryEvent] | Skip:
        found = _COMBINED.fullmatch(text)
        if found is None:
            raise RecordRejected(self._combined_problem(text))
        stamp, request, status, agent = found.groups()
        at = self._clf_time(stamp, "[time]")
        code = int(status)
        skip = self._status(code, status)
        if skip is not None:
            return skip
        if request in _EMPTY:
            return Skip(reason="no request line")
        method, _, rest = request.partition(" ")
        target, _, protocol = rest.rpartition(" ")
        if not protocol.startswith("HTTP/"):  # HTTP/0.9 (no protocol) or a path with a space
            target = rest
        if not method or not target:
            return Skip(reason="no request line")
        return self._judge(text, location, at, code, method, target, agent, escaped=True)

    def _combined_problem(self, text: str) -> str:
        """Why a line is not combined or common log format: the first part that does not fit."""
        if text.lstrip().startswith("{"):
            return "a JSON line, but format is 'combined': set format to 'json' or 'auto'"
        opened = text.find(" [")
        closed = text.find("]", opened)
        if opened < 0 or closed < 0:
            return f"no [time] field: expected a combined or common log line ({_CLF_LAYOUT})"
        fields, empty, listed = 0, False, False
        for part in text[:opened].split(" "):
            if not listed:  # "10.0.0.2, 10.0.0.1": a forwarded-for list is one field
                fields += 1
            empty = empty or not part
            listed = part.endswith(",")
        if fields not in (3, 4):
            return f"{fields} fields before [time], expected 3 (client ident user) or 4 with a vhost:port prefix"
        if empty:
            return "empty field before [time]: expected client ident user ('-' when unknown), single spaces apart"
        stamp = text[opened + 2 : closed]
        if not _CLF_TIME_ONLY.fullmatch(stamp):
            return f"bad timestamp {_shown(stamp)}: expected dd/Mon/yyyy:HH:MM:SS +hhmm"
        rest = text[closed + 1 :]
        request = _QUOTED_FIRST.match(rest)
        if request is None:
            return 'no quoted request line after [time]: expected "METHOD /path HTTP/1.1" or "-"'
        status, _, size = rest[request.end() :].partition(" ")
        if not _STATUS.fullmatch(status):
            return f"bad status {_shown(status)} after the request line: expected a 3-digit HTTP status"
        if not size or size.startswith(" "):
            return "no response size after the status: expected bytes sent or '-'"
        return f"not a combined or common log line: expected {_CLF_LAYOUT}, fields separated by single spaces"

    def _json_line(self, text: str, location: Location) -> list[InquiryEvent] | Skip:
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise RecordRejected(
                f"not JSON: {exc.msg} at character {exc.pos}; for nginx use log_format ... escape=json"
            ) from None
        if not isinstance(obj, dict):
            raise RecordRejected(f"JSON {type(obj).__name__} where one object per line was expected")
        fields = self._fields

        name, stamp = _lookup(obj, fields.time)
        if stamp is _MISSING or stamp in _EMPTY:
            raise RecordRejected(f"no time: none of the fields {fields.time} (json_fields.time) has a value")
        at = self._json_time(stamp, name)

        name, status = _lookup(obj, fields.status)
        if status is _MISSING or status in _EMPTY:
            raise RecordRejected(f"no status: none of the fields {fields.status} (json_fields.status) has a value")
        code = _json_status(status, name)
        skip = self._status(code, str(status))
        if skip is not None:
            return skip

        _, method = _lookup(obj, fields.method)
        _, target = _lookup(obj, fields.uri)
        if method is _MISSING or target is _MISSING:
            _, request = _lookup(obj, fields.request)
            if request is _MISSING:
                raise RecordRejected(
                    f"no request: none of the fields {fields.method + fields.uri + fields.request}"
                    " (json_fields.method and .uri, or .request) is in the line"
                )
            if not isinstance(request, str):
                raise RecordRejected(f"request is {type(request).__name__}, expected 'METHOD /path HTTP/1.1'")
            method, _, rest = request.partition(" ")
            target, _, protocol = rest.rpartition(" ")
            if not protocol.startswith("HTTP/"):
                target = rest
        if not isinstance(method, str) or not isinstance(target, str):
            raise RecordRejected("request method and uri must be strings")
        if method in _EMPTY or target in _EMPTY:
            return Skip(reason="no request line")

        _, agent = _lookup(obj, fields.user_agent)
        agent = agent if isinstance(agent, str) else None  # absent or not text: unknown, not a bot
        return self._judge(text, location, at, code, method, target, agent, escaped=False)

    # --- what a request means ---------------------------------------------------------------

    @staticmethod
    def _status(code: int, raw: str) -> Skip | None:
        """Skip for responses that are not a success or redirect; reject what is no HTTP status."""
        if 200 <= code < 400:
            return None
        if 400 <= code < 600:
            return Skip(reason="status 4xx/5xx")
        if 100 <= code < 200:
            return Skip(reason="status 1xx")
        raise RecordRejected(f"bad status {_shown(raw)}: expected an HTTP status from 100 to 599")

    def _judge(
        self,
        text: str,
        location: Location,
        at: datetime,
        status: int,
        method: str,
        target: str,
        agent: str | None,
        *,
        escaped: bool,
    ) -> list[InquiryEvent] | Skip:
        verdict = self._verdict(_path(target, escaped))
        if verdict.skip is not None:
            return Skip(reason=verdict.skip)
        if agent is not None and self._is_bot(agent):
            return Skip(reason="bot")
        if method in self._form_methods:
            matched, channel = verdict.form, Channel.self_service
        elif method in self._page_methods:
            if 300 <= status < 400 and status != 304:
                return Skip(reason="redirect")
            matched, channel = verdict.page, Channel.web
        else:
            return Skip(reason="method")
        if matched is None:
            return Skip(reason="not a form or task page")
        reference = self._context.keyer.key(text) or ""  # HMAC: the line holds the client's address
        # Every value is made and checked here (a UTC time of 2000-2099, a validated
        # Classification, the rule's glob), so EventBuilder does not run the model's validation on
        # them, which cost as much as reading the line; it still validates what the context and
        # location bring in. test_*_fast_built_events_equal_validated_* pins it against validation.
        return [self._events.event(location, reference, channel, Stage.arrived, at, matched.classification,
                                   matched.pattern)]

    def _verdict(self, path: str) -> _PathVerdict:
        found = self._paths.get(path)
        if found is None:
            if len(self._paths) >= _MAX_CACHED:  # scanners' endless paths must not grow memory
                self._paths.clear()
            found = self._paths[path] = self._path_verdict(path)
        return found

    def _path_verdict(self, path: str) -> _PathVerdict:
        for label, search in self._path_skips:
            if search(path):
                return _PathVerdict(skip=label)
        lowered = path.lower()
        return _PathVerdict(
            form=self._matched(self._config.rule_set, self._form_rules, lowered, path),
            page=self._matched(self._config.page_rule_set, self._page_rules, lowered, path),
        )

    def _matched(
        self, rule_set: str, globs: list[tuple[Callable[[str], Any], str]], lowered: str, path: str
    ) -> _Matched | None:
        for match, pattern in globs:
            if match(lowered):
                return _Matched(pattern, self._context.mapping.classify(rule_set, path))
        return None

    def _is_bot(self, agent: str) -> bool:
        found = self._agents.get(agent)
        if found is None:
            if len(self._agents) >= _MAX_CACHED:
                self._agents.clear()
            if agent in _EMPTY or not agent.strip():
                found = self._config.skip_empty_user_agent
            else:
                found = self._bot is not None and self._bot(agent) is not None
            self._agents[agent] = found
        return found

    # --- time ------------------------------------------------------------------------------

    def _clf_time(self, stamp: str, where: str) -> datetime:
        """'04/Mar/2024:09:12:00 +0100' (shape already checked) -> UTC.

        Rearranged as ISO 8601 for datetime.fromisoformat, which checks day, time and offset
        in C at half the cost of six int() and a datetime() (bench/parse_throughput.py)."""
        if stamp == self._last_time:  # lines of one second follow each other
            return self._last_at
        month = _MONTH_DIGITS.get(stamp[3:6])
        year = int(stamp[7:11])
        if month is None or not _FIRST_YEAR <= year <= _LAST_YEAR:
            raise RecordRejected(
                f"bad timestamp {_shown(stamp)} in {where}: expected dd/Mon/yyyy:HH:MM:SS +hhmm,"
                f" English month, year {_FIRST_YEAR}-{_LAST_YEAR}"
            )
        try:
            # fromisoformat carries offset minutes 60-99 into the hour, and hour 24 is ISO 8601's
            # midnight, which is left to no Python version to decide: both are no time a log writes.
            if stamp[24] > "5" or stamp[12:14] > "23":
                raise ValueError(stamp)
            local = datetime.fromisoformat(f"{stamp[7:11]}-{month}-{stamp[:2]}T{stamp[12:20]}{stamp[21:]}")
        except ValueError:
            raise RecordRejected(f"bad timestamp {_shown(stamp)} in {where}: no such date, time or offset") from None
        at = self._utc(local, stamp, where)
        self._last_time, self._last_at = stamp, at
        return at

    @staticmethod
    def _utc(value: datetime, raw: str, where: str) -> datetime:
        at = value.astimezone(timezone.utc)
        if not _FIRST_YEAR <= at.year <= _LAST_YEAR:
            raise RecordRejected(f"timestamp {_shown(raw)} in {where} is outside {_FIRST_YEAR}-{_LAST_YEAR} in UTC")
        return at

    def _json_time(self, value: object, name: str) -> datetime:
        expected = "expected ISO 8601 with offset, dd/Mon/yyyy:HH:MM:SS +hhmm, or epoch seconds"
        if isinstance(value, str):
            if _CLF_TIME_ONLY.fullmatch(value):
                return self._clf_time(value, name)
            if _ISO_TIME.fullmatch(value):
                try:
                    parsed = datetime.fromisoformat(value)
                except ValueError:
                    raise RecordRejected(f"bad timestamp {_shown(value)} in {name}: no such date or time") from None
                if not _FIRST_YEAR - 1 <= parsed.year <= _LAST_YEAR + 1:  # keeps astimezone from overflowing
                    raise RecordRejected(f"timestamp {_shown(value)} in {name} is outside {_FIRST_YEAR}-{_LAST_YEAR}")
                return self._utc(parsed, value, name)
            if not _EPOCH_TIME.fullmatch(value):
                raise RecordRejected(f"bad timestamp {_shown(value)} in {name}: {expected}")
            epoch: float = float(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            epoch = value
        else:
            raise RecordRejected(f"bad timestamp in {name}: a JSON {type(value).__name__}, {expected}")
        if not _EARLIEST_EPOCH <= epoch < _LATEST_EPOCH:  # also NaN, which compares false
            raise RecordRejected(f"timestamp {_shown(str(value))} in {name} is outside {_FIRST_YEAR}-{_LAST_YEAR}")
        return datetime.fromtimestamp(epoch, timezone.utc)


def _lookup(obj: dict[str, Any], names: list[str]) -> tuple[str, Any]:
    """The first of `names` holding a value that is not empty: (name, value); ('', '') if the
    fields are there but all empty, ('', _MISSING) if none of them is in the line."""
    seen = False
    for name in names:
        value = obj.get(name, _MISSING)
        if value is _MISSING and "." in name:
            value = _nested(obj, name)
        if value is _MISSING:
            continue
        seen = True
        if value is None or (isinstance(value, str) and value in _EMPTY):
            continue
        return name, value
    return ("", "") if seen else ("", _MISSING)


def _nested(obj: dict[str, Any], dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _replace(obj: dict[str, Any], dotted: str, placeholder: str) -> None:
    """Set the field `dotted` (flat, or reached through nested objects) to `placeholder` where present."""
    if dotted in obj:
        obj[dotted] = placeholder
        return
    *parents, last = dotted.split(".")
    for part in parents:
        obj = obj.get(part)  # type: ignore[assignment]
        if not isinstance(obj, dict):
            return
    if last in obj:
        obj[last] = placeholder


def _json_status(value: object, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _STATUS.fullmatch(value):
        return int(value)
    raise RecordRejected(f"bad status {_shown(str(value))} in {name}: expected a 3-digit HTTP status")


def _path(target: str, escaped: bool) -> str:
    """The request target's decoded path: no query string or fragment, no scheme and host."""
    cut = len(target)
    for mark in ("?", "#"):
        at = target.find(mark)
        if 0 <= at < cut:
            cut = at
    path = target[:cut]
    if path.startswith(("http://", "https://", "HTTP://", "HTTPS://")):  # absolute-form, as to a proxy
        slash = path.find("/", path.find("//") + 2)
        path = path[slash:] if slash >= 0 else "/"
    if escaped and "\\" in path:
        path = _ESCAPE.sub(_unescape_percent, path)
    if "%" in path:
        path = unquote(path, errors="replace")  # invalid escapes such as %zz stay as they are
    return path

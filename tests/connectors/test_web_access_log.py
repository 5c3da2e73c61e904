"""Web access-log lines -> self-service and web events, skips and rejections (connectors/web_access_log.py)."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.base import ConnectorContext, Location, RecordRejected, Skip
from connectors.web_access_log import AccessLogFormat, WebAccessLogConfig, WebAccessLogParser
from pipeline.ground.privacy import ContactKeyer
from schemas import Channel, Direction, InquiryEvent, InquiryKind, RequesterType, Stage, make_event_id
from tests.connectors import harness
from tests.connectors.adversarial import cases
from tests.connectors.built_events import assert_as_validated
from tests.connectors.harness import (
    DATA,
    KEYER,
    assert_no_line_stalls,
    check_record,
    context_of,
    parser_of,
    read_file,
    read_lines,
)

CONTEXT = context_of(DATA / "web_mapping.yaml")
NGINX_SAMPLE = DATA / "web_nginx_access.log"
JSON_SAMPLE = DATA / "web_nginx_access.jsonl"
SYSTEM = "www-kommune"
FILE = "/var/log/nginx/access.log"

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
)
PAS_PAGE = "/borger/pas-og-koerekort/pas"
FLYTNING_FORM = "/selvbetjening/flytning/send"


def combined(
    request: str = f"GET {PAS_PAGE} HTTP/1.1",
    status: int | str = 200,
    agent: str = CHROME,
    client: str = "192.0.2.10",
    time: str = "04/Mar/2024:09:12:00 +0100",
    referer: str = "https://www.google.com/",
    user: str = "-",
) -> str:
    return f'{client} - {user} [{time}] "{request}" {status} 1234 "{referer}" "{agent}"'


def json_line(**fields: object) -> str:
    line: dict[str, object] = {
        "time": "2024-03-04T09:12:00+01:00",
        "remote_addr": "192.0.2.10",
        "request_method": "GET",
        "request_uri": PAS_PAGE,
        "status": "200",
        "http_user_agent": CHROME,
    }
    line.update(fields)
    return json.dumps({name: value for name, value in line.items() if value is not None})


def make_parser(config: WebAccessLogConfig | None = None, context: ConnectorContext = CONTEXT) -> WebAccessLogParser:
    return parser_of(config or WebAccessLogConfig(system=SYSTEM), context, file=FILE)  # type: ignore[return-value]


def parse(line: bytes | str, config: WebAccessLogConfig | None = None, file: str = FILE, line_no: int = 7):
    return harness.parse(make_parser(config), line, Location(SYSTEM, file, line_no, 4096))


def one_event(line: bytes | str, config: WebAccessLogConfig | None = None) -> InquiryEvent:
    result = parse(line, config)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def rejection(line: bytes | str, config: WebAccessLogConfig | None = None) -> str:
    return harness.rejection(make_parser(config), line, Location(SYSTEM, FILE, 7, 4096))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def read_sample(path: Path) -> list[list[InquiryEvent] | Skip]:
    return read_lines(make_parser(), path, SYSTEM)


# --- what becomes an event ---------------------------------------------------------------------


def test_get_of_task_page_is_inbound_web_arrival_classified_by_its_rule():
    event = one_event(combined())

    assert event.channel is Channel.web
    assert (event.direction, event.stage) == (Direction.inbound, Stage.arrived)
    assert event.occurred_at == utc(2024, 3, 4, 8, 12)
    assert (event.task, event.task_label, event.department) == ("85.06.00", "Pas", "Borgerservice")
    assert (event.inquiry_kind, event.requester_type) == (InquiryKind.information, RequesterType.citizen)
    assert event.municipality == "751"
    assert (event.source.system, event.source.file, event.source.line, event.source.offset) == (SYSTEM, FILE, 7, 4096)


@pytest.mark.parametrize("status", [200, 201, 302, 303])
def test_successful_post_to_form_endpoint_is_self_service_arrival(status):
    event = one_event(combined(f"POST {FLYTNING_FORM} HTTP/1.1", status))

    assert event.channel is Channel.self_service
    assert (event.direction, event.stage) == (Direction.inbound, Stage.arrived)
    assert (event.task, event.department, event.inquiry_kind) == ("85.02.00", "Borgerservice", InquiryKind.transaction)
    assert event.wait_seconds is None and event.contact_key is None


def test_queue_is_the_matching_rule_glob_not_the_requested_path():
    event = one_event(combined("GET /borger/flytning/adresseaendring/Jens-Hansens-sag?id=7 HTTP/1.1"))
    assert event.queue == "/borger/flytning*"


def test_not_modified_304_still_counts_as_a_page_view():
    assert one_event(combined(status=304)).channel is Channel.web


def test_configured_put_is_a_form_method():
    config = WebAccessLogConfig(system=SYSTEM, form_methods=["POST", "put"])
    assert one_event(combined(f"PUT {FLYTNING_FORM} HTTP/1.1"), config).channel is Channel.self_service


def test_query_string_and_fragment_are_ignored_when_matching_rules():
    assert one_event(combined(f"GET {PAS_PAGE}?utm_source=fb&fbclid=x#top HTTP/1.1")).task == "85.06.00"
    assert one_event(combined(f"POST {FLYTNING_FORM}?step=3 HTTP/1.1")).channel is Channel.self_service


def test_rule_globs_match_case_insensitively():
    assert one_event(combined("GET /Borger/Pas-og-Koerekort/PAS HTTP/1.1")).task == "85.06.00"


def test_absolute_form_request_target_matches_by_its_path():
    assert one_event(combined(f"GET https://www.kommune.dk{PAS_PAGE}?x=1 HTTP/1.1")).task == "85.06.00"


def test_request_line_of_http_0_9_without_protocol_is_read():
    assert one_event(combined(f"GET {PAS_PAGE}")).task == "85.06.00"


# --- every format FORMATS.md names ------------------------------------------------------------------


def test_nginx_combined_with_appended_quoted_fields_is_read():
    line = combined() + ' "198.51.100.5" "0.012" "upstream=10.0.0.4:8080"'
    assert one_event(line).task == "85.06.00"


def test_apache_vhost_combined_is_read_past_its_host_port_prefix():
    line = "www.kommune.dk:443 " + combined(f"POST {FLYTNING_FORM} HTTP/1.1", 302)
    event = one_event(line)
    assert (event.channel, event.task) == (Channel.self_service, "85.02.00")


def test_common_log_format_without_referrer_and_user_agent_is_read():
    event = one_event(f'192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] "GET {PAS_PAGE} HTTP/1.0" 200 2326')
    assert (event.channel, event.task) == (Channel.web, "85.06.00")


def test_common_log_format_with_dash_size_and_vhost_is_read():
    event = one_event(
        f'intra.kommune.dk:80 192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] "GET {PAS_PAGE} HTTP/1.1" 304 -'
    )
    assert event.channel is Channel.web


@pytest.mark.parametrize("client", ["2001:db8:85a3::8a2e:370:7334", "::1", "::ffff:192.0.2.10", "fe80::1%eth0"])
def test_ipv6_client_is_read_and_never_carried(client):
    event = one_event(combined(client=client))
    assert event.task == "85.06.00"
    assert client not in event.model_dump_json()


def test_vhost_prefix_with_ipv6_client_is_read():
    event = one_event(
        "selvbetjening.kommune.dk:443 " + combined(f"POST {FLYTNING_FORM} HTTP/2.0", 303, client="2001:db8::7")
    )
    assert event.channel is Channel.self_service


FORWARDED_LINES = [
    # nginx behind a proxy logging $proxy_add_x_forwarded_for (or Apache %{X-Forwarded-For}i) as the client
    f'10.0.0.2, 10.0.0.1, 85.181.35.98 - - [10/Oct/2026:13:55:36 +0200] "GET {PAS_PAGE} HTTP/1.1" 200 5120'
    f' "-" "{CHROME}"',
    f'www.kommune.dk:443 10.0.0.2, 85.181.35.98 - - [10/Oct/2026:13:55:36 +0200] "GET {PAS_PAGE} HTTP/1.1" 200 5120',
    f'2001:db8::7, 10.0.0.1 - - [10/Oct/2026:13:55:36 +0200] "GET {PAS_PAGE} HTTP/1.1" 200 5120 "-" "{CHROME}"',
    f'unknown, 10.0.0.1 - - [10/Oct/2026:13:55:36 +0200] "GET {PAS_PAGE} HTTP/1.1" 200 5120 "-" "{CHROME}"',
]


@pytest.mark.parametrize("line", FORWARDED_LINES)
def test_client_field_holding_an_x_forwarded_for_list_is_read_and_never_carried(line):
    event = one_event(line)
    assert (event.channel, event.task) == (Channel.web, "85.06.00")
    assert event.occurred_at == utc(2026, 10, 10, 11, 55, 36)
    dumped = event.model_dump_json()
    for address in ("85.181.35.98", "10.0.0.2", "10.0.0.1", "2001:db8::7"):
        assert address not in dumped


def test_forwarded_for_list_counts_as_one_field_when_the_line_is_rejected():
    line = f'10.0.0.2, 10.0.0.1, 85.181.35.98 - - [10/Okt/2026:13:55:36 +0200] "GET {PAS_PAGE} HTTP/1.1" 200 1'
    reason = rejection(line)
    assert reason.startswith("bad timestamp") and "85.181" not in reason


@pytest.mark.parametrize(
    "agent",
    [
        r"Mozilla/5.0 (compatible; \"Quoted\" Browser/1.0)",  # Apache: \"
        r"Mozilla/5.0 (compatible; \x22Quoted\x22 Browser/1.0)",  # nginx: \x22
        r"Mozilla/5.0 \\ backslash \\\" both",
    ],
)
def test_escaped_quotes_in_user_agent_are_part_of_the_field(agent):
    event = one_event(combined(agent=agent))
    assert event.task == "85.06.00"


@pytest.mark.parametrize(
    "request_line",
    [
        r"GET /borger/pas-og-koerekort/pas?q=\"pas fornyelse\" HTTP/1.1",  # Apache
        r"GET /borger/pas-og-koerekort/pas?q=\x22pas\x22 HTTP/1.1",  # nginx
        r"GET /borger/pas-og-koerekort/pas\x22 HTTP/1.1",
    ],
)
def test_escaped_quotes_in_request_line_keep_the_line_readable(request_line):
    assert one_event(combined(request_line)).task == "85.06.00"


def test_invalid_percent_encoding_stays_literal_and_the_path_still_matches():
    event = one_event(combined("GET /borger/sundhedskort/%zz%C3-gammel%2 HTTP/1.1"))
    assert event.task == "27.24.00"


def test_percent_encoded_utf8_path_matches_a_danish_rule():
    assert one_event(combined("GET /borger/pas-og-koerekort/k%C3%B8rekort HTTP/1.1")).task == "85.08.00"
    form = one_event(combined("POST /api/formular/boligst%c3%b8tte HTTP/1.1", 201))
    assert (form.channel, form.task) == (Channel.self_service, "32.21.00")


def test_nginx_hex_escaped_utf8_bytes_in_path_are_decoded():
    assert one_event(combined(r"GET /borger/pas-og-koerekort/k\xC3\xB8rekort HTTP/1.1")).task == "85.08.00"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("04/Mar/2024:09:12:00 +0100", utc(2024, 3, 4, 8, 12)),
        ("04/Mar/2024:12:42:00 +0330", utc(2024, 3, 4, 9, 12)),  # Tehran
        ("04/Mar/2024:02:12:00 -0700", utc(2024, 3, 4, 9, 12)),
        ("04/Mar/2024:14:57:00 +0545", utc(2024, 3, 4, 9, 12)),  # Kathmandu
        ("31/Mar/2024:03:30:00 +0200", utc(2024, 3, 31, 1, 30)),  # first hour of Danish summer time
        ("01/Jan/2024:00:30:00 +0100", utc(2023, 12, 31, 23, 30)),  # across the year in UTC
        ("04/Mar/2024:09:12:00 +0000", utc(2024, 3, 4, 9, 12)),
    ],
)
def test_offset_of_the_time_field_converts_to_utc(stamp, expected):
    assert one_event(combined(time=stamp)).occurred_at == expected


_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _strptime_utc(stamp: str) -> datetime | None:
    """The reference reading of a [time] field: None where the connector must reject it."""
    if stamp[3:6] not in _MONTH_NAMES or not 2000 <= int(stamp[7:11]) <= 2099:  # strptime ignores case
        return None
    try:
        at = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").astimezone(timezone.utc)
    except ValueError:
        return None
    return at if 2000 <= at.year <= 2099 else None


def _two_digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


@settings(max_examples=1000, deadline=None)
@given(
    day=_two_digits(0, 32), month=st.sampled_from([*_MONTH_NAMES, "mar", "MAR", "Mrz"]),
    year=st.sampled_from(["1999", "2000", "2024", "2099", "2100"]), hour=_two_digits(0, 25),
    minute=_two_digits(0, 61), second=_two_digits(0, 61), sign=st.sampled_from("+-"),
    offset_hours=_two_digits(0, 25), offset_minutes=_two_digits(0, 99), previous=st.booleans(),
)  # fmt: skip
def test_time_field_reads_as_strptime_does_or_rejects_the_line(
    day, month, year, hour, minute, second, sign, offset_hours, offset_minutes, previous
):
    stamp = f"{day}/{month}/{year}:{hour}:{minute}:{second} {sign}{offset_hours}{offset_minutes}"
    parser = make_parser()
    if previous:  # the time of the line before is remembered: it must not leak into this one
        parser.parse(combined().encode(), Location(SYSTEM, FILE, 1, 0))
    expected = _strptime_utc(stamp)
    try:
        result = parser.parse(combined(time=stamp).encode(), Location(SYSTEM, FILE, 2, 0))
    except RecordRejected as exc:
        assert expected is None, exc.reason
        assert repr(stamp) in exc.reason  # the reason names the time as written
        return
    assert isinstance(result, list) and result[0].occurred_at == expected
    assert result[0].occurred_at.tzinfo is timezone.utc


def test_crlf_line_reads_like_lf_with_the_same_event_id():
    line = combined()
    assert one_event(line + "\r").event_id == one_event(line).event_id


# --- JSON access logs ----------------------------------------------------------------------------


def test_nginx_json_line_with_iso_time_is_a_web_arrival():
    event = one_event(json_line(request_uri=f"{PAS_PAGE}?ref=nyhedsbrev"))
    assert (event.channel, event.task, event.occurred_at) == (Channel.web, "85.06.00", utc(2024, 3, 4, 8, 12))


def test_json_post_to_form_with_numeric_status_is_self_service():
    event = one_event(json_line(request_method="POST", request_uri=FLYTNING_FORM, status=302))
    assert (event.channel, event.task) == (Channel.self_service, "85.02.00")


@pytest.mark.parametrize(
    "time_fields",
    [
        {"time": None, "time_local": "04/Mar/2024:12:42:00 +0330"},
        {"time": None, "@timestamp": "2024-03-04T09:12:00.000Z"},
        {"time": None, "time_iso8601": "2024-03-04T10:12:00+01:00"},
        {"time": None, "msec": "1709543520.123"},
        {"time": 1709543520},
        {"time": "2024-03-04T11:12:00+0200"},
    ],
)
def test_json_time_fields_of_common_nginx_setups_convert_to_utc(time_fields):
    event = one_event(json_line(**time_fields))
    assert event.occurred_at.replace(microsecond=0) == utc(2024, 3, 4, 9, 12)


def test_json_line_with_only_a_request_line_field_is_read():
    event = one_event(json_line(request_method=None, request_uri=None, request=f"POST {FLYTNING_FORM} HTTP/1.1"))
    assert event.channel is Channel.self_service


def test_json_uri_field_name_from_config_is_read():
    config = WebAccessLogConfig(system=SYSTEM, json_fields={"uri": ["path_only"]})
    assert one_event(json_line(request_uri=None, path_only=PAS_PAGE), config).task == "85.06.00"


def test_json_in_elastic_common_schema_nesting_is_read():
    line = json.dumps(
        {
            "@timestamp": "2024-03-04T08:12:00Z",
            "source": {"ip": "192.0.2.10"},
            "http": {"request": {"method": "POST"}, "response": {"status_code": 303}},
            "url": {"original": f"{FLYTNING_FORM}?x=1"},
            "user_agent": {"original": CHROME},
        }
    )
    event = one_event(line)
    assert (event.channel, event.task) == (Channel.self_service, "85.02.00")


def test_json_bot_is_recognised_by_its_user_agent_field():
    assert parse(json_line(http_user_agent="Mozilla/5.0 (compatible; bingbot/2.0)")) == Skip(reason="bot")


def test_json_line_with_escaped_quotes_in_uri_is_read():
    assert one_event(json_line(request_uri=PAS_PAGE + '?q="pas"')).task == "85.06.00"


def test_format_combined_does_not_guess_json():
    reason = rejection(json_line(), WebAccessLogConfig(system=SYSTEM, format=AccessLogFormat.combined))
    assert "format is 'combined'" in reason


def test_format_json_rejects_a_combined_line_as_not_json():
    assert rejection(combined(), WebAccessLogConfig(system=SYSTEM, format="json")).startswith("not JSON")


# --- skipped lines, counted by reason ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (combined(agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), "bot"),
        (combined(agent="Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"), "bot"),
        (combined(agent="curl/8.5.0"), "bot"),
        (combined(agent="Wget/1.21.4"), "bot"),
        (combined(agent="python-requests/2.31.0"), "bot"),
        (combined(agent="Go-http-client/1.1"), "bot"),
        (combined(agent="Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"), "bot"),
        (combined(agent="Zabbix"), "bot"),
        (combined(agent="Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"), "bot"),
        (combined(agent="Screaming Frog SEO Spider/19.4"), "bot"),
        (combined(agent="-"), "bot"),
        (combined(agent=""), "bot"),
        (combined("GET /static/css/main.3f2a1c.css HTTP/1.1"), "static asset"),
        (combined("GET /static/js/app.js?v=12 HTTP/1.1"), "static asset"),
        (combined("GET /media/logo.SVG HTTP/1.1"), "static asset"),
        (combined("GET /images/forside.jpg HTTP/1.1"), "static asset"),
        (combined("GET /fonts/roboto.woff2 HTTP/1.1"), "static asset"),
        (combined("GET /favicon.ico HTTP/1.1"), "static asset"),
        (combined("GET /robots.txt HTTP/1.1"), "static asset"),
        (combined("GET /borger/pas-og-koerekort/pas.png HTTP/1.1"), "static asset"),  # before the page rule
        (combined("GET /health HTTP/1.1", agent="kube-probe/1.28"), "health check"),
        (combined("GET /healthz HTTP/1.1"), "health check"),
        (combined("GET /metrics HTTP/1.1"), "health check"),
        (combined("GET /server-status?auto HTTP/1.1"), "health check"),
        (combined(status=404), "status 4xx/5xx"),
        (combined(status=499), "status 4xx/5xx"),
        (combined(f"POST {FLYTNING_FORM} HTTP/1.1", 500), "status 4xx/5xx"),
        (combined(f"POST {FLYTNING_FORM} HTTP/1.1", 422), "status 4xx/5xx"),
        (combined(status=101), "status 1xx"),
        (combined(f"HEAD {PAS_PAGE} HTTP/1.1"), "method"),
        (combined(f"OPTIONS {FLYTNING_FORM} HTTP/1.1", 204), "method"),
        (combined(f"DELETE {FLYTNING_FORM} HTTP/1.1"), "method"),
        (combined(f"get {PAS_PAGE} HTTP/1.1"), "method"),  # methods are case-sensitive
        (combined("GET /kontakt HTTP/1.1"), "not a form or task page"),
        (combined("GET / HTTP/1.1"), "not a form or task page"),
        (combined("POST /kontakt/skriv-til-os HTTP/1.1"), "not a form or task page"),
        (combined(f"POST {PAS_PAGE} HTTP/1.1"), "not a form or task page"),  # a page is no form
        (combined(f"GET {FLYTNING_FORM} HTTP/1.1"), "not a form or task page"),  # a form endpoint is no page
        (combined(status=301), "redirect"),
        (combined(status=302), "redirect"),
        (combined("-", 200), "no request line"),
        (combined("-", 408), "status 4xx/5xx"),
        (combined(r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03", 400, agent="-"), "status 4xx/5xx"),
        (json_line(status=404), "status 4xx/5xx"),
        (json_line(request_uri="/assets/app.css"), "static asset"),
        (json_line(request_method="", request_uri=""), "no request line"),
    ],
)
def test_line_that_is_no_form_or_page_view_is_skipped_by_reason(line, reason):
    assert parse(line) == Skip(reason=reason)


@pytest.mark.parametrize(
    "agent",
    [
        CHROME,
        "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 Version/17.3 Mobile/15E148",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    ],
)
def test_browsers_are_not_bots(agent):
    assert one_event(combined(agent=agent)).channel is Channel.web


def test_empty_user_agent_counts_when_configured_so():
    config = WebAccessLogConfig(system=SYSTEM, skip_empty_user_agent=False)
    assert one_event(combined(agent="-"), config).channel is Channel.web


def test_configured_skip_path_label_is_the_skip_reason():
    config = WebAccessLogConfig(system=SYSTEM, skip_path_patterns={"preview": [r"^/borger/.*/pas$"]})
    assert parse(combined(), config) == Skip(reason="preview")
    assert parse(combined("GET /favicon.ico HTTP/1.1"), config) == Skip(reason="not a form or task page")


def test_no_bot_patterns_lets_every_user_agent_through():
    config = WebAccessLogConfig(system=SYSTEM, skip_user_agent_patterns=[])
    assert one_event(combined(agent="curl/8.5.0"), config).channel is Channel.web


def test_missing_rule_set_skips_every_request_as_no_form_or_page():
    config = WebAccessLogConfig(system=SYSTEM, page_rule_set="no_such_rules")
    assert parse(combined(), config) == Skip(reason="not a form or task page")


# --- personal data never reaches an event ---------------------------------------------------------

PERSONAL_LINES = [
    combined(
        f"POST {FLYTNING_FORM}?cpr=0101901234&email=jens@example.dk HTTP/1.1", 302,
        client="198.51.100.77", user="jens.hansen", referer="https://www.kommune.dk/flyt?navn=Jens+Hansen",
        agent="Mozilla/5.0 UniqueAgentString/9.9",
    ),
    "www.kommune.dk:443 " + combined(client="2001:db8:beef::77", agent="Mozilla/5.0 UniqueAgentString/9.9",
                                     referer="https://search.example/?q=Jens+Hansen"),
    json_line(remote_addr="198.51.100.77", remote_user="jens.hansen", http_x_forwarded_for="203.0.113.77",
              http_user_agent="Mozilla/5.0 UniqueAgentString/9.9", request_uri=f"{PAS_PAGE}?cpr=0101901234",
              http_referer="https://www.kommune.dk/flyt?navn=Jens+Hansen"),
]  # fmt: skip


@pytest.mark.parametrize("line", PERSONAL_LINES)
def test_client_address_user_agent_query_and_referrer_never_appear_in_event_json(line):
    dumped = one_event(line).model_dump_json()
    for secret in ("198.51.100.77", "2001:db8:beef::77", "203.0.113.77", "UniqueAgentString", "jens",
                   "0101901234", "Hansen", "cpr", "?", "google", "search.example"):  # fmt: skip
        assert secret not in dumped


# --- event ids ------------------------------------------------------------------------------------


def test_reparsing_a_line_gives_the_same_event_id_also_from_a_rotated_file():
    line = combined(f"POST {FLYTNING_FORM} HTTP/1.1", 302)
    first = one_event(line)
    again = parse(line, file=FILE + ".1", line_no=9999)
    assert isinstance(again, list) and again[0].event_id == first.event_id


def test_event_id_is_derived_from_the_keyed_line_not_the_raw_one():
    line = combined()
    assert one_event(line).event_id == make_event_id(SYSTEM, KEYER.key(line), "arrived")
    other_secret = ConnectorContext(municipality="751", mapping=CONTEXT.mapping, keyer=ContactKeyer(b"other"))
    result = make_parser(context=other_secret).parse(line.encode(), Location(SYSTEM, FILE, 1, 0))
    assert isinstance(result, list) and result[0].event_id != one_event(line).event_id


def test_same_request_from_two_clients_in_one_second_gives_two_event_ids():
    assert one_event(combined(client="192.0.2.10")).event_id != one_event(combined(client="192.0.2.11")).event_id


def test_byte_identical_lines_collapse_into_one_event_id():
    line = combined(f"POST {FLYTNING_FORM} HTTP/1.1", 302)
    ids = {one_event(line).event_id for _ in range(3)}
    assert len(ids) == 1


def test_event_id_includes_the_system():
    line = combined()
    other = make_parser().parse(line.encode(), Location("www-other", FILE, 1, 0))
    assert isinstance(other, list) and other[0].event_id != one_event(line).event_id


# --- samples ------------------------------------------------------------------------------------------


def test_nginx_sample_reads_end_to_end_without_rejections():
    """tests/data/web_nginx_access.log is synthetic, in nginx's combined format with one appended
    quoted field ($http_x_forwarded_for): IPv6, \\x22 escapes, a TLS handshake, %zz, a 301 before its 200."""
    results = read_sample(NGINX_SAMPLE)
    emitted = [event for result in results if isinstance(result, list) for event in result]
    skipped = Counter(result.reason for result in results if isinstance(result, Skip))

    assert Counter(event.channel for event in emitted) == {Channel.web: 6, Channel.self_service: 3}
    assert Counter(e.task for e in emitted if e.channel is Channel.self_service) == {
        "85.02.00": 1, "85.06.00": 1, "32.21.00": 1
    }  # fmt: skip
    assert skipped == {
        "static asset": 3, "status 4xx/5xx": 4, "bot": 2, "health check": 1, "not a form or task page": 2,
        "method": 2, "redirect": 1,
    }  # fmt: skip
    assert len({event.event_id for event in emitted}) == len(emitted)
    text = NGINX_SAMPLE.read_text()
    for address in {line.split(" ")[0] for line in text.splitlines()}:
        assert all(address not in event.model_dump_json() for event in emitted)


def test_json_sample_reads_end_to_end_without_rejections():
    """tests/data/web_nginx_access.jsonl is synthetic, nginx `log_format ... escape=json` with $time_iso8601."""
    results = read_sample(JSON_SAMPLE)
    emitted = [event for result in results if isinstance(result, list) for event in result]
    skipped = Counter(result.reason for result in results if isinstance(result, Skip))

    assert [(e.channel, e.task) for e in emitted] == [
        (Channel.web, "85.06.00"), (Channel.self_service, "85.02.00"), (Channel.self_service, "07.18.00")
    ]  # fmt: skip
    assert skipped == {
        "static asset": 1,
        "bot": 1,
        "not a form or task page": 1,
        "status 4xx/5xx": 1,
        "health check": 1,
    }


@pytest.mark.parametrize(
    "line",
    [
        *NGINX_SAMPLE.read_text().splitlines(),
        *JSON_SAMPLE.read_text().splitlines(),
        json_line(time="2024-03-04T08:12:00.123456Z"),
        json_line(time="2024-03-04 09:12:00,5+0100"),
        json_line(time="04/Mar/2024:09:12:00 -0930"),
        json_line(time=None, msec="1709543520.123"),
        json_line(time=None, msec=1709543520),
        json_line(request_method="POST", request_uri=FLYTNING_FORM, status=302),
        combined(time="31/Dec/2099:23:59:59 +0000"),
        combined(time="01/Jan/2000:00:00:00 +0000", request=f"POST {FLYTNING_FORM} HTTP/1.1", status=303),
    ],
)
def test_fast_built_events_equal_validated_ones_with_the_whole_classification_and_source(line):
    """Events are built by EventBuilder without InquiryEvent's validation; every event of both
    samples and of every kind of time pins that nothing is lost and that each is exactly what
    validation makes of its values and of its JSON."""
    location = Location(SYSTEM, FILE, 3, 512)
    result = make_parser().parse(line.encode(), location)
    for event in result if isinstance(result, list) else ():
        rule_set = "web_form" if event.channel is Channel.self_service else "web_page"
        classification = CONTEXT.mapping.classify(rule_set, event.queue)
        assert event.model_dump(include=set(classification.event_fields())) == classification.model_dump()
        assert event.source == location.source_ref()
        assert_as_validated(event)


def test_values_the_parser_does_not_make_are_still_validated_by_the_event_model():
    """A bad municipality in the context: the runtime turns the ValidationError into a dead letter."""
    bad_context = ConnectorContext(municipality="75", mapping=CONTEXT.mapping, keyer=KEYER)
    with pytest.raises(ValidationError, match="municipality"):
        make_parser(context=bad_context).parse(combined().encode(), Location(SYSTEM, FILE, 1, 0))


@pytest.mark.parametrize("record", [b"", b"   ", b"\t", b" \t \r", b"\x0b\x0c"])
@pytest.mark.parametrize("fmt", ["auto", "combined", "json"])
def test_blank_line_is_a_counted_skip_not_a_rejection(record, fmt):
    assert parse(record, WebAccessLogConfig(system=SYSTEM, format=fmt)) == Skip(reason="blank line")


# --- rejected lines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (combined(agent="Mozilla/5.0 \xe5").encode("latin-1"), "invalid UTF-8 at byte"),
        (b"hello world", "no [time] field: expected a combined or common log line"),
        (b'192.0.2.10 - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 200 1', "2 fields before [time], expected 3"),
        (b' - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 200 1', "empty field before [time]"),
        (combined(time="2024-03-04 09:12:00"), "bad timestamp '2024-03-04 09:12:00': expected dd/Mon/yyyy:HH:MM:SS"),
        (combined(time="04/Mar/2024:09:12:00"), "bad timestamp '04/Mar/2024:09:12:00': expected"),
        (combined(time="04/Mrz/2024:09:12:00 +0100"), "bad timestamp '04/Mrz/2024:09:12:00 +0100' in [time]"),
        (combined(time="30/Feb/2024:09:12:00 +0100"), "bad timestamp '30/Feb/2024:09:12:00 +0100' in [time]: no such"),
        (combined(time="04/Mar/2024:25:12:00 +0100"), "no such date, time or offset"),
        (combined(time="04/Mar/2024:09:12:00 +0175"), "no such date, time or offset"),
        (combined(time="04/Mar/2024:09:12:00 +2500"), "no such date, time or offset"),
        (combined(time="04/Mar/1999:09:12:00 +0100"), "year 2000-2099"),
        (combined(time="01/Jan/2000:00:30:00 +0100"), "is outside 2000-2099 in UTC"),
        (combined(status="2000"), "bad status '2000' after the request line: expected a 3-digit HTTP status"),
        (combined(status="-"), "bad status '-'"),
        (combined(status="099"), "bad status '099': expected an HTTP status from 100 to 599"),
        (combined(status="600"), "bad status '600'"),
        (b"192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] GET / HTTP/1.1 200 1", "no quoted request line after [time]"),
        (b'192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" "x" 200 1', "bad status '\"x\"' after"),
        (b'192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 200', "no response size after the status"),
        (b'{"time": "2024-03-04T09:12:00+01:00", "status": 200', "not JSON: "),
        (b'{"time": "x\\x22"}', "not JSON: "),
        (b"[1, 2]", "no [time] field"),  # auto: only '{' means JSON
        (json_line(time=None), "no time: none of the fields ['time', 'time_iso8601'"),
        (json_line(time="-"), "no time: none of the fields"),
        (json_line(time="yesterday"), "bad timestamp 'yesterday' in time: expected ISO 8601 with offset"),
        (json_line(time="2024-03-04T09:12:00"), "bad timestamp '2024-03-04T09:12:00' in time"),  # no offset
        (json_line(time="2024-02-30T09:12:00+01:00"), "bad timestamp '2024-02-30T09:12:00+01:00' in time: no such"),
        (json_line(time=True), "bad timestamp in time: a JSON bool"),
        (json_line(time={"a": 1}), "bad timestamp in time: a JSON dict"),
        (json_line(time=123), "timestamp '123' in time is outside 2000-2099"),
        (json_line(time=1e300), "is outside 2000-2099"),
        (json_line(time="2099-12-31T23:30:00-01:00"), "is outside 2000-2099 in UTC"),
        (json_line(status=None), "no status: none of the fields ['status'"),
        (json_line(status="OK"), "bad status 'OK' in status: expected a 3-digit HTTP status"),
        (json_line(status=2.5), "bad status '2.5' in status"),
        (json_line(status=99), "bad status '99': expected an HTTP status from 100 to 599"),
        (json_line(request_method=None), "no request: none of the fields"),
        (json_line(request_uri=None, request_method=None, request=["GET"]), "request is list"),
        (json_line(request_uri=7), "request method and uri must be strings"),
    ],
)
def test_malformed_line_is_rejected_with_an_actionable_reason(line, reason):
    assert reason in rejection(line)


def test_json_array_line_is_rejected_as_not_an_object():
    assert rejection(b"[1, 2]", WebAccessLogConfig(system=SYSTEM, format="json")).startswith("JSON list where one")


def test_rejection_reason_never_shows_a_client_address():
    reason = rejection('192.0.2.10 - - [192.0.2.10 2001:db8::1] "GET / HTTP/1.1" 200 1')
    assert reason.startswith("bad timestamp")
    assert "192.0.2.10" not in reason and "2001:db8::1" not in reason


def test_rejection_reason_masks_a_phone_number_in_a_bad_value():
    reason = rejection(json_line(status="+4512345678"))
    assert reason.startswith("bad status") and "12345678" not in reason


# --- redact: what a rejected line keeps ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '192.0.2.10 - jens [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 2000 1 "-" "Chrome/122.0.0.0"',
            '<client> - <user> [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 2000 1 "-" "Chrome/122.0.0.0"',
        ),
        (
            'www.kommune.dk:443 2001:db8::1 - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" x 1',
            'www.kommune.dk:443 <client> - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" x 1',
        ),
        (
            'dsl-82-1-2-3.isp.dk - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" x 1 "-" "-" "198.51.100.5, 10.0.0.1"',
            '<client> - - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" x 1 "-" "-" "<ip>, <ip>"',
        ),
        (
            "garbage 192.0.2.10 more ::1 and [2001:db8::7]:443 at 09:12:00",
            "garbage <ip> more <ip> and [<ip>]:443 at 09:12:00",
        ),
    ],
)
def test_redact_blanks_client_user_and_every_ip_address_in_a_rejected_line(line, expected):
    assert make_parser().redact(line) == expected


def test_redact_blanks_client_user_and_forwarded_for_fields_of_a_json_line():
    line = json_line(remote_addr="192.0.2.10", remote_user="jens", http_x_forwarded_for="198.51.100.5", time="x")
    redacted = json.loads(make_parser().redact(line))
    assert (redacted["remote_addr"], redacted["remote_user"], redacted["http_x_forwarded_for"]) == (
        "<client>", "<user>", "<client>"
    )  # fmt: skip
    assert redacted["request_uri"] == PAS_PAGE and redacted["time"] == "x"


def test_redact_of_broken_json_still_blanks_addresses():
    # was '{"remote_addr": "<ip>", ': a line that is not JSON now keeps no value but time, status and method
    assert make_parser().redact('{"remote_addr": "192.0.2.10", ') == '{"remote_addr": "<redacted>", '


def test_redact_of_a_forwarded_for_list_blanks_every_address_and_the_user():
    line = '10.0.0.2, 10.0.0.1, 85.181.35.98 - jens [10/Okt/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1'
    assert make_parser().redact(line) == '<client> - <user> [10/Okt/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1'


def test_redact_of_a_json_line_blanks_bodies_query_strings_cookies_authorization_and_urls_addresses():
    line = json_line(
        time="yesterday", remote_user="jens", request_body="username=jens&password=hemmelig1234",
        request_uri="/login?token=abc123&cpr=0101901234", args="token=abc123&cpr=0101901234",
        http_referer="https://85.181.35.98:8443/borger/pas?navn=Jens+Hansen", http_cookie="session=s3cr3t; consent=1",
        http_authorization="Basic amVuczpoZW1tZWxpZw==", http_x_forwarded_for="85.181.35.98, 10.0.0.1",
        arg_email="jens@example.dk", cookie_session="s3cr3t",
    )  # fmt: skip
    redacted = make_parser().redact(line)
    for secret in ("hemmelig", "jens", "abc123", "0101901234", "85.181.35.98", "Hansen", "s3cr3t", "amVucz",
                   "10.0.0.1"):  # fmt: skip
        assert secret not in redacted, secret
    fields = json.loads(redacted)
    assert fields["request_uri"] == "/login?<redacted>"  # the path stays readable
    assert fields["http_referer"] == "https://<ip>:8443/borger/pas?<redacted>"
    assert fields["request_body"] == fields["args"] == fields["http_cookie"] == "<redacted>"
    assert fields["http_user_agent"] == CHROME and fields["time"] == "yesterday" and fields["status"] == "200"


def test_redact_of_a_json_line_in_elastic_common_schema_blanks_nested_bodies_queries_and_headers():
    line = json.dumps({
        "@timestamp": "x", "source": {"ip": "85.181.35.98"}, "user": {"name": "jens"},
        "url": {"original": "/borger/pas?cpr=0101901234", "query": "cpr=0101901234"},
        "http": {"request": {"method": "POST", "body": {"content": "password=hemmelig"},
                             "referrer": "https://jens:pw@www.kommune.dk/x?y=z"}},
        "request": {"headers": {"Cookie": ["sid=s3cr3t"], "Authorization": ["Bearer abc.def"]}},
    })  # fmt: skip
    redacted = make_parser().redact(line)
    for secret in ("85.181", "jens", "0101901234", "hemmelig", "s3cr3t", "abc.def", "pw@", "y=z"):
        assert secret not in redacted, secret
    assert '"method":"POST"' in redacted and "www.kommune.dk/x?<redacted>" in redacted


def test_redact_of_a_combined_line_blanks_query_strings_addresses_in_urls_and_secret_extra_fields():
    line = (
        '192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] "GET /login?user=jens&pw=hemmelig HTTP/1.1" x 1'
        ' "http://85.181.35.98/borger?cpr=0101901234" "Mozilla/5.0 (192.0.2.77)" "sid=s3cr3t; consent=1"'
        ' "Bearer abc.def" "0.120"'
    )
    redacted = make_parser().redact(line)
    for secret in ("jens", "hemmelig", "85.181", "0101901234", "192.0.2.77", "s3cr3t", "abc.def"):
        assert secret not in redacted, secret
    assert redacted == (
        '<client> - - [04/Mar/2024:09:12:00 +0100] "GET /login?<redacted> HTTP/1.1" x 1'
        ' "http://<ip>/borger?<redacted>" "Mozilla/5.0 (<ip>)" "<redacted>" "<redacted>" "0.120"'
    )


def test_redact_of_broken_json_keeps_keys_and_the_time_status_and_method_only():
    line = '{"time": "2024-03-04T09:12:00+01:00", "status": 200, "request_method": "POST", "request_body": "pw=x'
    assert make_parser().redact(line) == (
        '{"time": "2024-03-04T09:12:00+01:00", "status": 200, "request_method": "POST", "request_body": "<redacted>"'
    )
    assert "hemmelig" not in make_parser().redact('{"a": ["jens", "hemmelig"], "b": "x\\"y", "c": tru')


async def test_dead_letter_of_a_json_line_carries_no_password_body_or_address_in_a_referrer(tmp_path):
    path = tmp_path / "forms.access.log"
    path.write_text(json_line(status="OK", request_body="username=jens&password=hemmelig1234",
                              http_referer="https://85.181.35.98/login") + "\n")  # fmt: skip

    sink, _ = await read_file(WebAccessLogConfig(system=SYSTEM), path, context=CONTEXT)
    [letter] = sink.dead_letters
    assert letter.reason.startswith("bad status 'OK'")
    for secret in ("hemmelig", "jens", "85.181.35.98", "192.0.2.10"):
        assert secret not in letter.raw, secret
    assert '"request_body":"<redacted>"' in letter.raw and "https://<ip>/login" in letter.raw


def test_personal_fields_are_configurable_by_name_path_and_prefix():
    config = WebAccessLogConfig(system=SYSTEM, personal_fields=["x_kunde", "meta.borger", "hdr_*"])
    line = json.dumps({"time": "x", "x_kunde": "Jens", "meta": {"borger": "Hans"}, "hdr_x_id": "Ole",
                       "request_body": "Grete"})  # fmt: skip
    fields = json.loads(make_parser(config).redact(line))
    assert (fields["x_kunde"], fields["meta"]["borger"], fields["hdr_x_id"]) == ("<redacted>",) * 3
    assert fields["request_body"] == "Grete"  # the configured list replaces the defaults




# --- config ------------------------------------------------------------------------------------------


def test_default_config_loads_with_the_documented_defaults():
    config = WebAccessLogConfig()
    assert (config.system, config.format, config.rule_set, config.page_rule_set) == (
        "web", AccessLogFormat.auto, "web_form", "web_page"
    )  # fmt: skip
    assert (config.form_methods, config.page_methods) == (["POST"], ["GET"])
    assert WebAccessLogConfig.model_validate({"form_rule_set": "forms"}).rule_set == "forms"  # its former name
    assert set(config.skip_path_patterns) == {"static asset", "health check"}
    assert WebAccessLogParser.kind == "web_access_log"


@pytest.mark.parametrize(
    "settings_",
    [
        {"sytem": "www"},
        {"format": "csv"},
        {"skip_user_agent_patterns": ["(unclosed"]},
        {"skip_path_patterns": {"static asset": ["[a-"]}},
        {"skip_path_patterns": {" ": ["x"]}},
        {"form_methods": []},
        {"form_methods": ["PO ST"]},
        {"form_methods": ["POST", "GET"]},  # GET is already a page method
        {"json_fields": {"tim": ["time"]}},
        {"json_fields": {"time": []}},
    ],
)
def test_config_refuses_what_cannot_work(settings_):
    with pytest.raises(ValidationError):
        WebAccessLogConfig.model_validate(settings_)


# --- no input makes the parser raise anything but RecordRejected, and every event is valid --------

_PARSER = make_parser()


def _check(record: bytes) -> None:
    check_record(_PARSER, record, Location(SYSTEM, FILE, 1, 0))


_TEXT = st.text(max_size=30)
_CLIENT = st.one_of(st.ip_addresses().map(str), st.sampled_from(["-", "", "host.isp.dk"]), _TEXT)
_STAMP = st.one_of(
    st.builds(
        lambda d, sign, hh, mm: d.strftime("%d/%b/%Y:%H:%M:%S ") + f"{sign}{hh:02d}{mm:02d}",
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1)),
        st.sampled_from("+-"),
        st.integers(0, 30),
        st.integers(0, 99),
    ),
    _TEXT,
)
_PATH = st.one_of(
    st.sampled_from([PAS_PAGE, FLYTNING_FORM, "/", "/favicon.ico", "/healthz", "/x.css", "-", "*"]),
    st.text(max_size=30).map(lambda s: "/" + s),
    st.from_regex(r"/[a-z%\\x0-9A-F?#\"]{0,20}", fullmatch=True),
)
_REQUEST = st.one_of(
    st.builds(
        lambda method, path, protocol: " ".join(part for part in (method, path, protocol) if part),
        st.sampled_from(["GET", "POST", "HEAD", "PUT", "", "get"]),
        _PATH,
        st.sampled_from(["HTTP/1.1", "HTTP/2.0", ""]),
    ),
    st.just("-"),
    _TEXT,
)
_STATUS = st.one_of(
    st.sampled_from(["200", "201", "302", "304", "404", "500", "101"]), st.integers(0, 1000).map(str), _TEXT
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_yield_events_skip_or_rejection_only(record):
    _check(record)


@settings(max_examples=600, deadline=None)
@given(
    vhost=st.one_of(st.just(""), st.just("www.kommune.dk:443 ")),
    client=_CLIENT,
    stamp=_STAMP,
    request=_REQUEST,
    status=_STATUS,
    tail=st.one_of(st.just(""), st.builds(lambda r, a: f' "{r}" "{a}"', _TEXT, _TEXT), _TEXT),
)
def test_fuzzed_combined_lines_yield_events_skip_or_rejection_only(vhost, client, stamp, request, status, tail):
    line = f'{vhost}{client} - - [{stamp}] "{request}" {status} 12{tail}'
    _check(line.encode("utf-8", "surrogatepass"))


_JSON_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TEXT,
    st.sampled_from(["2024-03-04T09:12:00+01:00", "04/Mar/2024:09:12:00 +0100", "1709543520.5", "200", "302",
                     "POST", "GET", PAS_PAGE, FLYTNING_FORM, "-", ""]),
    st.dictionaries(_TEXT, st.integers(), max_size=2), st.lists(st.integers(), max_size=2),
)  # fmt: skip
_JSON_KEYS = st.sampled_from(
    ["time", "time_local", "msec", "status", "request_method", "request_uri", "request", "http_user_agent", "x"]
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_JSON_KEYS, _JSON_VALUE, max_size=9))
def test_fuzzed_json_lines_yield_events_skip_or_rejection_only(fields):
    _check(json.dumps(fields).encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None)
@given(prefix=_TEXT, address=st.ip_addresses(), suffix=_TEXT)
def test_redact_never_raises_and_leaves_no_inserted_address(prefix, address, suffix):
    line = f'{address} - - [04/Mar/2024:09:12:00 +0100] "{prefix}" 200 1 " {address} " {suffix}'
    redacted = make_parser().redact(line)
    assert f" {address} " not in f" {redacted} "
    for token in redacted.replace('"', " ").split():
        try:
            assert ipaddress.ip_address(token) != address
        except ValueError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_redact_of_arbitrary_text_never_raises(text):
    assert isinstance(make_parser().redact(text), str)


# --- no line stalls the parser --------------------------------------------------------------------

_HEAD = '192.0.2.10 - - [04/Mar/2024:09:12:00 +0100] '


@pytest.mark.parametrize("text", cases({
    "long path": _HEAD + '"GET /' + "a" * 1_000_000 + ' HTTP/1.1" 200 1 "-" "Mozilla/5.0"',
    "long task path": _HEAD + '"GET /borger/' + "pas/" * 250_000 + ' HTTP/1.1" 200 1 "-" "Mozilla/5.0"',
    "percent path": _HEAD + '"GET /' + "%" * 1_000_000 + ' HTTP/1.1" 200 1 "-" "Mozilla/5.0"',
    "escaped path": _HEAD + '"GET /' + "\\x" * 500_000 + ' HTTP/1.1" 200 1 "-" "Mozilla/5.0"',
    "long user agent": _HEAD + f'"GET {PAS_PAGE} HTTP/1.1" 200 1 "-" "' + "cubo" * 250_000 + '"',
    "escaped referrer": _HEAD + '"GET / HTTP/1.1" 200 1 "' + '\\"' * 500_000 + '" "x"',
    "long forwarded-for": "192.0.2.1, " * 90_000 + '- - [04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 200 1',
    "many head fields": "a " * 500_000 + '[04/Mar/2024:09:12:00 +0100] "GET / HTTP/1.1" 200 1',
    "many extra fields": _HEAD + '"GET / HTTP/1.1" 200 1 ' + '"x=1" ' * 200_000,
    "quotes after status": _HEAD + '"GET / HTTP/1.1" ' + '"' * 1_000_000,
    "long query": _HEAD + '"GET /?' + "a=b&" * 250_000 + ' HTTP/1.1" 2000 1',
    "urls": _HEAD + '"GET / HTTP/1.1" 2000 1 "' + "http://192.0.2.1/?x " * 50_000 + '"',
    "long json value": json_line(request_uri="/borger/" + "pas/" * 250_000, http_user_agent="cubo" * 250_000),
    "long json time": json_line(time="1" * 1_000_000),
    "deep json": '{"a": ' * 200_000,
    "cut-off json": '{"request_body": "' + 'x\\"' * 300_000,
}))
def test_a_1_mb_adversarial_line_is_read_without_stalling(text):
    parser = make_parser()  # format auto: a line starting with { is read as JSON, any other as combined
    assert_no_line_stalls(parser, text, location=Location(SYSTEM, FILE, 7, 0))

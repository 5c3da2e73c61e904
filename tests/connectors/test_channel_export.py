"""Case-system and other channel exports (CSV, JSON Lines) -> one event per row (connectors/channel_export.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.base import Location, RecordRejected, Skip
from connectors.channel_export import (
    DEFAULT_CHANNEL_VALUES,
    ChannelExportColumns,
    ChannelExportConfig,
    ChannelExportParser,
    ExportFormat,
)
from schemas import Channel, Direction, InquiryEvent, InquiryKind, RequesterType, Stage, make_event_id
from tests.connectors import harness
from tests.connectors.adversarial import cases
from tests.connectors.harness import DATA, KEYER, assert_no_line_stalls, check_record, context_of, parser_of, read_lines

CONTEXT = context_of(DATA / "channel_export_mapping.yaml")
CSV_SAMPLE = DATA / "channel_export_komhen_sample.csv"
JSONL_SAMPLE = DATA / "channel_export_chat_sample.jsonl"
SYSTEM = "sbsys-post"
FILE = "/srv/export/henvendelser-2024-03-04.csv"
HEADER = (
    "id;occurred_at;channel;direction;task;department;requester_type;resolved_first_contact;visited_web_first;"
    "requester_id"
)
CONFIG = ChannelExportConfig.komhen(system=SYSTEM, columns=ChannelExportColumns(
    direction="direction", task="task", department="department", requester_type="requester_type",
    resolved_first_contact="resolved_first_contact", visited_web_first="visited_web_first", requester_id="requester_id",
))  # fmt: skip
CHAT_CONFIG = ChannelExportConfig(
    system="chat",
    format=ExportFormat.jsonl,
    columns=ChannelExportColumns(
        id="conversation.id", occurred_at="conversation.started", channel="channel", task_key="topic",
        resolved_first_contact="solved", visited_web_first="came_from_web", requester_id="visitor.email",
    ),
)  # fmt: skip


def csv_row(
    id: str = "P-1",
    occurred_at: str = "2024-03-04 09:12:00",
    channel: str = "brev",
    direction: str = "ind",
    task: str = "85.02.00",
    department: str = "",
    requester_type: str = "",
    resolved: str = "",
    web_first: str = "",
    requester_id: str = "",
) -> str:
    return ";".join(
        [id, occurred_at, channel, direction, task, department, requester_type, resolved, web_first, requester_id]
    )


def make_parser(config: ChannelExportConfig = CONFIG, header: str | bytes | None = HEADER) -> ChannelExportParser:
    return parser_of(config, CONTEXT, file=FILE, first_line=header)  # type: ignore[return-value]


def parse(row: str | bytes, config: ChannelExportConfig = CONFIG, header: str | None = HEADER, line_no: int = 2):
    return harness.parse(make_parser(config, header), row, Location(SYSTEM, FILE, line_no, 512))


def event(row: str | bytes, config: ChannelExportConfig = CONFIG, header: str | None = HEADER) -> InquiryEvent:
    result = parse(row, config, header)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def chat_event(obj: dict) -> InquiryEvent:
    return event(json.dumps(obj, ensure_ascii=False), CHAT_CONFIG, None)


def rejection(row: str | bytes, config: ChannelExportConfig = CONFIG, header: str | None = HEADER) -> str:
    return harness.rejection(make_parser(config, header), row, Location(SYSTEM, FILE, 2, 512))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --- one row, one inquiry -----------------------------------------------------------------------


def test_row_is_one_arrived_event_carrying_every_komhen_field():
    got = event(csv_row(
        id="P-2024-0001", channel="Digital Post", direction="ind", task="85.02.00", department="Borgerservice",
        requester_type="borger", resolved="nej", web_first="ja",
    ))  # fmt: skip
    assert (got.stage, got.channel, got.direction) == (Stage.arrived, Channel.digital_post, Direction.inbound)
    assert got.occurred_at == utc(2024, 3, 4, 8, 12)  # CET, UTC+1
    assert (got.task, got.task_label, got.department) == ("85.02.00", "Flytning og folkeregister", "Borgerservice")
    assert got.requester_type is RequesterType.citizen
    assert (got.resolved_first_contact, got.visited_web_first) == (False, True)
    assert got.event_id == make_event_id(SYSTEM, "P-2024-0001", "arrived")
    assert (got.municipality, got.source.system, got.source.file, got.source.line) == ("751", SYSTEM, FILE, 2)


def test_event_id_derives_from_system_and_id_only():
    first = event(csv_row(id="P-9", channel="brev"))
    again = event(csv_row(id="P-9", channel="brev", occurred_at="2024-03-05 10:00:00"))
    other = event(csv_row(id="P-10", channel="brev"))
    assert first.event_id == again.event_id != other.event_id


@pytest.mark.parametrize(("raw", "channel"), list(DEFAULT_CHANNEL_VALUES.items()))
def test_each_default_channel_value_maps_to_its_channel(raw, channel):
    assert event(csv_row(channel=raw)).channel is channel


@pytest.mark.parametrize(
    ("raw", "channel"),
    [("BREV", Channel.letter), (" Digital Post ", Channel.digital_post), ("Personligt Fremmøde", Channel.walk_in)],
)
def test_channel_values_match_case_insensitively_and_trimmed(raw, channel):
    assert event(csv_row(channel=raw)).channel is channel


def test_configured_channel_values_replace_the_defaults():
    config = CONFIG.model_copy(update={"channel_values": {"SMS": Channel.digital_post}})
    assert event(csv_row(channel="sms"), config).channel is Channel.digital_post
    assert "configured channel values are 'SMS'" in rejection(csv_row(channel="brev"), config)


@pytest.mark.parametrize(
    ("raw", "direction"),
    [("ind", Direction.inbound), ("Indgående", Direction.inbound), ("inbound", Direction.inbound),
     ("ud", Direction.outbound), ("udgående", Direction.outbound), ("OUTBOUND", Direction.outbound),
     ("", Direction.inbound)],
)  # fmt: skip
def test_direction_values_map_and_empty_is_inbound(raw, direction):
    assert event(csv_row(direction=raw)).direction is direction


def test_export_without_direction_column_is_inbound():
    config = ChannelExportConfig(system=SYSTEM)
    got = event("P-1;2024-03-04 09:12:00;chat", config, "id;occurred_at;channel")
    assert (got.direction, got.task, got.resolved_first_contact, got.contact_key) == (
        Direction.inbound, "unclassified", None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "value"),
    [("ja", True), ("JA", True), ("1", True), ("true", True), ("yes", True),
     ("nej", False), ("0", False), ("False", False), ("no", False), ("", None)],
)  # fmt: skip
def test_yes_no_columns_read_danish_and_english_booleans(raw, value):
    got = event(csv_row(resolved=raw, web_first=raw))
    assert (got.resolved_first_contact, got.visited_web_first) == (value, value)


def test_configured_boolean_values_are_used():
    config = CONFIG.model_copy(update={"true_values": ["j"], "false_values": ["n"]})
    assert event(csv_row(resolved="J", web_first="n"), config).resolved_first_contact is True
    assert "expected one of j (yes) or n (no), or empty" in rejection(csv_row(resolved="ja"), config)


@pytest.mark.parametrize(
    ("raw", "requester_type"),
    [("borger", RequesterType.citizen), ("Virksomhed", RequesterType.business), ("forening", RequesterType.association),
     ("myndighed", RequesterType.authority), ("ukendt", RequesterType.unknown)],
)  # fmt: skip
def test_requester_type_values_map(raw, requester_type):
    assert event(csv_row(requester_type=raw)).requester_type is requester_type


# --- task and department ------------------------------------------------------------------------


def test_kle_code_in_task_column_is_taken_as_it_is_with_its_label():
    got = event(csv_row(task="85.02.00"))
    assert (got.task, got.task_label, got.department, got.inquiry_kind) == (
        "85.02.00", "Flytning og folkeregister", "", InquiryKind.unknown,
    )  # fmt: skip


def test_kle_code_is_also_classified_so_a_rule_can_name_its_department():
    got = event(csv_row(task="85.06.00"))
    assert (got.task, got.task_label, got.department) == ("85.06.00", "Pas", "Borgerservice")
    assert (got.inquiry_kind, got.requester_type) == (InquiryKind.transaction, RequesterType.citizen)


def test_task_that_is_no_kle_code_is_classified_by_rules():
    got = event(csv_row(task="Byggesag, tilbygning"))
    assert (got.task, got.task_label, got.department, got.queue) == (
        "02.34.00", "Byggesager", "Teknik og Miljø", "Byggesag, tilbygning",
    )  # fmt: skip
    assert got.requester_type is RequesterType.business and got.inquiry_kind is InquiryKind.case_work


def test_task_key_column_is_classified_when_there_is_no_task_column():
    config = ChannelExportConfig(system=SYSTEM, columns=ChannelExportColumns(task_key="sagstype"))
    got = event("P-1;2024-03-04 09:12:00;brev;Pension", config, "id;occurred_at;channel;sagstype")
    assert (got.task, got.department, got.queue) == ("32.18.00", "Borgerservice", "Pension")


def test_kle_task_wins_over_the_task_key_rule_but_the_rule_still_names_the_department():
    config = ChannelExportConfig(system=SYSTEM, columns=ChannelExportColumns(task="kle", task_key="sagstype"))
    got = event("P-1;2024-03-04 09:12:00;brev;85.02.00;Pension", config, "id;occurred_at;channel;kle;sagstype")
    assert (got.task, got.task_label, got.department) == ("85.02.00", "Flytning og folkeregister", "Borgerservice")


def test_department_and_requester_type_columns_win_over_the_rule():
    got = event(csv_row(task="Byggesag", department="Byg og Plan", requester_type="forening"))
    assert (got.task, got.department, got.requester_type) == ("02.34.00", "Byg og Plan", RequesterType.association)


@pytest.mark.parametrize("task", ["Hundetegn", "", "85.06", "85.02.00 Flytning"])
def test_task_no_rule_matches_is_counted_as_unclassified_not_dropped(task):
    assert event(csv_row(task=task)).task == "unclassified"


# --- time zones and daylight saving time --------------------------------------------------------


def test_summer_local_time_is_converted_with_utc_plus_two():
    assert event(csv_row(occurred_at="2024-06-14 10:00:00")).occurred_at == utc(2024, 6, 14, 8, 0)


def test_spring_forward_gap_time_is_rejected_as_nonexistent():
    reason = rejection(csv_row(occurred_at="2024-03-31 02:30:00"))
    assert "'2024-03-31 02:30:00' in occurred_at does not exist in Europe/Copenhagen" in reason


def test_autumn_ambiguous_time_resolves_to_its_first_occurrence():
    assert event(csv_row(occurred_at="2024-10-27 02:30:00")).occurred_at == utc(2024, 10, 27, 0, 30)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-10-27T02:30:00+01:00", utc(2024, 10, 27, 1, 30)),  # the second 02:30, by its offset
        ("2024-03-04T08:12:00Z", utc(2024, 3, 4, 8, 12)),
        ("2024-03-31T02:30:00+01:00", utc(2024, 3, 31, 1, 30)),  # a gap time with an offset is unambiguous
    ],
)
def test_explicit_utc_offset_is_honoured_over_the_configured_zone(value, expected):
    assert event(csv_row(occurred_at=value)).occurred_at == expected


def test_configured_timestamp_format_and_zone_are_used():
    config = CONFIG.model_copy(update={"timestamp_format": "%d-%m-%Y %H:%M", "timezone": "Atlantic/Faroe"})
    assert event(csv_row(occurred_at="04-03-2024 09:12"), config).occurred_at == utc(2024, 3, 4, 9, 12)
    assert "expected format '%d-%m-%Y %H:%M'" in rejection(csv_row(occurred_at="2024-03-04 09:12"), config)


# --- personal data ------------------------------------------------------------------------------


@pytest.mark.parametrize("requester_id", ["010190-1234", "karen.jensen@example.com", "+45 12 34 56 78", "Jens Hansen"])
def test_requester_id_is_keyed_and_never_appears_in_event_json(requester_id):
    got = event(csv_row(requester_id=requester_id))
    assert got.contact_key is not None
    dumped = got.model_dump_json()
    assert requester_id not in dumped and requester_id.replace(" ", "") not in dumped


def test_phone_requester_ids_key_like_the_phone_connector_and_addresses_like_the_mail_connector():
    assert event(csv_row(requester_id="+45 12 34 56 78")).contact_key == KEYER.key("12345678")
    assert event(csv_row(requester_id="0045-12345678")).contact_key == KEYER.key("12345678")
    assert event(csv_row(requester_id="Karen.Jensen@Example.com")).contact_key == KEYER.key("karen.jensen@example.com")
    cpr_with_dash, cpr_without = event(csv_row(requester_id="010190-1234")), event(csv_row(requester_id="0101901234"))
    assert cpr_with_dash.contact_key == cpr_without.contact_key


def test_rejection_reason_masks_personal_data_in_the_bad_value():
    reason = rejection(csv_row(channel="karen.jensen@example.com 12345678"))
    assert reason.startswith("unknown channel") and "karen" not in reason and "12345678" not in reason


def test_redact_blanks_the_requester_id_column_of_a_rejected_row():
    parser = make_parser()
    redacted = parser.redact(csv_row(channel="fax", task='"Byg; nyt"', requester_id="Jens Hansen"))
    assert redacted == 'P-1;2024-03-04 09:12:00;fax;ind;"Byg; nyt";;;;;<redacted>'


def test_redact_blanks_the_requester_id_of_a_rejected_json_line():
    parser = make_parser(CHAT_CONFIG, None)
    line = '{"conversation": {"id": "c-1"}, "channel": "fax", "visitor": {"email": "Jens Hansen", "x": 1}}'
    assert "Jens" not in parser.redact(line) and '"x":1' in parser.redact(line)
    assert parser.redact("not json") == "not json"


# --- CSV headers --------------------------------------------------------------------------------


def test_header_line_is_skipped_with_or_without_bom():
    assert parse(HEADER, line_no=1) == Skip(reason="header")
    parser = make_parser(header=b"\xef\xbb\xbf" + HEADER.encode())
    assert parser.parse(b"\xef\xbb\xbf" + HEADER.encode(), Location(SYSTEM, FILE, 1, 0)) == Skip(reason="header")
    assert isinstance(parser.parse(csv_row().encode(), Location(SYSTEM, FILE, 2, 130)), list)


def test_repeated_header_inside_a_concatenated_export_is_skipped():
    assert parse(HEADER, line_no=40) == Skip(reason="header")


def test_header_is_read_from_line_one_when_start_file_had_none():
    parser = make_parser(header=None)
    assert parser.parse(HEADER.encode(), Location(SYSTEM, FILE, 1, 0)) == Skip(reason="header")
    assert isinstance(parser.parse(csv_row().encode(), Location(SYSTEM, FILE, 2, 130)), list)


def test_header_columns_may_come_in_any_order_and_delimiter_is_configurable():
    config = ChannelExportConfig(system=SYSTEM, delimiter=",", columns=ChannelExportColumns(task="kle"))
    got = event("digital post,85.02.00,2024-03-04 09:12:00,P-1", config, "channel,kle,occurred_at,id")
    assert (got.channel, got.task) == (Channel.digital_post, "85.02.00")


def test_missing_header_column_rejects_every_row_naming_column_and_file():
    header = "id;occurred_at;kanal;direction;task;department;requester_type;resolved_first_contact;visited_web_first"
    parser = make_parser(header=header)
    for number, record in enumerate([header, csv_row()], start=1):
        with pytest.raises(RecordRejected) as caught:
            parser.parse(record.encode(), Location(SYSTEM, FILE, number, 0))
        reason = caught.value.reason
        assert FILE in reason and "'channel' (columns.channel)" in reason
        assert "'requester_id' (columns.requester_id)" in reason and "'id' (columns" not in reason


def test_export_without_header_row_rejects_with_one_reason_naming_the_columns_and_quoting_no_data():
    first = csv_row(requester_id="010190-1234", department="Karen Jensen")
    parser = make_parser(header=first)
    reasons = []
    for number, record in enumerate([first, csv_row(id="P-2", requester_id="+45 12 34 56 78")], start=1):
        with pytest.raises(RecordRejected) as caught:
            parser.parse(record.encode(), Location(SYSTEM, FILE, number, 0))
        reasons.append(caught.value.reason)
    assert reasons[0] == reasons[1]
    reason = reasons[0]
    assert FILE in reason and "header" in reason
    for column in HEADER.split(";"):
        assert repr(column) in reason
    for data in ("010190", "1234", "12 34 56 78", "Karen", "P-1", "brev"):
        assert data not in reason


def test_row_of_a_file_without_a_usable_header_is_dead_lettered_keeping_only_harmless_fields():
    parser = make_parser(header=csv_row())
    redacted = parser.redact(csv_row(id="P-2", department="Karen Jensen", requester_id="Storegade 12"))
    assert "Karen" not in redacted and "Storegade" not in redacted
    assert redacted.split(";")[1] == "2024-03-04 09:12:00"


def test_header_that_is_not_utf8_rejects_the_file_rows():
    with pytest.raises(RecordRejected, match="not valid UTF-8"):
        make_parser(header=b"id;occurred_at;k\xe6nal").parse(csv_row().encode(), Location(SYSTEM, FILE, 2, 0))


# --- JSON Lines ---------------------------------------------------------------------------------


def test_json_line_reads_nested_fields_and_native_booleans():
    got = chat_event({
        "conversation": {"id": "c-1", "started": "2024-03-04T09:15:00+01:00"}, "channel": "chat",
        "topic": "Pension", "visitor": {"email": "k@example.com"}, "solved": True, "came_from_web": False,
    })  # fmt: skip
    assert (got.channel, got.task, got.occurred_at) == (Channel.chat, "32.18.00", utc(2024, 3, 4, 8, 15))
    assert (got.resolved_first_contact, got.visited_web_first) == (True, False)
    assert got.contact_key == KEYER.key("k@example.com")
    assert got.event_id == make_event_id(SYSTEM, "c-1", "arrived")


def test_json_number_id_and_missing_optional_fields_are_read():
    got = chat_event({"conversation": {"id": 1003, "started": "2024-03-04 10:00:00"}, "channel": "chat"})
    assert got.event_id == make_event_id(SYSTEM, "1003", "arrived")
    assert (got.task, got.resolved_first_contact, got.contact_key) == ("unclassified", None, None)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"conversation": {"id": "c-1"', "not a JSON line: "),
        (b'["c-1", "chat"]', "JSON line is a list, expected an object with the export's fields"),
        (b'{"conversation": {"id": "c-1", "started": "2024-03-04 10:00:00"}, "channel": ["chat"]}',
         "channel is a JSON list, expected a string, number or boolean"),
        (b'{"conversation": {"started": "2024-03-04 10:00:00"}, "channel": "chat"}', "empty conversation.id"),
        (b'{"conversation": {"id": "c-1"}, "channel": "chat"}', "empty conversation.started"),
        (b'{"conversation": {"id": "c-1", "started": "2024-03-04 10:00:00"}, "channel": true}',
         "unknown channel 'true' in channel"),
        (b'{"conversation": {"id": "c-1", "started": "2024-03-04 10:00:00"}, "channel": "chat", "solved": 2}',
         "bad solved '2'"),
        (b'{"a": "\\ud800"}', "not a JSON line"),
        (b"\xff{}", "invalid UTF-8 at byte 0"),
    ],
)  # fmt: skip
def test_bad_json_line_is_rejected_with_an_actionable_reason(line, reason):
    assert reason in rejection(line, CHAT_CONFIG, None)


# --- sample exports -----------------------------------------------------------------------------


def test_built_events_of_both_samples_equal_validated_ones_with_their_source():
    """Events are built by EventBuilder; read_lines (tests/connectors/harness.py) pins every event of
    both samples against InquiryEvent's validation of its values and of its JSON, and this their source."""
    for path, config in ((CSV_SAMPLE, CONFIG), (JSONL_SAMPLE, CHAT_CONFIG)):
        results = read_lines(ChannelExportParser(config, CONTEXT), path, SYSTEM)
        built = [(number, e) for number, result in enumerate(results, start=1) if isinstance(result, list)
                 for e in result]  # fmt: skip
        assert built and all(e.source == Location(SYSTEM, str(path), number, e.source.offset).source_ref()
                             for number, e in built)  # fmt: skip
    long_department = csv_row(department="d" * 201)
    with pytest.raises(ValidationError, match="department"):  # too long for the contract: validation says so
        make_parser().parse(long_department.encode(), Location(SYSTEM, FILE, 2, 0))


def test_komhen_sample_export_reads_every_row_with_its_fields():
    """tests/data/channel_export_komhen_sample.csv is synthetic: the komhen preset's header with a
    requester_id column, a BOM, one row per default channel, a DST gap-adjacent and an ambiguous time."""
    results = read_lines(ChannelExportParser(CONFIG, CONTEXT), CSV_SAMPLE, SYSTEM)
    assert results[0] == Skip(reason="header")
    got = [result[0] for result in results[1:]]  # every row is one event, none rejected
    assert [e.channel for e in got] == [
        Channel.letter, Channel.digital_post, Channel.chat, Channel.email, Channel.phone, Channel.walk_in,
        Channel.self_service,
    ]  # fmt: skip
    assert [e.task for e in got] == [
        "85.02.00", "02.34.00", "32.18.00", "85.06.00", "85.06.00", "unclassified", "02.34.00",
    ]  # fmt: skip
    assert [e.direction for e in got].count(Direction.outbound) == 1 and got[3].direction is Direction.outbound
    assert [e.occurred_at for e in got] == [
        utc(2024, 3, 4, 7, 15), utc(2024, 3, 4, 8, 2, 10), utc(2024, 3, 4, 8, 30), utc(2024, 3, 4, 9, 0),
        utc(2024, 3, 31, 1, 15), utc(2024, 3, 4, 10, 0), utc(2024, 10, 27, 0, 30),
    ]  # fmt: skip
    assert [e.requester_type for e in got] == [
        RequesterType.citizen, RequesterType.business, RequesterType.citizen, RequesterType.citizen,
        RequesterType.citizen, RequesterType.unknown, RequesterType.association,
    ]  # fmt: skip
    assert [(e.resolved_first_contact, e.visited_web_first) for e in got] == [
        (False, False), (False, True), (True, True), (None, None), (True, False), (True, None), (False, True),
    ]
    assert [e.contact_key for e in got] == [
        KEYER.key("0101901234"), KEYER.key("12345678"), KEYER.key("karen.jensen@example.com"), None,
        KEYER.key("87654321"), None, None,
    ]  # fmt: skip
    assert got[4].department == "Pas og kørekort" and got[6].queue == "Byggesag; tilbygning"
    text = CSV_SAMPLE.read_text(encoding="utf-8-sig")
    assert all(part not in e.model_dump_json() for e in got for part in ("010190", "karen", "87 65"))
    assert len(got) == text.count("\n") - 1


def test_chat_sample_json_lines_read_with_nested_field_paths():
    """tests/data/channel_export_chat_sample.jsonl is synthetic, shaped like a chat system's conversation export."""
    results = read_lines(ChannelExportParser(CHAT_CONFIG, CONTEXT), JSONL_SAMPLE, SYSTEM)
    got = [result[0] for result in results]
    assert [e.event_id for e in got] == [make_event_id(SYSTEM, ref, "arrived") for ref in ("c-1001", "c-1002", "1003")]
    assert [e.task for e in got] == ["32.18.00", "02.34.00", "unclassified"]
    assert [e.occurred_at for e in got] == [utc(2024, 3, 4, 8, 15), utc(2024, 3, 4, 9, 40, 12), utc(2024, 6, 14, 8)]
    assert [e.resolved_first_contact for e in got] == [True, False, True]
    assert [e.contact_key for e in got] == [KEYER.key("karen.jensen@example.com"), None, None]


# --- rejected rows ------------------------------------------------------------------------------


@pytest.mark.parametrize("record", [b"", b"   ", b"\t", b" \t \r", b"\x0b\x0c"])
@pytest.mark.parametrize("jsonl", [False, True])
def test_blank_line_is_a_counted_skip_not_a_rejection(record, jsonl):
    config, header = (CHAT_CONFIG, None) if jsonl else (CONFIG, HEADER)
    assert parse(record, config, header) == Skip(reason="blank line")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (csv_row() + ";x", "11 columns, header has 10"),
        ("P-1;2024-03-04 09:00:00;brev", "3 columns, header has 10"),
        (csv_row(channel="br\xe6v").encode("latin-1"), "invalid UTF-8 at byte 26"),
        (csv_row(id=""), "empty id: every row needs the id of its inquiry"),
        (
            csv_row(channel="fax"),
            "unknown channel 'fax' in channel: configured channel values are 'brev', 'papirpost', 'letter',",
        ),
        (csv_row(channel=""), "unknown channel '' in channel"),
        (csv_row(occurred_at=""), "empty occurred_at: the time of the inquiry is required"),
        (csv_row(occurred_at="09:12"), "bad timestamp '09:12' in occurred_at: expected ISO 8601"),
        (csv_row(occurred_at="2024-03-04"), "bad timestamp '2024-03-04' in occurred_at"),
        (csv_row(occurred_at="2024-02-30 09:00:00"), "bad timestamp '2024-02-30 09:00:00' in occurred_at"),
        (csv_row(occurred_at="1999-12-31 23:00:00"), "'1999-12-31 23:00:00' in occurred_at is outside 2000-2099"),
        (csv_row(occurred_at="2000-01-01 00:30:00"), "'2000-01-01 00:30:00' in occurred_at is outside 2000-2099 in"),
        (csv_row(occurred_at="0001-01-01T00:00:00+01:00"), "'0001-01-01T00:00:00+01:00' in occurred_at is outside"),
        (
            csv_row(resolved="måske"),
            "bad resolved_first_contact 'måske': expected one of ja, 1, true, yes (yes) or nej, 0, false, no (no)",
        ),
        (csv_row(web_first="x"), "bad visited_web_first 'x'"),
        (csv_row(direction="sideways"), "unknown direction 'sideways' in direction: configured direction values are"),
        (csv_row(requester_type="kommune"), "unknown requester type 'kommune' in requester_type: configured values"),
    ],
)
def test_bad_row_is_rejected_with_an_actionable_reason(row, reason):
    assert reason in rejection(row)


# --- config -------------------------------------------------------------------------------------


def test_default_config_loads_and_reads_id_time_and_channel():
    config = ChannelExportConfig()
    assert (config.system, config.format, config.delimiter, config.timezone, config.rule_set) == (
        "channel-export", ExportFormat.csv, ";", "Europe/Copenhagen", "channel_export",
    )  # fmt: skip
    assert (config.columns.id, config.columns.occurred_at, config.columns.channel) == ("id", "occurred_at", "channel")
    assert config.columns.task is None and config.columns.requester_id is None
    assert ChannelExportParser.kind == "channel_export"


def test_komhen_preset_names_every_komhen_column_and_takes_overrides():
    config = ChannelExportConfig.komhen(format="jsonl")
    assert config.format is ExportFormat.jsonl
    assert config.columns.visited_web_first == "visited_web_first" and config.columns.task == "task"
    header = "id;occurred_at;channel;direction;task;department;requester_type;resolved_first_contact;visited_web_first"
    row = "P-1;2024-03-04 09:00:00;brev;ind;85.02.00;;;;"
    assert isinstance(parse(row, ChannelExportConfig.komhen(), header), list)


@pytest.mark.parametrize(
    "settings_",
    [
        {"formt": "csv"},
        {"format": "xml"},
        {"delimiter": ";;"},
        {"timezone": "Europe/Kobenhavn"},
        {"channel_values": {}},
        {"channel_values": {"fax": "fax"}},
        {"direction_values": {"ind": "in"}},
        {"true_values": ["ja", "x"], "false_values": ["X"]},
        {"columns": {"id": ""}},
        {"columns": {"kanal": "channel"}},
    ],
)
def test_config_refuses_what_cannot_work(settings_):
    with pytest.raises(ValidationError):
        ChannelExportConfig.model_validate(settings_)


# --- no input makes the parser raise anything but RecordRejected, and every event is valid ------

_PARSER = make_parser()
_CHAT_PARSER = make_parser(CHAT_CONFIG, None)
_VALUE = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["brev", "chat", "ind", "ud", "ja", "nej", "85.06.00", "Byggesag", "", "+45 12345678"]),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1)).map(str),
    st.datetimes(timezones=st.sampled_from([timezone.utc])).map(lambda d: d.isoformat()),
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _VALUE,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _check(parser: ChannelExportParser, record: bytes, line: int = 2) -> None:
    check_record(parser, record, Location(SYSTEM, FILE, line, 0))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_yield_events_skip_or_rejection_only(record):
    _check(_PARSER, record)
    _check(_CHAT_PARSER, record)


@settings(max_examples=400, deadline=None)
@given(st.lists(_VALUE, min_size=9, max_size=11))
def test_arbitrary_delimited_fields_yield_events_skip_or_rejection_only(fields):
    _check(_PARSER, ";".join(fields).encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "conversation": st.fixed_dictionaries({}, optional={"id": _JSON, "started": _JSON}) | _JSON,
            "channel": _JSON, "topic": _JSON, "visitor": _JSON, "solved": _JSON, "came_from_web": _JSON,
        },
    )
)  # fmt: skip
def test_arbitrary_json_objects_yield_events_or_rejection_only(obj):
    _check(_CHAT_PARSER, json.dumps(obj).encode())


@settings(max_examples=200, deadline=None)
@given(header=st.binary(max_size=120), record=st.binary(max_size=120), line=st.integers(min_value=1, max_value=3))
def test_arbitrary_header_and_row_never_raise_anything_but_rejection(header, record, line):
    parser = ChannelExportParser(CONFIG, CONTEXT)
    parser.start_file(FILE, header)
    _check(parser, record, line)


def test_redact_blanks_configured_name_and_address_columns_of_a_rejected_row():
    header = HEADER + ";Navn;adresse"
    parser = make_parser(CONFIG, header)
    redacted = parser.redact(csv_row(channel="fax") + ";Karen Margrethe Jensen;Storegade 12, 4000 Roskilde")
    assert "Karen" not in redacted and "Storegade" not in redacted
    assert redacted.endswith(";<redacted>;<redacted>") and redacted.startswith("P-1;2024-03-04 09:12:00;fax;")


def test_redact_blanks_name_fields_at_any_depth_of_a_rejected_json_line():
    config = CHAT_CONFIG.model_copy(update={"personal_fields": ["visitor.display", "navn"]})
    parser = make_parser(config, None)
    line = ('{"conversation": {"id": "c-1"}, "channel": "fax", "navn": "Ole Sørensen",'
            ' "visitor": {"display": "Ole S.", "email": "ole@example.dk"}, "topic": "pas"}')
    redacted = parser.redact(line)
    assert "Ole" not in redacted and "ole@" not in redacted and '"topic":"pas"' in redacted


def test_redact_of_a_long_cut_off_json_line_blanks_its_names_and_keeps_its_start():
    parser = make_parser(CHAT_CONFIG.model_copy(update={"personal_fields": ["navn"]}), None)
    line = '{"conversation": {"id": "c-1"}, "navn": "Ole Sørensen", "topic": "' + "pas " * 5000
    redacted = parser.redact(line)
    assert "Ole" not in redacted and redacted.startswith('{"conversation": {"id": "c-1"}, "navn": "<redacted>"')
    assert "more characters not kept" in redacted and len(redacted) < 4100


def test_redact_of_json_nested_too_deep_replaces_the_line_instead_of_raising():
    parser = make_parser(CHAT_CONFIG, None)
    for line in ("[" * 5000, '{"a": ' * 1000 + "1" + "}" * 1000):
        redacted = parser.redact(line)
        assert redacted.startswith("<JSON nested too deep") and "[" not in redacted


# --- no line stalls the parser --------------------------------------------------------------------


@pytest.mark.parametrize("text", cases({
    "long json value": '{"conversation": {"id": "' + "x" * 1_000_000 + '"}, "channel": "chat"}',
    "long json time": '{"conversation": {"id": "c", "started": "' + "2" * 1_000_000 + '"}, "channel": "chat"}',
    "deep json": '{"a": ' * 200_000,
    "cut-off json": '{"navn": "' + 'Jens \\"' * 100_000,
    "csv with long field": csv_row(requester_id="1" * 100_000),
}))
@pytest.mark.parametrize("jsonl", [False, True], ids=["csv", "jsonl"])
def test_a_1_mb_adversarial_line_is_read_without_stalling(text, jsonl):
    config, header = (CHAT_CONFIG, None) if jsonl else (CONFIG, HEADER)
    parser = make_parser(config, header)
    assert_no_line_stalls(parser, text, location=Location(SYSTEM, FILE, 2, 0))

"""Asterisk CDR CSV rows (Master.csv) -> phone events, skips and rejections (connectors/asterisk_cdr.py).

Built on tests/connectors/harness.py: every event a test here gets is checked against
InquiryEvent's validation there, every rejection's row against the parser's redact().
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.asterisk_cdr import AsteriskCdrConfig, AsteriskCdrParser
from connectors.base import Location, Skip
from connectors.registry import get_kind
from schemas import Channel, Direction, InquiryEvent, InquiryKind, RequesterType, Stage, make_event_id
from tests.connectors import harness
from tests.connectors.adversarial import cases
from tests.connectors.harness import CONTEXT, KEYER, assert_no_line_stalls, check_record, parser_of, read_file

SYSTEM = "asterisk-pbx1-cdr"
FILE = "/var/log/asterisk/cdr-csv/Master.csv"
CONFIG = AsteriskCdrConfig(system=SYSTEM)
PAS = "89402200"  # a direct number deploy/mapping.yaml's phone_extension rules map to passports
CALLER = "+4512345678"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# One answered call to the passport line, column by column as cdr_csv.c writes them.
ROW = {
    "accountcode": "", "src": CALLER, "dst": PAS, "dcontext": "from-trunk", "clid": f'"Jens Hansen" <{CALLER}>',
    "channel": "SIP/trunk-0000001a", "dstchannel": "SIP/201-0000001b", "lastapp": "Dial", "lastdata": "SIP/201,30,tT",
    "start": "2024-03-04 09:12:00", "answer": "2024-03-04 09:12:20", "end": "2024-03-04 09:17:20", "duration": "320",
    "billsec": "300", "disposition": "ANSWERED", "amaflags": "DOCUMENTATION",
}  # fmt: skip
TEXT_COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata")


def cdr(extra: tuple[str, ...] = ("1709539920.26", "sag 1234"), **columns: str | None) -> str:
    """One row as cdr_csv writes it: text and times double-quoted ("" inside), duration and billsec
    bare, a time never reached (an unanswered call's answer) empty and unquoted."""

    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    row = {**ROW, **columns}  # `extra`: uniqueid and userfield (loguniqueid, loguserfield)
    fields = [quoted(row[name]) for name in TEXT_COLUMNS]  # type: ignore[arg-type]
    fields += [quoted(row["start"]), quoted(row["answer"]) if row["answer"] else "", quoted(row["end"])]  # type: ignore[arg-type]
    fields += [row["duration"], row["billsec"], quoted(row["disposition"]), quoted(row["amaflags"])]  # type: ignore[list-item,arg-type]
    return ",".join(fields + [quoted(v) for v in extra])  # type: ignore[operator]


def unanswered(disposition: str = "NO ANSWER", **values: object) -> str:
    return cdr(disposition=disposition, answer=None, **{"billsec": "0", "duration": "45",  # type: ignore[arg-type]
                                                        "dstchannel": "", **values})


def make_parser(config: AsteriskCdrConfig = CONFIG) -> AsteriskCdrParser:
    return parser_of(config, file=FILE)  # type: ignore[return-value]


def parse(row: str | bytes, config: AsteriskCdrConfig = CONFIG, line_no: int = 7):
    return harness.parse(make_parser(config), row, Location(SYSTEM, FILE, line_no, 2048))


def by_stage(row: str, config: AsteriskCdrConfig = CONFIG) -> dict[Stage, InquiryEvent]:
    events = harness.events(make_parser(config), row, Location(SYSTEM, FILE, 7, 2048))
    stages = {event.stage: event for event in events}
    assert len(stages) == len(events), "one event per stage"
    return stages


def rejection(row: str | bytes, config: AsteriskCdrConfig = CONFIG) -> str:
    return harness.rejection(make_parser(config), row, Location(SYSTEM, FILE, 7, 2048))


# --- answered and unanswered calls --------------------------------------------------------------


def test_answered_call_arrives_is_answered_and_closed_with_its_wait_and_talk_time():
    got = by_stage(cdr())

    assert list(got) == [Stage.arrived, Stage.answered, Stage.closed]
    arrived, answered, closed = got[Stage.arrived], got[Stage.answered], got[Stage.closed]
    assert arrived.occurred_at == utc(2024, 3, 4, 8, 12)  # local CET, UTC+1
    assert (arrived.wait_seconds, arrived.handle_seconds) == (None, None)
    assert (answered.occurred_at, answered.wait_seconds, answered.handle_seconds) == (utc(2024, 3, 4, 8, 12, 20), 20,
                                                                                        None)  # fmt: skip
    assert (closed.occurred_at, closed.wait_seconds, closed.handle_seconds) == (utc(2024, 3, 4, 8, 17, 20), 20, 300)
    for event in got.values():
        assert (event.channel, event.direction, event.municipality) == (Channel.phone, Direction.inbound, "751")
        assert event.event_id == make_event_id(SYSTEM, "1709539920.26", event.stage.value)
        assert event.inquiry_id == arrived.inquiry_id
        assert (event.source.system, event.source.file, event.source.line, event.source.offset) == (SYSTEM, FILE, 7,
                                                                                                    2048)  # fmt: skip
        assert event.resolved_first_contact is None and event.site == "" and event.appointment is None


@pytest.mark.parametrize("disposition", ["NO ANSWER", "BUSY", "FAILED", "CONGESTION"])
def test_unanswered_busy_or_failed_call_arrives_and_is_abandoned_after_its_duration(disposition):
    got = by_stage(unanswered(disposition, duration="45"))

    assert list(got) == [Stage.arrived, Stage.abandoned]
    assert got[Stage.arrived].occurred_at == utc(2024, 3, 4, 8, 12)
    assert (got[Stage.abandoned].occurred_at, got[Stage.abandoned].wait_seconds) == (utc(2024, 3, 4, 8, 12, 45), 45)
    assert got[Stage.abandoned].handle_seconds is None
    assert got[Stage.arrived].contact_key == KEYER.key("12345678")  # an unserved caller is still keyed


def test_answered_call_of_no_talk_time_still_closes():
    got = by_stage(cdr(answer="2024-03-04 09:12:05", end="2024-03-04 09:12:05", duration="5", billsec="0"))
    assert (got[Stage.closed].wait_seconds, got[Stage.closed].handle_seconds) == (5, 0)


def test_answered_row_without_an_answer_time_takes_its_wait_from_the_durations():
    got = by_stage(cdr(answer=None))
    assert (got[Stage.answered].occurred_at, got[Stage.answered].wait_seconds) == (utc(2024, 3, 4, 8, 12, 20), 20)


def test_replaying_a_row_yields_the_same_event_ids():
    assert [e.event_id for e in parse(cdr())] == [e.event_id for e in parse(cdr(), line_no=900)]


def test_two_rows_of_one_call_share_its_arrival():
    """A transfer writes a row per party the caller met, all with the caller channel's uniqueid."""
    first = by_stage(cdr(dstchannel="SIP/201-0000001b"))
    second = by_stage(cdr(dstchannel="SIP/305-0000001c", start="2024-03-04 09:17:20", billsec="100"))
    assert first[Stage.arrived].inquiry_id == second[Stage.arrived].inquiry_id
    assert first[Stage.arrived].event_id == second[Stage.arrived].event_id


# --- times: local wall clock, daylight saving -----------------------------------------------------


def test_summer_time_is_read_as_cest():
    got = by_stage(cdr(start="2024-07-01 10:00:00", answer="2024-07-01 10:00:10", end="2024-07-01 10:01:10",
                       duration="70", billsec="60"))  # fmt: skip
    assert got[Stage.arrived].occurred_at == utc(2024, 7, 1, 8)


def test_ambiguous_autumn_start_is_its_first_occurrence():
    got = by_stage(unanswered(start="2024-10-27 02:30:00", end="2024-10-27 02:30:45"))
    assert got[Stage.arrived].occurred_at == utc(2024, 10, 27, 0, 30)  # 02:30 CEST, the first 02:30


def test_call_across_the_fall_back_hour_keeps_its_true_wait_and_talk_time():
    """Started 02:50 CEST, answered 02:05 CET (written as an earlier wall-clock time), ended 02:10 CET:
    the stages follow Asterisk's second counts, not the wall clock that ran backwards."""
    got = by_stage(cdr(start="2024-10-27 02:50:00", answer="2024-10-27 02:05:00", end="2024-10-27 02:10:00",
                       duration="1200", billsec="300"))  # fmt: skip
    assert got[Stage.arrived].occurred_at == utc(2024, 10, 27, 0, 50)
    assert (got[Stage.answered].occurred_at, got[Stage.answered].wait_seconds) == (utc(2024, 10, 27, 1, 5), 900)
    assert (got[Stage.closed].occurred_at, got[Stage.closed].handle_seconds) == (utc(2024, 10, 27, 1, 10), 300)


def test_start_in_the_spring_gap_is_rejected():
    reason = rejection(unanswered(start="2024-03-31 02:30:00"))
    assert "'2024-03-31 02:30:00' in start (field 10) does not exist in Europe/Copenhagen" in reason


def test_usegmtime_rows_are_read_in_utc_when_configured():
    got = by_stage(cdr(), AsteriskCdrConfig(system=SYSTEM, timezone="UTC"))
    assert got[Stage.arrived].occurred_at == utc(2024, 3, 4, 9, 12)


# --- the optional trailing columns ---------------------------------------------------------------


def test_row_of_the_16_columns_every_cdr_csv_writes_is_read_with_a_composite_reference():
    got = by_stage(cdr(extra=()))
    assert got[Stage.arrived].event_id == make_event_id(SYSTEM, "2024-03-04 09:12:00|SIP/trunk-0000001a", "arrived")
    assert got[Stage.closed].handle_seconds == 300


def test_empty_uniqueid_falls_back_to_the_composite_reference():
    got = by_stage(cdr(extra=("", "")))
    assert got[Stage.arrived].event_id == make_event_id(SYSTEM, "2024-03-04 09:12:00|SIP/trunk-0000001a", "arrived")


def test_newcdrcolumns_rows_are_read_when_configured():
    config = AsteriskCdrConfig(system=SYSTEM, newcdrcolumns=True)
    got = by_stage(cdr(extra=("1709539920.26", "", "", "1709539920.26", "4")), config)
    assert got[Stage.arrived].event_id == make_event_id(SYSTEM, "1709539920.26", "arrived")


@pytest.mark.parametrize(
    ("loguniqueid", "loguserfield", "extra", "reference"),
    [
        (True, False, ("1709539920.26",), "1709539920.26"),
        (False, True, ("sag 1234",), "2024-03-04 09:12:00|SIP/trunk-0000001a"),  # the 17th is the userfield
        (False, False, (), "2024-03-04 09:12:00|SIP/trunk-0000001a"),
    ],
)
def test_one_optional_column_is_read_as_cdr_conf_says_which(loguniqueid, loguserfield, extra, reference):
    config = AsteriskCdrConfig(system=SYSTEM, loguniqueid=loguniqueid, loguserfield=loguserfield)
    got = by_stage(cdr(extra=extra), config)
    assert got[Stage.arrived].event_id == make_event_id(SYSTEM, reference, "arrived")


@pytest.mark.parametrize(
    ("extra", "config", "reason"),
    [
        (("1709539920.26",), CONFIG, "17 fields, expected 18 (accountcode .. amaflags, uniqueid, userfield) or 16"),
        (("a", "b", "c"), CONFIG, "19 fields, expected 18"),
        (("1709539920.26", "x", "", "1709539920.26", "4"), CONFIG, "21 fields, expected 18"),
        (("x",), AsteriskCdrConfig(loguniqueid=False, loguserfield=False), "17 fields, expected 16 (accountcode"),
    ],
)
def test_a_row_of_another_width_is_rejected_naming_the_cdr_conf_settings(extra, config, reason):
    got = rejection(cdr(extra=extra), config)
    assert reason in got and "loguniqueid, loguserfield and newcdrcolumns" in got


# --- classification --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dst", "task", "department"),
    [
        (PAS, "85.06.00", "Borgerservice"),
        ("+4589402300", "32.18.00", "Borgerservice"),  # the same rules with the country code
        ("004589402400", "23.02.00", "Jobcenter"),
        ("89402500", "02.34.00", "Teknik og Miljø"),
    ],
)
def test_dialled_number_is_classified_by_the_phone_extension_rules(dst, task, department):
    arrived = by_stage(cdr(dst=dst))[Stage.arrived]
    assert (arrived.task, arrived.department, arrived.queue) == (task, department, dst)
    expected = CONTEXT.mapping.classify("phone_extension", dst)
    assert arrived.model_dump(include=set(expected.event_fields())) == expected.model_dump()


def test_number_the_rules_do_not_know_is_counted_as_unclassified_not_dropped():
    for dst in ("s", "201", "70121314"):
        arrived = by_stage(cdr(dst=dst))[Stage.arrived]
        assert (arrived.task, arrived.task_label, arrived.queue) == ("unclassified", "Uklassificeret", dst)


def test_pas_line_carries_its_rule_s_kind_and_requester():
    arrived = by_stage(cdr())[Stage.arrived]
    assert (arrived.task_label, arrived.inquiry_kind, arrived.requester_type) == (
        "Pas", InquiryKind.dialogue, RequesterType.citizen)


def test_other_rule_set_classifies_with_its_own_rules():
    config = AsteriskCdrConfig(system=SYSTEM, rule_set="no_such_rules")
    assert by_stage(cdr(), config)[Stage.arrived].task == "unclassified"


# --- the caller is keyed, never carried --------------------------------------------------------------


@pytest.mark.parametrize("src", ["+4512345678", "12345678", "004512345678", "+45 12 34 56 78", "4512345678"])
def test_one_caller_has_one_contact_key_in_every_form_of_the_number(src):
    arrived = by_stage(cdr(src=src, clid=f'"Jens Hansen" <{src}>'))[Stage.arrived]
    assert arrived.contact_key == KEYER.key("12345678")  # the key the queue_log connector gives this caller
    dumped = "".join(event.model_dump_json() for event in parse(cdr(src=src, clid=f'"Jens Hansen" <{src}>')))
    assert "12345678" not in dumped and "12 34 56 78" not in dumped and "Jens" not in dumped and "sag" not in dumped


def test_contact_key_differs_between_callers_and_stays_off_the_later_stages():
    first = by_stage(cdr(src="12345678"))
    second = by_stage(cdr(src="87654321"))
    assert first[Stage.arrived].contact_key != second[Stage.arrived].contact_key
    assert first[Stage.closed].contact_key is None and first[Stage.answered].contact_key is None


@pytest.mark.parametrize("src", ["", "anonymous", "Anonymous", "1234567", "SIP/trunk-0000001a"])
def test_hidden_or_odd_caller_is_counted_without_a_contact_key(src):
    got = by_stage(cdr(src=src, clid=src))
    assert got[Stage.arrived].contact_key is None and len(got) == 3


# --- what is not an inbound inquiry ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (cdr(src="201", dcontext="from-internal", dst="70121314", clid='"Reception" <201>'), "internal context"),
        (cdr(src="201", dst="202", dcontext="from-internal"), "internal context"),
        (cdr(src="201", dcontext="ext-local"), "internal caller"),
        (cdr(lastapp="Queue", lastdata="pas,t,,,300"), "last application Queue"),
        (cdr(lastapp="queue"), "last application Queue"),
    ],
)
def test_internal_outbound_and_queue_calls_are_skipped_with_their_reason(row, reason):
    assert parse(row) == Skip(reason=reason)


def test_what_counts_as_internal_is_configurable():
    config = AsteriskCdrConfig(system=SYSTEM, internal_contexts=["from-sip-phones"], extension_digits=0,
                               skip_applications=[])  # fmt: skip
    assert len(by_stage(cdr(src="201", dcontext="from-internal", lastapp="Queue"), config)) == 3
    assert parse(cdr(dcontext="from-sip-phones"), config) == Skip(reason="internal context")


@pytest.mark.parametrize("record", [b"", b"   ", b"\t", b" \t \r"])
def test_blank_line_is_a_counted_skip(record):
    assert parse(record) == Skip(reason="blank line")


def test_a_header_line_added_by_hand_is_skipped():
    header = ",".join(f'"{name}"' for name in ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
                                               "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
                                               "disposition", "amaflags", "uniqueid", "userfield"))  # fmt: skip
    assert parse(header, line_no=1) == Skip(reason="header")


# --- rejected rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (cdr(start="2024-13-04 09:12:00"), "bad timestamp '2024-13-04 09:12:00' in start (field 10): expected format"),
        (cdr(start="04-03-2024 09:12"), "bad timestamp '04-03-2024 09:12' in start (field 10)"),
        (cdr(start=""), "empty start in field 10"),
        (cdr(start="1999-12-31 23:00:00"), "'1999-12-31 23:00:00' in start (field 10) is outside 2000-2099"),
        (cdr(answer="soon"), "bad timestamp 'soon' in answer (field 11)"),
        (cdr(end="2024-03-04 25:00:00"), "bad timestamp '2024-03-04 25:00:00' in end (field 12)"),
        (cdr(duration="-5"), "bad duration '-5' in field 13: expected whole seconds, 0 or more"),
        (cdr(duration="4.5"), "bad duration '4.5' in field 13"),
        (cdr(duration=""), "bad duration '' in field 13"),
        (cdr(billsec="-1"), "bad billsec '-1' in field 14: expected whole seconds, 0 or more"),
        (cdr(duration="700000"), "duration 700000 s in field 13 is over a week"),
        (cdr(duration="10", billsec="300"), "billsec 300 in field 14 is more than duration 10 in field 13"),
        (cdr(disposition="MAYBE"), "unknown disposition 'MAYBE' in field 15: expected ANSWERED, NO ANSWER"),
        (cdr(disposition=""), "unknown disposition '' in field 15"),
        (cdr(dst="9" * 81), "dst of 81 characters in field 3"),
        (b'"","12345678","89402200","from-trunk","J\xf8rgen"', "invalid UTF-8 at byte"),
        ('"' + "x" * 5000 + '"', "line of 5,002 bytes: cdr_csv writes rows of at most 1,024 bytes"),
        ('"","12345678","89402200"', "3 fields, expected 18"),
    ],
)
def test_bad_row_is_rejected_with_a_reason_naming_the_field(row, reason):
    assert reason in rejection(row)


def test_rejection_reason_masks_a_phone_number_in_the_bad_field():
    reason = rejection(cdr(start="+4512345678"))
    assert reason.startswith("bad timestamp") and "12345678" not in reason


def test_an_unanswered_row_may_carry_any_billsec():
    assert len(by_stage(unanswered(duration="10", billsec="300"))) == 2  # not read: nothing was answered


# --- dead letters -------------------------------------------------------------------------------------


def test_redact_blanks_the_caller_number_name_and_userfield():
    fields = next(csv.reader([make_parser().redact(cdr(duration="x"))]))
    assert (fields[1], fields[4], fields[17]) == ("<redacted>", "<redacted>", "<redacted>")
    assert (fields[2], fields[3], fields[9], fields[14], fields[16]) == (
        PAS, "from-trunk", "2024-03-04 09:12:00", "ANSWERED", "1709539920.26")
    assert "SIP/" not in ",".join(fields)  # channels and lastdata may name a person's line: blanked too


def test_redact_keeps_no_text_a_shifted_row_put_where_numbers_and_tokens_belong():
    # An unquoted caller name splits into columns: the row keeps its width but every text is shifted.
    row = cdr(clid="x", start="Mette Frederiksen", disposition="Jens Hansen", dcontext="Hansen")
    redacted = make_parser().redact(row)
    assert "Mette" not in redacted and "Jens" not in redacted and "Hansen" not in redacted


def test_a_dst_that_is_text_is_rejected_without_quoting_it():
    reason = rejection(cdr(dst="Jens Hansen"))
    assert "no extension or number" in reason and "Jens" not in reason


def test_a_call_ending_after_2099_is_rejected_not_an_invalid_event():
    assert "ends after 2099" in rejection(cdr(start="2099-12-31 23:59:59", duration="604800", billsec="0"))


def test_redact_of_a_row_of_another_width_keeps_only_numbers_and_times():
    redacted = make_parser().redact(cdr(extra=("1709539920.26", "Jens Hansen, Storegade 1", "x")))
    assert "Jens" not in redacted and "Storegade" not in redacted and "SIP/" not in redacted
    assert "2024-03-04 09:12:00" in redacted and "1709539920.26" in redacted


def test_redact_of_a_16_column_row_blanks_the_caller():
    fields = next(csv.reader([make_parser().redact(cdr(extra=(), duration="x"))]))
    assert (fields[1], fields[4], len(fields)) == ("<redacted>", "<redacted>", 16)


async def test_a_master_csv_reads_through_the_runtime_and_dead_letters_no_caller(tmp_path):
    """A day's Master.csv as the PBX leaves it: LF endings, no header, inbound calls answered and
    not, an internal call, a queue call, a broken row (a caller in it) and no final newline."""
    rows = [
        cdr(),
        unanswered("BUSY", extra=("1709540000.31", "")),
        cdr(src="201", dst="202", dcontext="from-internal", extra=("1709540100.40", "")),
        cdr(lastapp="Queue", extra=("1709540200.41", "")),
        cdr(src="+4587654321", clid='"Hans Hansen" <+4587654321>', duration="-3", extra=("1709540300.42", "")),
        unanswered(src="", clid="", dst="70121314", extra=("1709540400.43", "")),
        cdr(src="87654321", dst="+4589402300", extra=("1709540500.44", "")),
    ]
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(rows), encoding="utf-8")

    sink, stats = await read_file(CONFIG, path)

    assert (stats.records, stats.events, stats.rejected) == (7, 10, 1)
    assert stats.skipped == Counter({"internal context": 1, "last application Queue": 1})
    assert Counter(event.stage for event in sink.events) == {Stage.arrived: 4, Stage.answered: 2, Stage.closed: 2,
                                                             Stage.abandoned: 2}  # fmt: skip
    assert len({event.event_id for event in sink.events}) == 10
    assert Counter(event.task for event in sink.events if event.stage is Stage.arrived) == {
        "85.06.00": 2, "32.18.00": 1, "unclassified": 1}  # fmt: skip
    [letter] = sink.dead_letters
    assert letter.connector == "asterisk_cdr" and letter.source.line == 5
    assert letter.reason.startswith("bad duration '-3' in field 13")
    for secret in ("Hans", "87654321", "sag 1234"):
        assert secret not in letter.raw, secret
    assert all(secret not in event.model_dump_json() for event in sink.events for secret in ("Jens", "12345678"))


# --- config ------------------------------------------------------------------------------------------


def test_default_config_loads_with_the_documented_defaults():
    config = AsteriskCdrConfig()
    assert (config.system, config.rule_set, config.timezone) == ("asterisk_cdr", "phone_extension", "Europe/Copenhagen")
    assert (config.loguniqueid, config.loguserfield, config.newcdrcolumns) == (True, True, False)
    assert (config.internal_contexts, config.extension_digits, config.skip_applications) == (["from-internal"], 6,
                                                                                             ["Queue"])  # fmt: skip
    assert AsteriskCdrParser.kind == "asterisk_cdr"
    assert get_kind("cdr").name == "asterisk_cdr" and get_kind("asterisk_cdr").config_model is AsteriskCdrConfig


@pytest.mark.parametrize(
    "settings_",
    [{"sytem": "pbx"}, {"extension_digits": 8}, {"extension_digits": -1}, {"timezone": "Europe/Aarhus"},
     {"loguniqueid": "maybe"}, {"system": ""}],
)  # fmt: skip
def test_config_refuses_what_cannot_work(settings_):
    with pytest.raises(ValidationError):
        AsteriskCdrConfig.model_validate(settings_)


def test_every_config_field_is_described():
    assert all(field.description for field in AsteriskCdrConfig.model_fields.values())


# --- no input makes the parser raise anything but RecordRejected, and every event is valid --------

_PARSER = make_parser()
_FIELD = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-10, max_value=10**7).map(str),
    st.sampled_from(["ANSWERED", "NO ANSWER", "BUSY", "", CALLER, PAS, "from-internal", "Queue",
                     "2024-03-04 09:12:00", "2024-10-27 02:30:00", "2024-03-31 02:30:00", "1709539920.26"]),
)  # fmt: skip


def _row(fields: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(fields)
    return out.getvalue().encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_yield_events_skip_or_rejection_only(record):
    check_record(_PARSER, record, Location(SYSTEM, FILE, 1, 0))


@settings(max_examples=400, deadline=None)
@given(st.lists(_FIELD, min_size=15, max_size=19))
def test_arbitrary_quoted_fields_yield_events_skip_or_rejection_only(fields):
    check_record(_PARSER, _row(fields), Location(SYSTEM, FILE, 1, 0))


@settings(max_examples=400, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1998, 1, 1), max_value=datetime(2101, 1, 1)).map(str),
    duration=st.integers(min_value=-2, max_value=700_000),
    billsec=st.integers(min_value=-2, max_value=700_000),
    disposition=st.sampled_from(["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "X"]),
    src=st.sampled_from([CALLER, "201", "", "anonymous", "+45 12 34 56 78"]),
)
def test_well_formed_rows_of_any_times_and_durations_yield_events_skip_or_rejection_only(start, duration, billsec,
                                                                                          disposition, src):
    row = cdr(src=src, start=start[:19], duration=str(duration), billsec=str(billsec), disposition=disposition)
    result = check_record(_PARSER, row, Location(SYSTEM, FILE, 1, 0))
    if isinstance(result, list):
        assert all(event.wait_seconds is None or 0 <= event.wait_seconds <= duration for event in result)


# --- no line stalls the parser ------------------------------------------------------------------------


@pytest.mark.parametrize("text", cases({
    "long quoted field": cdr(clid="x" * 1_000_000),
    "many quoted fields": '"",' * 333_000,
    "long duration": cdr(duration="9" * 1_000_000),
    "long start": cdr(start="2024-03-04 09:12:00" * 50_000),
    "unterminated quote": '"' + "a," * 500_000,
}))
def test_a_1_mb_adversarial_line_is_read_without_stalling(text):
    assert_no_line_stalls(make_parser(), text, location=Location(SYSTEM, FILE, 3, 0))

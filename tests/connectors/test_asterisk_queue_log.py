"""Asterisk queue_log lines -> phone events, skips and rejections (connectors/asterisk_queue_log.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.asterisk_queue_log import AsteriskQueueLogConfig, AsteriskQueueLogParser
from connectors.base import ConnectorContext, Location, RecordRejected, Skip
from pipeline.simulated.municipality import simulate
from schemas import Channel, Direction, InquiryEvent, InquiryKind, RequesterType, Stage, make_event_id
from tests.connectors import harness
from tests.connectors.adversarial import cases
from tests.connectors.built_events import assert_as_validated
from tests.connectors.harness import CONTEXT, DATA, KEYER, assert_no_line_stalls, check_record, parser_of, read_lines

QUEUE_LOG_SAMPLE = DATA / "asterisk_queue_log_sample"
SYSTEM = "asterisk-pbx1"
FILE = "/var/log/asterisk/queue_log"

HOUSEKEEPING = [
    "RINGNOANSWER", "RINGCANCELED", "WITHDRAW", "ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE",
    "PAUSEALL", "UNPAUSEALL", "AGENTLOGIN", "AGENTLOGOFF", "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF",
    "QUEUESTART", "CONFIGRELOAD", "SYSCOMPAT", "DID", "INFO", "AGENTDUMP", "PENALTY",
]  # fmt: skip
CALL_VERBS = [
    "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY",
    "EXITWITHKEY", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER",
]  # fmt: skip


def make_parser(config: AsteriskQueueLogConfig | None = None) -> AsteriskQueueLogParser:
    return parser_of(config or AsteriskQueueLogConfig(system=SYSTEM), file=FILE)  # type: ignore[return-value]


def parse(line: bytes | str, config: AsteriskQueueLogConfig | None = None, line_no: int = 7):
    return harness.parse(make_parser(config), line, Location(SYSTEM, FILE, line_no, 1234))


def one_event(line: bytes | str, config: AsteriskQueueLogConfig | None = None) -> InquiryEvent:
    return harness.one_event(make_parser(config), line, Location(SYSTEM, FILE, 7, 1234))


def rejection(line: bytes | str) -> str:
    return harness.rejection(make_parser(), line, Location(SYSTEM, FILE, 7, 1234))


# --- the example lines FORMATS.md quotes -------------------------------------------------


def test_formats_md_example_call_yields_arrived_answered_closed_of_one_call():
    arrived = one_event("1341401599|1341401599.27|q1|NONE|ENTERQUEUE||1000|1")
    answered = one_event("1341401601|1341401599.27|q1|SIP/abc|CONNECT|2|1341401601.28|1")
    closed = one_event("1341401613|1341401599.27|q1|SIP/abc|COMPLETEAGENT|2|12|1")

    assert [arrived.stage, answered.stage, closed.stage] == [Stage.arrived, Stage.answered, Stage.closed]
    assert arrived.occurred_at == datetime(2012, 7, 4, 11, 33, 19, tzinfo=timezone.utc)
    assert answered.wait_seconds == 2
    assert (closed.wait_seconds, closed.handle_seconds) == (2, 12)
    for event in (arrived, answered, closed):
        assert event.event_id == make_event_id(SYSTEM, "1341401599.27|q1", event.stage.value)
        assert event.queue == "q1"
    assert arrived.contact_key is None  # '1000' is an extension, not a phone number


def test_formats_md_ringnoanswer_in_milliseconds_is_skipped_not_read_as_a_wait():
    result = parse("1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000")
    assert result == Skip(reason="housekeeping RINGNOANSWER")


def test_sample_queue_log_reads_end_to_end_without_rejections():
    """tests/data/asterisk_queue_log_sample is synthetic, in the FreePBX layout FORMATS.md describes:
    housekeeping lines, a call transferred into another queue, and no final newline."""
    results = read_lines(make_parser(), QUEUE_LOG_SAMPLE, SYSTEM)
    emitted = [event for result in results if isinstance(result, list) for event in result]
    skipped = Counter(result.reason for result in results if isinstance(result, Skip))

    assert Counter(event.stage for event in emitted) == {
        Stage.arrived: 4, Stage.answered: 3, Stage.closed: 3, Stage.abandoned: 1
    }
    assert sum(skipped.values()) == 6 and skipped["housekeeping RINGNOANSWER"] == 1
    assert len({event.event_id for event in emitted}) == len(emitted)
    assert sum(event.contact_key is not None for event in emitted) == 2
    assert not any("12345678" in event.model_dump_json() for event in emitted)
    transferred = [event for event in emitted if event.queue == "sundhed" and event.stage is Stage.closed]
    assert [event.resolved_first_contact for event in transferred] == [False]


# --- the event's fields ---------------------------------------------------------------------


def test_enterqueue_counts_as_inbound_phone_arrival_classified_by_queue_name():
    event = one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||+4512345678|1")

    assert event.channel is Channel.phone
    assert event.direction is Direction.inbound
    assert event.stage is Stage.arrived
    assert event.municipality == "751"
    assert event.occurred_at == datetime(2024, 3, 4, 9, 12, tzinfo=timezone.utc)
    assert (event.task, event.task_label, event.department) == ("85.06.00", "Pas", "Borgerservice")
    assert event.inquiry_kind is InquiryKind.dialogue
    assert event.requester_type is RequesterType.citizen
    assert event.site == ""
    assert event.wait_seconds is None and event.handle_seconds is None


def test_event_source_names_system_file_line_and_offset():
    event = one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1")
    assert (event.source.system, event.source.file, event.source.line, event.source.offset) == (SYSTEM, FILE, 7, 1234)


def test_fast_built_events_equal_validated_ones_with_the_whole_classification_and_source(tmp_path):
    """Events are built by EventBuilder without InquiryEvent's validation (cheaper than the parse
    itself); for every line of the sample and a simulated day this pins that nothing is lost and
    that every event is exactly what validation makes of its values and of its JSON."""
    simulate(tmp_path, days=1, seed=1, start=date(2026, 3, 24))
    parser = make_parser()
    checked = 0
    for log in (QUEUE_LOG_SAMPLE, tmp_path / "queue_log"):
        for number, line in enumerate(log.read_bytes().splitlines(), start=1):
            location = Location(SYSTEM, str(log), number, number * 100)
            try:
                result = parser.parse(line, location)
            except RecordRejected:  # the simulator writes a few broken lines on purpose
                continue
            if isinstance(result, Skip):
                continue
            for event in result:
                classification = CONTEXT.mapping.classify("phone_queue", event.queue)
                assert event.model_dump(include=set(classification.event_fields())) == classification.model_dump()
                assert event.source == location.source_ref()
                assert InquiryEvent.model_validate(event.model_dump(mode="json")) == event
                assert_as_validated(event)
                checked += 1
    assert checked > 1000


def test_values_the_parser_does_not_make_are_still_validated_by_the_event_model():
    """A bad municipality in the context or a line number 0 in the location: the runtime turns
    the ValidationError into a dead letter, as when every event was validated."""
    line = b"1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1"
    bad_context = ConnectorContext(municipality="7510", mapping=CONTEXT.mapping, keyer=KEYER)
    with pytest.raises(ValidationError, match="municipality"):
        AsteriskQueueLogParser(AsteriskQueueLogConfig(system=SYSTEM), bad_context).parse(line, Location(SYSTEM, FILE, 1, 0))
    with pytest.raises(ValidationError, match="source.line"):
        make_parser().parse(line, Location(SYSTEM, FILE, 0, 0))


def test_unknown_queue_is_counted_as_unclassified_not_dropped():
    event = one_event("1709543520|1709543520.101|hemmelig-kø|NONE|ENTERQUEUE||12345678|1")
    assert event.task == "unclassified"
    assert event.task_label == "Uklassificeret"
    assert event.queue == "hemmelig-kø"


def test_replaying_a_line_yields_the_same_event_id():
    line = "1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1"
    assert one_event(line).event_id == one_event(line).event_id


def test_call_reentering_another_queue_after_transfer_gets_its_own_ids():
    first = one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1")
    second = one_event("1709543600|1709543520.101|pension|NONE|ENTERQUEUE||12345678|1")
    assert first.event_id != second.event_id
    assert second.task == "32.18.00"


# --- ENTERQUEUE variants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1",  # url|callerid|origposition
        "1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678",  # without origposition
        "1709543520|1709543520.101|pas|NONE|ENTERQUEUE|http://intra/x|12345678",  # Asterisk 1.2: url|callerid
        "1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1|Jens Hansen",  # log-caller-id-name=yes
    ],
)
def test_enterqueue_layouts_of_every_asterisk_version_arrive(line):
    event = one_event(line)
    assert event.stage is Stage.arrived
    assert event.contact_key == KEYER.key("12345678")


def test_enterqueue_with_caller_name_keeps_the_name_out_of_the_event():
    event = one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1|Jens Hansen")
    assert "Jens" not in event.model_dump_json()


# --- the caller's number is keyed, never carried ---------------------------------------------


@pytest.mark.parametrize("callerid", ["+4512345678", "12345678", "004512345678", "+45 12 34 56 78", "4512345678"])
def test_caller_number_never_appears_in_event_json(callerid):
    event = one_event(f"1709543520|1709543520.101|pas|NONE|ENTERQUEUE||{callerid}|1")
    dumped = event.model_dump_json()
    assert "12345678" not in dumped
    assert "12 34 56 78" not in dumped
    assert event.contact_key is not None


def test_contact_key_is_equal_for_international_and_national_forms_of_one_number():
    keys = {
        one_event(f"1709543520|1709543520.101|pas|NONE|ENTERQUEUE||{callerid}|1").contact_key
        for callerid in ("+4512345678", "12345678", "004512345678", "+45 12 34 56 78")
    }
    assert keys == {KEYER.key("12345678")}


def test_contact_key_differs_between_callers():
    first = one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1")
    second = one_event("1709543520|1709543520.102|pas|NONE|ENTERQUEUE||87654321|1")
    assert first.contact_key != second.contact_key


@pytest.mark.parametrize(
    "callerid", ["", "anonymous", "Anonymous", "Local/2004@from-internal/n", "SIP/12345678-0000001a", "2004", "unknown"]
)
def test_anonymous_extension_or_channel_caller_has_no_contact_key(callerid):
    event = one_event(f"1709543520|1709543520.101|pas|NONE|ENTERQUEUE||{callerid}|1")
    assert event.contact_key is None


# --- answered, closed, abandoned, transferred -------------------------------------------------


def test_connect_is_answered_with_holdtime_as_wait():
    event = one_event("1709543580|1709543520.101|pas|PJSIP/201|CONNECT|60|1709543575.102|5")
    assert (event.stage, event.wait_seconds, event.handle_seconds) == (Stage.answered, 60, None)


def test_connect_of_asterisk_1_2_with_only_holdtime_is_answered():
    event = one_event("1709543580|1709543520.101|pas|Agent/201|CONNECT|60")
    assert (event.stage, event.wait_seconds) == (Stage.answered, 60)


@pytest.mark.parametrize("verb", ["COMPLETECALLER", "COMPLETEAGENT"])
def test_completed_call_closes_with_holdtime_and_calltime(verb):
    event = one_event(f"1709543880|1709543520.101|pas|PJSIP/201|{verb}|60|300|1")
    assert (event.stage, event.wait_seconds, event.handle_seconds) == (Stage.closed, 60, 300)
    assert event.resolved_first_contact is None  # the log cannot tell


def test_completed_call_of_asterisk_1_2_without_origposition_closes():
    event = one_event("1709543880|1709543520.101|pas|Agent/201|COMPLETECALLER|60|300")
    assert (event.stage, event.wait_seconds, event.handle_seconds) == (Stage.closed, 60, 300)


@pytest.mark.parametrize("verb", ["ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"])
def test_abandon_variants_are_abandoned_with_waittime_from_third_field(verb):
    event = one_event(f"1709543565|1709543520.101|pas|NONE|{verb}|3|1|45")
    assert (event.stage, event.wait_seconds) == (Stage.abandoned, 45)
    assert event.channel is Channel.phone and event.direction is Direction.inbound


def test_exitwithkey_is_abandoned_with_waittime_from_fourth_field():
    event = one_event("1709543565|1709543520.101|pas|NONE|EXITWITHKEY|5|2|1|33")
    assert (event.stage, event.wait_seconds) == (Stage.abandoned, 33)


@pytest.mark.parametrize(
    "line",
    [
        "1709543565|1709543520.101|pas|NONE|EXITWITHTIMEOUT|3",  # Asterisk 1.2/1.4: position only
        "1709543565|1709543520.101|pas|NONE|EXITWITHKEY|5|2",  # Asterisk 1.2/1.4: key|position
    ],
)
def test_old_exit_rows_without_waittime_abandon_with_unknown_wait(line):
    event = one_event(line)
    assert (event.stage, event.wait_seconds) == (Stage.abandoned, None)


@pytest.mark.parametrize(
    "verb_and_data",
    [
        "TRANSFER|200|from-internal|60|300|1",
        "BLINDTRANSFER|200|from-internal|60|300|1",
        "ATTENDEDTRANSFER|BRIDGE|4b6a3e8c-bridge|60|300|1",
        "ATTENDEDTRANSFER|APP|Voicemail|60|300|1",
        "ATTENDEDTRANSFER|LINK|PJSIP/201-00000001|PJSIP/305-00000002|60|300|1",
    ],
)
def test_transfers_of_every_spelling_close_as_not_resolved_at_first_contact(verb_and_data):
    event = one_event(f"1709543880|1709543520.101|pas|PJSIP/201|{verb_and_data}")
    assert event.stage is Stage.closed
    assert (event.wait_seconds, event.handle_seconds) == (60, 300)
    assert event.resolved_first_contact is False


def test_transfer_of_asterisk_1_2_without_times_still_closes():
    event = one_event("1709543880|1709543520.101|pas|Agent/201|TRANSFER|200|from-internal")
    assert (event.stage, event.wait_seconds, event.handle_seconds) == (Stage.closed, None, None)
    assert event.resolved_first_contact is False


@pytest.mark.parametrize(
    ("line", "stage", "wait", "handle"),
    [
        ("1341401601|1341401599.27|q1|SIP/abc|CONNECT|2 |1341401601.28|1", Stage.answered, 2, None),
        ("1341401601|1341401599.27|q1|SIP/abc|CONNECT| 2|1341401601.28|1", Stage.answered, 2, None),
        ("1341401601 |1341401599.27|q1|SIP/abc| CONNECT |2|1341401601.28|1", Stage.answered, 2, None),
        ("1341401613|1341401599.27|q1|SIP/abc|COMPLETEAGENT| 2 | 12 |1", Stage.closed, 2, 12),
        ("1341401613|1341401599.27|q1|NONE|ABANDON|1|1|\t30", Stage.abandoned, 30, None),
        ("1341401613|1341401599.27|q1|SIP/abc|BLINDTRANSFER|200|ctx|4 |9 |1", Stage.closed, 4, 9),
    ],
)
def test_whitespace_around_numeric_fields_and_the_event_is_tolerated(line, stage, wait, handle):
    """Lines copied from documentation or hand-edited logs pad fields (`CONNECT|2 |...`); the
    call must still get its answer and its close."""
    event = one_event(line)
    assert (event.stage, event.wait_seconds, event.handle_seconds) == (stage, wait, handle)
    assert event.event_id == make_event_id(SYSTEM, "1341401599.27|q1", stage.value)


def test_whitespace_around_a_housekeeping_verb_is_tolerated():
    line = "1709543520|1709543520.101|pas|PJSIP/201| RINGNOANSWER |1000"
    assert parse(line) == Skip(reason="housekeeping RINGNOANSWER")


# --- skipped lines ---------------------------------------------------------------------------


@pytest.mark.parametrize("verb", HOUSEKEEPING)
def test_housekeeping_verb_is_skipped_and_counted_by_verb(verb):
    assert parse(f"1709543520|1709543520.101|pas|PJSIP/201|{verb}|1000") == Skip(reason=f"housekeeping {verb}")


@pytest.mark.parametrize("callid", ["NONE", "REALTIME", "CLI", "MANAGER"])
def test_non_call_lines_are_housekeeping(callid):
    assert parse(f"1709543520|{callid}|pas|PJSIP/201|ADDMEMBER|") == Skip(reason="housekeeping ADDMEMBER")
    assert parse(f"1709543520|{callid}|NONE|NONE|ENTERQUEUE||x") == Skip(reason="housekeeping ENTERQUEUE")


def test_queuestart_without_data_is_housekeeping():
    assert parse("1709543520|NONE|NONE|NONE|QUEUESTART") == Skip(reason="housekeeping QUEUESTART")


def test_ignored_queue_is_skipped_but_others_are_not():
    config = AsteriskQueueLogConfig(system=SYSTEM, ignore_queues=["testkoe"])
    assert parse("1709543520|1709543520.101|testkoe|NONE|ENTERQUEUE||12345678|1", config) == Skip("ignored queue")
    assert one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1", config).stage is Stage.arrived


DIALLER_AND_QUEUEMETRICS = [
    "OUTDIAL", "OUTANSWER", "OUTFAIL", "OUTCALL", "OUTBUSY", "OUTNOANSWER", "OUTCOMPLETE",
    "VINFO", "AGENTCALLED", "AGENTDUMP", "SYSCOMPAT", "CALLSTATUS", "CALLERONHOLD", "CALLEROFFHOLD",
]  # fmt: skip


@pytest.mark.parametrize("verb", DIALLER_AND_QUEUEMETRICS)
def test_dialler_and_queuemetrics_verbs_are_skipped_and_counted_by_verb(verb):
    result = parse(f"1709543520|1709543520.101|pas|PJSIP/201|{verb}|1|2")
    assert isinstance(result, Skip) and result.reason.endswith(f" {verb}")
    assert not result.reason.startswith("unknown")


def test_unknown_event_is_skipped_by_default_and_counted_by_its_name():
    assert parse("1709543520|1709543520.101|pas|NONE|FROBNICATE|1|2|3") == Skip(reason="unknown event FROBNICATE")
    assert parse("1709543520|1709543520.101|pas|NONE|MyCustomVerb") == Skip(reason="unknown event MyCustomVerb")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"1366720340|1366720340.5|pas|NONE|FOO|1", "unknown event 'FOO' in field 5"),
        (b"1366720340|1366720340.5|pas|NONE|ENTERQ", "unknown event 'ENTERQ' in field 5"),
    ],
)
def test_unknown_event_is_rejected_when_unknown_events_is_reject(line, reason):
    with pytest.raises(RecordRejected) as caught:
        parse(line, AsteriskQueueLogConfig(system=SYSTEM, unknown_events="reject"))
    assert reason in caught.value.reason
    assert parse(line) == Skip(reason=f"unknown event {line.split(b'|')[4].decode()}")  # the default


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("17x|1366720340.5|pas|NONE|FROBNICATE|1", "bad timestamp '17x' in field 1"),
        ("123456|1366720340.5|pas|NONE|OUTDIAL|1", "timestamp 123456 in field 1 is outside 2000-2099"),
        ("1366720340|FROBNICATE", "2 fields, expected at least 5"),
    ],
)
def test_lines_with_a_bad_epoch_or_too_few_fields_stay_rejected_whatever_their_event(line, reason):
    assert reason in rejection(line)


def test_unknown_event_reasons_stay_few_when_a_file_is_full_of_garbage_verbs():
    """Each skip reason is a metric label: a file of shifted or garbled lines must not make thousands."""
    parser = make_parser()
    reasons = {
        parser.parse(f"1709543520|1.{n}|pas|NONE|VERB{n}".encode(), Location(SYSTEM, FILE, n, 0)).reason
        for n in range(1, 1000)
    }
    assert 2 <= len(reasons) <= 101 and "unknown event VERB1" in reasons


def test_unknown_events_setting_is_documented_and_refuses_other_values():
    field = AsteriskQueueLogConfig.model_fields["unknown_events"]
    assert "skip" in field.description and "reject" in field.description
    assert AsteriskQueueLogConfig().unknown_events == "skip"
    with pytest.raises(ValidationError):
        AsteriskQueueLogConfig(unknown_events="drop")


@pytest.mark.parametrize("record", [b"", b"   ", b"\t", b" \t \r", b"\x0b\x0c"])
def test_blank_line_is_a_counted_skip_not_a_rejection(record):
    assert parse(record) == Skip(reason="blank line")


# --- rejected lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"1366720340|13667", "2 fields, expected at least 5 separated by |"),
        (b"1366720340|1366720340.5|pas|NONE", "4 fields, expected at least 5 separated by |"),
        (b"17x|1366720340.5|pas|NONE|CONNECT|5", "bad timestamp '17x' in field 1: expected Unix epoch seconds"),
        (b"|1366720340.5|pas|NONE|ENTERQUEUE||12345678|1", "bad timestamp '' in field 1: expected Unix epoch seconds"),
        (b"-1366720340|1366720340.5|pas|NONE|CONNECT|5", "bad timestamp '-1366720340' in field 1"),
        (b"1366720340.25|1366720340.5|pas|NONE|CONNECT|5", "bad timestamp '1366720340.25' in field 1"),
        (b"123456|1366720340.5|pas|NONE|CONNECT|5", "timestamp 123456 in field 1 is outside 2000-2099"),
        (b"1366720340|1366720340.5|pas|NONE|ENTER QUEUE!|1", "bad event 'ENTER QUEUE!' in field 5"),
        (b"1366720340|1366720340.5|pas|NONE||1", "bad event '' in field 5"),
        (b"\xff\xfe1366720340|x|pas|NONE|CONNECT|5", "invalid UTF-8 at byte 0"),
        (b"1366720340|1366720340.5|p\xe5s|NONE|CONNECT|5", "invalid UTF-8 at byte 25"),
        (b"1366720340|1366720340.5|pas|SIP/a|CONNECT", "5 fields, expected at least 6 for CONNECT separated by |"),
        (b"1366720340|1366720340.5|pas|SIP/a|COMPLETEAGENT|2", "6 fields, expected at least 7 for COMPLETEAGENT"),
        (b"1366720340|1366720340.5|pas|NONE|ENTERQUEUE|", "6 fields, expected at least 7 for ENTERQUEUE"),
        (b"1366720340|1366720340.5|pas|NONE|ABANDON|1|1", "7 fields, expected at least 8 for ABANDON"),
        (b"1366720340|1366720340.5|pas|SIP/a|ATTENDEDTRANSFER|BRIDGE|x|5|9", "9 fields, expected at least 10"),
        (b"1366720340|1366720340.5|pas|SIP/a|CONNECT|x2|1.2|1", "bad holdtime 'x2' in field 6: expected whole seconds"),
        (b"1366720340|1366720340.5|pas|SIP/a|CONNECT||1.2|1", "bad holdtime '' in field 6"),
        (b"1366720340|1366720340.5|pas|SIP/a|COMPLETECALLER|2|-5|1", "bad calltime '-5' in field 7"),
        (b"1366720340|1366720340.5|pas|NONE|ABANDON|1|1|4.5", "bad waittime '4.5' in field 8"),
        (b"1366720340|1366720340.5|pas|NONE|EXITWITHKEY|5|1|1|x", "bad waittime 'x' in field 9"),
        (b"1366720340|1366720340.5|pas|SIP/a|BLINDTRANSFER|200|ctx|h|9|1", "bad holdtime 'h' in field 8"),
        (b"1366720340|1366720340.5|pas|SIP/a|ATTENDEDTRANSFER|APP|Dial|5|t|1", "bad calltime 't' in field 9"),
        (b"1366720340||pas|NONE|ENTERQUEUE||12345678|1", "empty callid in field 2 of ENTERQUEUE line"),
        (b"1366720340|1366720340.5||NONE|ENTERQUEUE||12345678|1", "empty queue name in field 3 of ENTERQUEUE line"),
    ],
)
def test_malformed_line_is_rejected_with_an_actionable_reason(line, reason):
    assert reason in rejection(line)


def test_rejection_reason_masks_a_phone_number_in_the_bad_field():
    reason = rejection("1366720340|1366720340.5|pas|SIP/a|CONNECT|+4512345678|1.2|1")
    assert reason.startswith("bad holdtime")
    assert "12345678" not in reason


def test_huge_numeric_field_is_rejected_not_converted():
    assert "bad holdtime" in rejection("1366720340|1366720340.5|pas|SIP/a|CONNECT|" + "9" * 5000)


# --- config ------------------------------------------------------------------------------------


def test_default_config_loads_and_names_the_pbx_and_rule_set():
    config = AsteriskQueueLogConfig()
    assert (config.system, config.rule_set, config.ignore_queues) == ("asterisk", "phone_queue", [])
    assert AsteriskQueueLogParser.kind == "asterisk_queue_log"


def test_config_rejects_unknown_keys():
    with pytest.raises(ValidationError):
        AsteriskQueueLogConfig.model_validate({"sytem": "pbx1"})


def test_other_rule_set_classifies_with_its_own_rules():
    config = AsteriskQueueLogConfig(system=SYSTEM, rule_set="no_such_rules")
    assert one_event("1709543520|1709543520.101|pas|NONE|ENTERQUEUE||12345678|1", config).task == "unclassified"


# --- no input makes the parser raise anything but RecordRejected, and every event is valid ---

_PARSER = make_parser()
_FIELD = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-10, max_value=5_000_000_000).map(str),
    st.sampled_from(CALL_VERBS + HOUSEKEEPING + ["NONE", "", "+4512345678", "Local/2004@from-internal/n"]),
)


def _check(record: bytes) -> None:
    check_record(_PARSER, record, Location(SYSTEM, FILE, 1, 0))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_yield_events_skip_or_rejection_only(record):
    _check(record)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FIELD, max_size=12))
def test_arbitrary_pipe_joined_fields_yield_events_skip_or_rejection_only(fields):
    _check("|".join(fields).encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None)
@given(
    epoch=st.integers(min_value=900_000_000, max_value=4_200_000_000),
    callid=st.sampled_from(["1709543520.101", "host-1292281041.87", "NONE", ""]),
    queue=st.sampled_from(["pas", "pension", "ukendt", ""]),
    verb=st.sampled_from(CALL_VERBS + HOUSEKEEPING + ["FOO"]),
    data=st.lists(_FIELD, max_size=7),
)
def test_well_formed_prefix_with_arbitrary_data_yields_events_skip_or_rejection_only(epoch, callid, queue, verb, data):
    _check("|".join([str(epoch), callid, queue, "NONE", verb, *data]).encode("utf-8", "surrogatepass"))


# --- no line stalls the parser --------------------------------------------------------------------

_PREFIX = "1709543520|1709543520.101|pas|NONE|"


@pytest.mark.parametrize("text", cases({
    "long caller id": _PREFIX + "ENTERQUEUE||" + "4" * 1_000_000 + "|1",
    "long holdtime": _PREFIX + "CONNECT|" + "9" * 1_000_000,
    "padded holdtime": _PREFIX + "CONNECT|" + " " * 1_000_000 + "2",
    "long event name": _PREFIX + "A" * 1_000_000,
    "padded event name": _PREFIX + " " * 1_000_000 + "CONNECT |2",
    "many fields": _PREFIX + "ATTENDEDTRANSFER" + "|" * 1_000_000,
}))
def test_a_1_mb_adversarial_line_is_read_without_stalling(text):
    parser = make_parser()
    assert_no_line_stalls(parser, text, location=Location(SYSTEM, FILE, 2, 0))


def test_a_short_rejected_row_keeps_no_caller_in_its_dead_letter() -> None:
    """Six fields: the one data field may be the caller's name and number."""
    from connectors.asterisk_queue_log import AsteriskQueueLogParser

    parser = AsteriskQueueLogParser.__new__(AsteriskQueueLogParser)
    assert "Jens" not in parser.redact("17x4603120|1.2|pas|NONE|ENTERQUEUE|Jens Jensen <+4529876543>")

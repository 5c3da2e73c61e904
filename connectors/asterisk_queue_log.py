"""Asterisk queue_log -> phone InquiryEvents: the phone queue's view of every inbound call.

The runtime hands this parser one `epoch|callid|queue|agent|event|data...` line at a time;
each call's ENTERQUEUE, CONNECT and COMPLETE*/ABANDON*/TRANSFER lines become its arrived,
answered, closed or abandoned events. Member and queue housekeeping lines are skipped.

Choices where the log itself is silent:
- A transferred call (TRANSFER, BLINDTRANSFER, ATTENDEDTRANSFER) is `closed` in this queue
  with `resolved_first_contact=False`: the agent passed the caller on instead of settling
  the matter. If it lands in another queue it re-enters there with the same unique id, so
  the event reference is `callid|queue` and the two queues' events never collide.
- ATTENDEDTRANSFER's method data is one field (BRIDGE|id, APP|name) or two (LINK|a|b),
  so its holdtime and calltime are read from the end of the line, not by position.
- Rows from old Asterisk versions (1.2/1.4) that lack the wait or talk times still yield
  their event, with the missing duration left empty rather than guessed.
- Verbs of PBX add-ons are valid lines, not inquiries: QueueMetrics annotations are skipped
  as housekeeping, outbound dialler lines (OUT*) as "dialler <verb>", and any other unknown
  verb by default as "unknown event <verb>" (`unknown_events: reject` dead-letters them).
- Blanks around a number or the event name (`CONNECT|2 |...`, as in lines copied from
  documentation) are tolerated; callid, queue and agent are taken as written.
- The caller id is keyed (HMAC) only when it looks like a phone number; the number itself
  never leaves this module, not even in a rejection reason.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from connectors.base import ConnectorContext, Location, RecordParser, RecordRejected, Skip, decode_record, whole_seconds
from connectors.config import ConnectorConfig, rule_set_field, system_field
from pipeline.ground.privacy import shown
from schemas import Channel, InquiryEvent, Stage


class UnknownEvents(StrEnum):
    skip = "skip"  # counted under "unknown event <name>", no dead letter
    reject = "reject"  # dead-lettered, one per line


class AsteriskQueueLogConfig(ConnectorConfig):
    """Where the queue_log comes from and how its queue names are classified."""

    system: str = system_field("asterisk", "the PBX", "asterisk-pbx1")
    rule_set: str = rule_set_field("phone_queue", "queue names")
    ignore_queues: list[str] = Field(
        default_factory=list,
        description="Queue names (exact, as in column 3) whose lines are skipped, e.g. internal test queues.",
        examples=[["testqueue", "intern-helpdesk"]],
    )
    unknown_events: UnknownEvents = Field(
        default=UnknownEvents.skip,
        description="What to do with a line whose event (column 5) this connector does not know, such as a"
        " custom QueueLog() verb: 'skip' counts it as skipped under 'unknown event <name>' (the default:"
        " PBX add-ons write verbs of their own), 'reject' dead-letters it. A column 5 that is no event name"
        " at all, a bad timestamp or too few fields are rejected either way.",
        examples=["reject"],
    )


logger = logging.getLogger(__name__)

# Unix epoch seconds of 2000-01-01 and 2100-01-01: anything outside is a broken line.
_EARLIEST_EPOCH = 946_684_800
_LATEST_EPOCH = 4_102_444_800
_BLANK = Skip(reason="blank line")

# callid values Asterisk writes on lines that are about the queue, not a call.
_NON_CALL_IDS = frozenset({"NONE", "REALTIME", "CLI", "MANAGER"})

# Valid lines that are not a stage of an inquiry: member state, ringing attempts (RINGNOANSWER
# carries milliseconds and dominates FreePBX logs), reloads and dialplan annotations.
_HOUSEKEEPING = frozenset({
    "RINGNOANSWER", "RINGCANCELED", "WITHDRAW",
    "ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "PENALTY",
    "AGENTLOGIN", "AGENTLOGOFF", "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF", "AGENTDUMP",
    "QUEUESTART", "CONFIGRELOAD", "SYSCOMPAT", "DID", "INFO",
    # QueueMetrics and its Uniloader annotate calls and agents with verbs of their own.
    "VINFO", "AGENTCALLED", "CALLSTATUS", "CALLERONHOLD", "CALLEROFFHOLD",
})  # fmt: skip
# Outbound dialler lines (QueueMetrics / WombatDialer OUT* verbs): valid, but no inbound queue call;
# outbound phone contacts are not read from the queue_log.
_DIALLER = frozenset({"OUTDIAL", "OUTANSWER", "OUTFAIL", "OUTCALL", "OUTBUSY", "OUTNOANSWER", "OUTCOMPLETE"})
# What an event name looks like (a custom verb of a PBX add-on); anything else in column 5 is a broken line.
_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,39}")
# Skip reasons are metric labels: at most this many distinct "unknown event <name>" per parser,
# so a file of garbled lines cannot make thousands.
_MAX_UNKNOWN_EVENT_REASONS = 100

# Call events: the data fields a line must have (oldest writer's layout) and their names
# for rejection reasons. Trailing extra fields are ignored, so newer Asterisk versions that
# append fields (ENTERQUEUE's caller name, 2025) still load.
_CALL_EVENTS: dict[str, tuple[int, str]] = {
    "ENTERQUEUE": (2, "url|callerid[|origposition]"),
    "CONNECT": (1, "holdtime[|uniqueid|ringtime]"),
    "COMPLETECALLER": (2, "holdtime|calltime[|origposition]"),
    "COMPLETEAGENT": (2, "holdtime|calltime[|origposition]"),
    "ABANDON": (3, "position|origposition|waittime"),
    "EXITEMPTY": (3, "position|origposition|waittime"),
    "EXITWITHTIMEOUT": (1, "position[|origposition|waittime]"),
    "EXITWITHKEY": (2, "key|position[|origposition|waittime]"),
    "TRANSFER": (2, "exten|context[|holdtime|calltime|origposition]"),
    "BLINDTRANSFER": (4, "exten|context|holdtime|calltime[|origposition]"),
    "ATTENDEDTRANSFER": (5, "method|method-data|holdtime|calltime|origposition"),
}
_ABANDON_WAIT_FIELD = {"ABANDON": 2, "EXITEMPTY": 2, "EXITWITHTIMEOUT": 2, "EXITWITHKEY": 3}
_TRANSFERS = frozenset({"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"})
_NO_CALLER_FIELD = (frozenset(_CALL_EVENTS) - {"ENTERQUEUE"}) | _HOUSEKEEPING | _DIALLER


class AsteriskQueueLogParser(RecordParser[AsteriskQueueLogConfig]):
    """Parses one queue_log line into phone events, a Skip, or a RecordRejected."""

    kind: ClassVar[str] = "asterisk_queue_log"

    def redact(self, record: str) -> str:
        """A rejected line fit for the dead-letter topic: its caller-id field (7th, ENTERQUEUE's
        callerid, which may hold a name too) blanked unless the event is known to carry none."""
        fields = record.split("|")
        if len(fields) >= 7 and fields[4].strip() not in _NO_CALLER_FIELD:
            fields[6] = "<callerid>"
        elif len(fields) == 6 and fields[4].strip() not in _NO_CALLER_FIELD:
            fields[5] = "<redacted>"  # a short row: its one data field may be the caller
        return "|".join(fields)

    def __init__(self, config: AsteriskQueueLogConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self._ignored = frozenset(config.ignore_queues)
        self._reject_unknown = config.unknown_events is UnknownEvents.reject
        self._unknown_seen: set[str] = set()

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """queue_log has no header: every line stands alone."""
        logger.debug("reading queue_log %s for system %s", path, self._config.system)

    def parse(self, record: bytes, location: Location) -> list[InquiryEvent] | Skip:
        if not record or record.isspace():  # a blank line says nothing: counted, not dead-lettered
            return _BLANK
        text = decode_record(record)
        if text.endswith("\r"):  # a CRLF file whose CR survived line splitting
            text = text[:-1]
        fields = text.split("|")
        if len(fields) < 5:
            raise RecordRejected(
                f"{len(fields)} fields, expected at least 5 separated by | (epoch|callid|queue|agent|event|data...)"
            )
        epoch = self._epoch(fields[0])
        callid, queue, verb = fields[1], fields[2], fields[4]

        call_event = _CALL_EVENTS.get(verb)
        if call_event is None and verb != (bare := verb.strip()):  # `| CONNECT |` in a hand-edited log
            verb = bare
            call_event = _CALL_EVENTS.get(verb)
        if call_event is None:
            if verb in _HOUSEKEEPING:
                return Skip(reason=f"housekeeping {verb}")
            if verb in _DIALLER:
                return Skip(reason=f"dialler {verb}")
            return self._unknown(verb)
        if callid in _NON_CALL_IDS:
            return Skip(reason=f"housekeeping {verb}")
        if queue in self._ignored:
            return Skip(reason="ignored queue")
        if not callid:
            raise RecordRejected(f"empty callid in field 2 of {verb} line")
        if not queue:
            raise RecordRejected(f"empty queue name in field 3 of {verb} line")

        min_data, layout = call_event
        data = fields[5:]
        if len(data) < min_data:
            raise RecordRejected(
                f"{len(fields)} fields, expected at least {5 + min_data} for {verb} separated by |"
                f" (epoch|callid|queue|agent|{verb}|{layout})"
            )
        occurred_at = datetime.fromtimestamp(epoch, timezone.utc)

        if verb == "ENTERQUEUE":
            key = self._context.keyer.phone_key(data[1])
            event = self._event(location, callid, queue, Stage.arrived, occurred_at, contact_key=key)
        elif verb == "CONNECT":
            wait = whole_seconds(data[0], 6, "holdtime")
            event = self._event(location, callid, queue, Stage.answered, occurred_at, wait=wait)
        elif verb in _TRANSFERS:
            # ATTENDEDTRANSFER: holdtime|calltime|origposition are always the last three.
            hold_at = len(data) - 3 if verb == "ATTENDEDTRANSFER" else 2
            wait = whole_seconds(data[hold_at], 6 + hold_at, "holdtime") if len(data) > hold_at else None
            handle = whole_seconds(data[hold_at + 1], 7 + hold_at, "calltime") if len(data) > hold_at + 1 else None
            event = self._event(
                location, callid, queue, Stage.closed, occurred_at, wait=wait, handle=handle, resolved=False
            )
        elif verb in _ABANDON_WAIT_FIELD:
            at = _ABANDON_WAIT_FIELD[verb]
            wait = whole_seconds(data[at], 6 + at, "waittime") if len(data) > at else None
            event = self._event(location, callid, queue, Stage.abandoned, occurred_at, wait=wait)
        else:  # COMPLETECALLER, COMPLETEAGENT
            wait = whole_seconds(data[0], 6, "holdtime")
            handle = whole_seconds(data[1], 7, "calltime")
            event = self._event(location, callid, queue, Stage.closed, occurred_at, wait=wait, handle=handle)
        return [event]

    def _unknown(self, verb: str) -> Skip:
        """A verb this connector does not know: skipped (and counted by name) or rejected, as configured."""
        if not _EVENT_NAME.fullmatch(verb):
            raise RecordRejected(f"bad event {shown(verb)} in field 5: expected an event name such as ENTERQUEUE")
        if self._reject_unknown:
            raise RecordRejected(
                f"unknown event {shown(verb)} in field 5: not a queue_log event this connector knows"
                " (unknown_events: skip would count it as skipped)"
            )
        if verb not in self._unknown_seen:
            if len(self._unknown_seen) >= _MAX_UNKNOWN_EVENT_REASONS:
                return Skip(reason=f"unknown event (more than {_MAX_UNKNOWN_EVENT_REASONS} kinds)")
            self._unknown_seen.add(verb)
        return Skip(reason=f"unknown event {verb}")

    @staticmethod
    def _epoch(value: str) -> int:
        if not (value.isascii() and value.isdigit()) or len(value) > 10:
            digits = value.strip()  # blanks around it are tolerated, as in every numeric field
            if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:
                raise RecordRejected(f"bad timestamp {shown(value)} in field 1: expected Unix epoch seconds")
            value = digits
        epoch = int(value)
        if not _EARLIEST_EPOCH <= epoch < _LATEST_EPOCH:
            raise RecordRejected(
                f"timestamp {epoch} in field 1 is outside 2000-2099: expected Unix epoch seconds"
            )
        return epoch

    def _event(
        self,
        location: Location,
        callid: str,
        queue: str,
        stage: Stage,
        occurred_at: datetime,
        *,
        wait: int | None = None,
        handle: int | None = None,
        resolved: bool | None = None,
        contact_key: str | None = None,
    ) -> InquiryEvent:
        # Every value here is made and checked by this parser (epoch within 2000-2099, durations
        # whole seconds, contact_key from the keyer), so EventBuilder does not run the model's
        # validation on them, which cost more than parsing the line (bench/parse_throughput.py);
        # it still validates what the context and location bring in. The test
        # *_fast_built_events_equal_validated_* pins every event of the sample and a simulated
        # day, and the hypothesis tests every event of arbitrary lines, against that validation.
        return self._events.event(
            location,
            f"{callid}|{queue}",
            Channel.phone,
            stage,
            occurred_at,
            self._context.mapping.classify(self._config.rule_set, queue),
            queue,
            wait_seconds=wait,
            handle_seconds=handle,
            resolved_first_contact=resolved,
            contact_key=contact_key,
        )

"""Asterisk CDR CSV (cdr_csv's Master.csv) -> phone InquiryEvents of the lines without queues.

The runtime hands this parser one Master.csv row at a time. A row is one call leg, written by
Asterisk's cdr_csv module when the call ends; an inbound call to one of the municipality's
numbers becomes its arrived event and then answered and closed, or abandoned: the stages the
queue_log connector emits for queue calls. Calls the PBX's own phones make are skipped.

The layout (cdr/cdr_csv.c, build_csv_record; no header line): accountcode, src, dst, dcontext,
clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
disposition, amaflags, then as cdr.conf's [csv] section switches them on uniqueid
(loguniqueid), userfield (loguserfield) and peeraccount, linkedid, sequence (newcdrcolumns).
Text and times are double-quoted ("" inside), duration, billsec and sequence are bare whole
seconds, a time never reached (a call not answered) is empty. Times are local wall-clock
"%Y-%m-%d %H:%M:%S" in the PBX's zone, or UTC with usegmtime=yes (then set timezone: UTC).

Choices where the CDR is silent:
- ANSWERED: arrived at start, answered duration - billsec seconds later (that is the wait),
  closed at start + duration with the wait and billsec as the talk time. NO ANSWER, BUSY,
  FAILED and CONGESTION: arrived, and abandoned at start + duration with the whole duration
  as the wait: the caller was not served, whichever way the attempt ended.
- Only start is read off the wall clock: the later stages add Asterisk's own second counts
  (duration, billsec) to it, so a call across the autumn fall-back hour keeps its true wait and
  talk time, where answer and end, written in local time, may run backwards. answer and end are
  still checked to be times. An ambiguous start is read as its first occurrence (fold=0, as the
  ticket and channel exports read local times); one in the spring gap is rejected.
- ANSWERED means the channel was answered, by a person, a voicemail box or an IVR alike: the
  CDR cannot tell them apart, so a line that answers with an IVR reads as answered.
- Only inbound calls are inquiries. Skipped, each under its reason: a row whose dcontext is one
  of `internal_contexts` (the context of calls the PBX's own phones place, outbound or to
  another extension), a row whose caller (src) is an extension (only digits, at most
  `extension_digits`), and a call whose last application is in `skip_applications` (Queue by
  default: the queue_log connector counts queue calls, and reading their CDR too would count
  them twice). An empty or anonymous caller is a citizen with a hidden number: counted.
- The reference is the uniqueid (loguniqueid=yes), else `start|channel`, which names the same
  caller channel. The rows one call writes (a transfer writes one per party the caller met) share
  it, so the call arrives once; their answered, closed or abandoned events share ids as well and
  the first one stored counts.
- Task and department: the rule set `rule_set` (phone_extension) on dst, the dialled number or
  extension; no match is unclassified. The event's queue is dst as written (the runtime masks a
  number of 8 or more digits in any name, so a direct number shows as <phone> downstream).
- The caller's number (src) is keyed like the queue_log's caller id (digits, Danish prefix
  dropped), so one caller has one contact key on both; it never leaves this module. src, clid
  (which holds the caller's name) and userfield are blanked in dead letters.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from connectors.base import ConnectorContext, Location, RecordParser, RecordRejected, Skip, decode_record, whole_seconds
from connectors.config import ConnectorConfig, rule_set_field, system_field, timezone_field
from connectors.tabular import parse_time
from pipeline.ground.privacy import REDACTED, shown
from schemas import Channel, InquiryEvent, Stage
from schemas.inquiry import LATEST_YEAR


class AsteriskCdrConfig(ConnectorConfig):
    """Where Master.csv comes from, which of cdr_csv's optional columns it has, and what is internal."""

    system: str = system_field("asterisk_cdr", "the PBX's CDR source", "asterisk-pbx1-cdr")
    rule_set: str = rule_set_field("phone_extension", "the dialled number or extension (dst)")
    timezone: str = timezone_field("Europe/Copenhagen", "cdr_csv writes the PBX's local time; with usegmtime=yes "
                                   "in cdr.conf [csv] (Asterisk's sample cdr.conf sets it) set 'UTC'", "UTC")
    loguniqueid: bool = Field(
        default=True,
        description="As cdr.conf [csv] loguniqueid: rows carry the call's uniqueid after amaflags (column 17). "
        "Asterisk's default is no; its sample cdr.conf says yes.",
    )
    loguserfield: bool = Field(
        default=True,
        description="As cdr.conf [csv] loguserfield: rows carry the userfield after the uniqueid. Asterisk's "
        "default is no; its sample cdr.conf says yes.",
    )
    newcdrcolumns: bool = Field(
        default=False,
        description="As cdr.conf [csv] newcdrcolumns: rows end with peeraccount, linkedid and sequence. "
        "Rows of only the 16 columns every cdr_csv writes are read whatever these three say.",
    )
    internal_contexts: list[str] = Field(
        default_factory=lambda: ["from-internal"],
        description="Destination contexts (dcontext, column 4, exact) of calls the PBX's own phones place, "
        "outbound or to another extension: skipped. FreePBX's is from-internal.",
        examples=[["from-internal", "from-sip-phones"]],
    )
    extension_digits: int = Field(
        default=6,
        ge=0,
        le=7,
        description="A caller (src) of only digits, at most this many, is one of the PBX's extensions: its row "
        "is internal or outbound and skipped. 0: no caller is. At most 7, so a Danish number is never one.",
    )
    skip_applications: list[str] = Field(
        default_factory=lambda: ["Queue"],
        description="Calls whose last application (lastapp, column 8; case-insensitive) is one of these are "
        "skipped: a call that ended in a queue is counted from the queue_log by the asterisk_queue_log "
        "connector. Empty: count every inbound row.",
        examples=[["Queue", "VoiceMail"]],
    )


logger = logging.getLogger(__name__)

_BLANK = Skip(reason="blank line")
_HEADER = Skip(reason="header")
# cdr_csv builds a row in a 1,024-byte buffer and writes none longer: anything much longer is no row of it.
_MAX_LINE = 4096
_BASE_COLUMNS = 16  # accountcode .. amaflags: in every row
_NAMES = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
          "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")  # fmt: skip
_SRC, _DST, _DCONTEXT, _CLID, _CHANNEL, _LASTAPP = 1, 2, 3, 4, 5, 7
_START, _ANSWER, _END, _DURATION, _BILLSEC, _DISPOSITION = 9, 10, 11, 12, 13, 14
_MAX_EXTENSION = 80  # AST_MAX_EXTENSION: a dst (dialled number or extension) is no longer
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # cdr_csv's DATE_FORMAT "%Y-%m-%d %T"
_ANSWERED = "ANSWERED"
# ast_cdr_disp2str: every disposition but ANSWERED leaves the caller unserved.
_DISPOSITIONS = frozenset({_ANSWERED, "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
# Fields kept in the dead letter of a row whose columns cannot be told apart: numbers, times, ids.
_HARMLESS_FIELD = re.compile(r"[0-9:. \-]*")
# A dst as Asterisk dials it: an extension or number, never text with spaces.
_EXTENSION = re.compile(r"[0-9A-Za-z*#+_.\-]*")
# What a context or dialled number looks like (from-trunk, from-internal, 89402200): kept in dead letters.
_CONTEXT_LIKE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)+|\+?[0-9*#]+")


class AsteriskCdrParser(RecordParser[AsteriskCdrConfig]):
    """Parses one Master.csv row into phone events, a Skip, or a RecordRejected."""

    kind: ClassVar[str] = "asterisk_cdr"

    def __init__(self, config: AsteriskCdrConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self._uniqueid_at = _BASE_COLUMNS if config.loguniqueid else None
        self._userfield_at = _BASE_COLUMNS + config.loguniqueid if config.loguserfield else None
        width = _BASE_COLUMNS + config.loguniqueid + config.loguserfield + 3 * config.newcdrcolumns
        self._widths = frozenset({_BASE_COLUMNS, width})
        optional = [name for name, on in (("uniqueid", config.loguniqueid), ("userfield", config.loguserfield),
                                          ("peeraccount, linkedid, sequence", config.newcdrcolumns)) if on]
        self._layout = (
            f"{width} (accountcode .. amaflags, {', '.join(optional)}) or {_BASE_COLUMNS}" if optional
            else f"{_BASE_COLUMNS} (accountcode .. amaflags)"
        )
        self._internal_contexts = frozenset(config.internal_contexts)
        self._skipped_apps = {app.casefold(): app for app in config.skip_applications}

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """Master.csv has no header: every row stands alone."""
        logger.debug("reading CDR file %s for system %s", path, self._config.system)

    def parse(self, record: bytes, location: Location) -> list[InquiryEvent] | Skip:
        if not record or record.isspace():  # a blank line says nothing: counted, not dead-lettered
            return _BLANK
        if len(record) > _MAX_LINE:
            raise RecordRejected(f"line of {len(record):,} bytes: cdr_csv writes rows of at most 1,024 bytes,"
                                 " so this is no Master.csv row")
        text = decode_record(record).removesuffix("\r")
        try:
            fields = next(csv.reader((text,)), [])
        except csv.Error as exc:
            raise RecordRejected(f"not a CSV line: {exc}") from None
        if len(fields) not in self._widths:
            raise RecordRejected(
                f"{len(fields)} fields, expected {self._layout}: set loguniqueid, loguserfield and newcdrcolumns"
                " as the PBX's cdr.conf [csv] does"
            )
        if fields[0] == "accountcode" and fields[_START] == "start":  # a header someone added by hand
            return _HEADER

        start = self._time(fields[_START], _START)
        if start is None:
            raise RecordRejected(f"empty start in field {_START + 1}: every call has the time it began")
        self._time(fields[_ANSWER], _ANSWER)  # checked only: see the module docstring on wall clocks
        self._time(fields[_END], _END)
        duration = whole_seconds(fields[_DURATION], _DURATION + 1, "duration", "row")
        billsec = whole_seconds(fields[_BILLSEC], _BILLSEC + 1, "billsec", "row")
        disposition = fields[_DISPOSITION].strip()
        if disposition not in _DISPOSITIONS:
            raise RecordRejected(
                f"unknown disposition {shown(disposition)} in field {_DISPOSITION + 1}: expected ANSWERED,"
                " NO ANSWER, BUSY, FAILED or CONGESTION"
            )
        answered = disposition == _ANSWERED
        if answered and billsec > duration:
            raise RecordRejected(
                f"billsec {billsec} in field {_BILLSEC + 1} is more than duration {duration} in field"
                f" {_DURATION + 1}: the talk time is part of the call"
            )
        dst = fields[_DST]
        if len(dst) > _MAX_EXTENSION:
            raise RecordRejected(f"dst of {len(dst):,} characters in field {_DST + 1}: Asterisk's extensions and"
                                 f" numbers have at most {_MAX_EXTENSION}")
        if not _EXTENSION.fullmatch(dst):  # a name in dst is a shifted row; it is not quoted here
            raise RecordRejected(f"dst in field {_DST + 1} is no extension or number: letters, digits and * # + _ . -"
                                 " only (is a text column unquoted?)")

        if fields[_DCONTEXT] in self._internal_contexts:
            return Skip(reason="internal context")
        src = fields[_SRC].strip()
        if src.isascii() and src.isdigit() and len(src) <= self._config.extension_digits:
            return Skip(reason="internal caller")
        app = self._skipped_apps.get(fields[_LASTAPP].strip().casefold())
        if app is not None:
            return Skip(reason=f"last application {app}")

        uniqueid = fields[self._uniqueid_at] if self._uniqueid_at is not None and len(fields) > _BASE_COLUMNS else ""
        reference = uniqueid or f"{fields[_START]}|{fields[_CHANNEL]}"
        classification = self._context.mapping.classify(self._config.rule_set, dst)

        def event(stage: Stage, at: datetime, **measures: Any) -> InquiryEvent:
            # The start is parse_time's (UTC, 2000-2099), the durations whole seconds within a week, the
            # contact key the keyer's: EventBuilder validates only what the row and the runtime bring in
            # beyond that (dst as the queue, the location), and a stage pushed past 2099 by its duration.
            return self._events.event(location, reference, Channel.phone, stage, at, classification, dst, **measures)

        ends = start + timedelta(seconds=duration)
        if ends.year > LATEST_YEAR:
            raise RecordRejected(f"the call starting {fields[_START]} in field {_START + 1} ends after {LATEST_YEAR}")
        events = [event(Stage.arrived, start, contact_key=self._context.keyer.phone_key(src))]
        if answered:
            wait = duration - billsec
            events.append(event(Stage.answered, start + timedelta(seconds=wait), wait_seconds=wait))
            events.append(event(Stage.closed, ends, wait_seconds=wait,
                                handle_seconds=billsec))
        else:
            events.append(event(Stage.abandoned, ends, wait_seconds=duration))
        return events

    def _time(self, raw: str, at: int) -> datetime | None:
        """A time column as UTC (None when empty): local wall-clock time in the configured zone."""
        if not raw:
            return None
        return parse_time(raw, f"{_NAMES[at]} (field {at + 1})", _DATE_FORMAT, self._zone, self._config.timezone)

    def redact(self, record: str) -> str:
        """A rejected row fit for the dead-letter topic: only numbers and times are kept, and where
        the row has a width cdr_csv writes, the disposition and a context or dst that looks like
        one. src, clid, userfield, channels and lastdata may name or number a person, and in a row
        whose text columns were not quoted any column may hold them, so nothing else is kept."""
        try:
            fields = next(csv.reader((record,)), [])
        except csv.Error:
            return "<row redacted: not a CSV line>"
        aligned = len(fields) in self._widths
        fields = [field if _HARMLESS_FIELD.fullmatch(field) or (aligned and _kept(at, field)) else REDACTED
                  for at, field in enumerate(fields)]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(fields)
        return out.getvalue()


def _kept(at: int, field: str) -> bool:
    """Whether a dead letter may keep column `at` of an aligned row."""
    if at == _DISPOSITION:
        return field in _DISPOSITIONS
    return at in (_DST, _DCONTEXT) and _CONTEXT_LIKE.fullmatch(field) is not None

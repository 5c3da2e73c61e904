"""InquiryEvent v1 and DeadLetter: the records on the `inquiries` and `inquiries.dlq` topics.

An inquiry ("henvendelse") is one contact from a citizen, business or association
through one channel. Sources log several stages of it (a call arrives, is answered,
ends); each stage is one event, and the event id is derived from the source so that
re-reading a log yields the very same ids.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer, field_validator

UNCLASSIFIED = "unclassified"

# One definition each, shared by the model, the mapping rules and the worker's columnar
# checks. [0-9], not \d: \d also matches other scripts' digits, which pyarrow's \d does not.
TASK_PATTERN = r"^([0-9]{2}\.[0-9]{2}\.[0-9]{2}|unclassified)$"
MUNICIPALITY_PATTERN = r"^[0-9]{3}$"
EVENT_ID_PATTERN = r"^[0-9a-f]{32}$"
CONTACT_KEY_PATTERN = r"^[0-9a-f]{64}$"
# Events outside these years (in UTC) are broken clocks or broken lines, not inquiries.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099
# Bounds every door holds (connectors, HTTP ingest, worker), so nothing a source sends can
# outgrow a Kafka message, a ClickHouse column or a dashboard's arithmetic:
NAME_MAX = 200  # task_label, department, site, queue, source.system: names, not documents
PATH_MAX = 1024  # source.file
MAX_DURATION_SECONDS = 7 * 24 * 3600  # a wait or handle time beyond a week is a broken record
LINE_MAX = 10**12  # source.line
OFFSET_MAX = 2**62  # source.offset (bytes)
RAW_MAX = 4096  # characters of a rejected record a dead letter carries
REASON_MAX = 2048  # characters of a dead letter's reason


class Channel(StrEnum):
    """The contact channels of a channel strategy (kanalstrategi)."""

    walk_in = "walk_in"  # personligt fremmøde
    phone = "phone"  # telefon
    email = "email"
    letter = "letter"  # papirpost
    digital_post = "digital_post"
    self_service = "self_service"  # digital selvbetjening
    chat = "chat"
    web = "web"  # hjemmeside: page views, the "web first" signal


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Stage(StrEnum):
    """Where in its life an inquiry is. Volume KPIs count `arrived` inbound events."""

    arrived = "arrived"
    answered = "answered"
    closed = "closed"
    abandoned = "abandoned"


class RequesterType(StrEnum):
    citizen = "citizen"
    business = "business"
    association = "association"
    authority = "authority"
    unknown = "unknown"


class InquiryKind(StrEnum):
    """Gribskov's information / dialogue / case work, or Glostrup's support / transaction."""

    information = "information"
    dialogue = "dialogue"
    case_work = "case_work"
    support = "support"
    transaction = "transaction"
    unknown = "unknown"


def make_event_id(system: str, reference: str, stage: str) -> str:
    """Derive the event id from where the event came from, so a replay yields the same id.

    `reference` identifies the inquiry inside the source system (a call's unique id and
    queue, a ticket number and its day); it never contains personal data.
    """
    digest = hashlib.sha256(f"{system}\x1f{reference}\x1f{stage}".encode()).hexdigest()
    return digest[:32]


def make_inquiry_id(system: str, reference: str) -> str:
    """The id every event of one inquiry shares (its arrival, answer and closing): how a call's
    outcome is tied to its caller's contact key for first-contact resolution."""
    digest = hashlib.sha256(f"{system}\x1f{reference}".encode()).hexdigest()
    return digest[:32]


class SourceRef(BaseModel):
    """Where an event was read: which system, which file, which line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1, max_length=NAME_MAX,
                        description="Configured name of the source system, e.g. 'asterisk-pbx1'.")
    file: str = Field(default="", max_length=PATH_MAX,
                      description="File the record was read from; empty for direct ingest.")
    line: int | None = Field(default=None, ge=1, le=LINE_MAX, description="1-based line number in the file.")
    offset: int | None = Field(default=None, ge=0, le=OFFSET_MAX, description="Byte offset of the record's first byte.")


TaskCode = Annotated[str, Field(pattern=TASK_PATTERN)]


class InquiryEvent(BaseModel):
    """One stage of one inquiry, normalised and free of personal data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    event_id: str = Field(pattern=EVENT_ID_PATTERN, description="make_event_id(system, reference, stage).")
    inquiry_id: str | None = Field(
        default=None, pattern=EVENT_ID_PATTERN,
        description="make_inquiry_id(system, reference): the same on every event of one inquiry (arrival, answer, "
        "closing), so its outcome is tied to its arrival; null when the source cannot say.")
    occurred_at: AwareDatetime = Field(description="When the stage happened, UTC on the wire.")
    municipality: str = Field(pattern=MUNICIPALITY_PATTERN, description="3-digit municipality code, e.g. '751'.")
    channel: Channel
    direction: Direction = Direction.inbound
    stage: Stage
    task: TaskCode = Field(default=UNCLASSIFIED, description="KLE code, or 'unclassified'.")
    task_label: str = Field(default="", max_length=NAME_MAX, description="Readable label of the task.")
    department: str = Field(default="", max_length=NAME_MAX, description="Department / unit (afdeling).")
    site: str = Field(default="", max_length=NAME_MAX, description="Physical site for walk-ins; empty otherwise.")
    queue: str = Field(default="", max_length=NAME_MAX,
                       description="Phone queue, ticket service or mailbox as the source names it.")
    wait_seconds: float | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS, allow_inf_nan=False,
                                       description="Time waited before being served or giving up.")
    handle_seconds: float | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS, allow_inf_nan=False,
                                         description="Time spent serving (talk or counter time).")
    requester_type: RequesterType = RequesterType.unknown
    inquiry_kind: InquiryKind = InquiryKind.unknown
    appointment: bool | None = Field(default=None, description="Walk-ins: booked visit (True) or drop-in (False).")
    resolved_first_contact: bool | None = None
    visited_web_first: bool | None = None
    contact_key: str | None = Field(
        default=None,
        pattern=CONTACT_KEY_PATTERN,
        description="HMAC-SHA256 of the requester identifier; the identifier itself never leaves the connector.",
    )
    source: SourceRef

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            utc = value.astimezone(timezone.utc)
        except OverflowError:  # 0001-01-01 with a positive offset, 9999-12-31 with a negative one
            raise ValueError(f"year outside {EARLIEST_YEAR}-{LATEST_YEAR} in UTC") from None
        if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
            raise ValueError(f"year {utc.year} in UTC is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
        return utc

    @field_serializer("occurred_at")
    def _iso_z(self, value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"

    @property
    def partition_key(self) -> str:
        """Kafka message key: keeps one site's walk-ins, and one queue's calls, in order.

        A site's arrivals must reach one worker in order for spike detection; channels
        without a site spread by channel and task, so load spreads over partitions.
        """
        if self.site:
            return f"{self.municipality}/site/{self.site}"
        return f"{self.municipality}/{self.channel.value}/{self.task}"


class DeadLetter(BaseModel):
    """A record a connector could not turn into an event, with why, and the raw record masked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    connector: str = Field(description="Connector kind, e.g. 'asterisk_queue_log'.")
    source: SourceRef
    reason: str = Field(max_length=REASON_MAX, description="What is wrong, in words an IT operator can act on.")
    raw: str = Field(max_length=RAW_MAX, description="The raw record, personal-data patterns masked, invalid bytes "
                     "escaped, cut to a bound (a cut says how much was left out).")
    rejected_at: AwareDatetime

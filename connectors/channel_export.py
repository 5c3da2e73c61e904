"""Case-system and other channel exports (CSV or JSON Lines) -> one InquiryEvent per row.

For channels without a log of their own: scanned inbound letters, Digital Post, chat, or
any system that can export "one row per inquiry" with the fields KL's KOMHEN 2.0 counting
registers (time, channel, direction, task, department, requester type, resolved at first
contact, visited the web first). Columns and values are configuration; a CSV export's
header arrives through `start_file`, a JSON Lines export names its fields on every line.

Choices where the exports are silent:
- Timestamps without an offset are local time in `timezone`: an ambiguous autumn fall-back
  time is read as its first occurrence (fold=0), a spring-forward gap time is rejected.
- Task: a KLE code (`85.06.00`) in the task column is taken as it is. The classification key
  is the task_key column, else the task column; its rule decides department, inquiry kind
  and requester type, and the task too when the task column is absent or holds no KLE code.
  Department and requester-type columns, when filled, win over the rule.
- An empty direction is inbound; an empty boolean or requester type is unknown.
- The requester id becomes a contact key and goes no further. Phone-number-like ids are
  reduced to their digits first (as the phone connector does), so `+45 12 34 56 78` here
  and `12345678` in the queue_log give the same key.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ConnectorContext, Location, RecordParser, RecordRejected, Skip, decode_record
from connectors.config import ConnectorConfig, rule_set_field, system_field
from connectors.mapping import Classification
from connectors.tabular import CsvRows, parse_time
from pipeline.ground.privacy import PERSONAL_FIELDS, cut, redact_json_fields, shown
from schemas import Channel, Direction, InquiryEvent, RequesterType, Stage


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"  # JSON Lines: one object per line


class ChannelExportColumns(BaseModel):
    """Header names (CSV) or field names (JSON Lines; `a.b` reaches into nested objects) of the
    export's columns; None means the export has no such column."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="id", min_length=1, description="The inquiry's id in the source system; unique per system.")
    occurred_at: str = Field(default="occurred_at", min_length=1, description="When the inquiry arrived or was sent.")
    channel: str = Field(default="channel", min_length=1, description="Channel; values mapped by `channel_values`.")
    direction: str | None = Field(default=None, description="In or out; values mapped by `direction_values`.")
    task: str | None = Field(default=None, description="KLE code, or a source key classified by `rule_set`.")
    task_key: str | None = Field(default=None, description="Source key (case type, form...) classified by `rule_set`.")
    department: str | None = Field(default=None, description="Department (afdeling); wins over the rule's when set.")
    requester_type: str | None = Field(
        default=None, description="Citizen, business...; values mapped by `requester_type_values`."
    )
    resolved_first_contact: str | None = Field(default=None, description="Resolved at first contact (yes/no).")
    visited_web_first: str | None = Field(default=None, description="Had looked on the website first (yes/no).")
    requester_id: str | None = Field(
        default=None, description="CPR, CVR, e-mail or phone of the requester: keyed (HMAC), never produced."
    )


DEFAULT_CHANNEL_VALUES: dict[str, Channel] = {
    "brev": Channel.letter, "papirpost": Channel.letter, "letter": Channel.letter,
    "digital post": Channel.digital_post, "digitalpost": Channel.digital_post, "digital_post": Channel.digital_post,
    "chat": Channel.chat,
    "e-mail": Channel.email, "email": Channel.email, "mail": Channel.email,
    "telefon": Channel.phone, "phone": Channel.phone,
    "personligt fremmøde": Channel.walk_in, "fremmøde": Channel.walk_in, "walk_in": Channel.walk_in,
    "selvbetjening": Channel.self_service, "digital selvbetjening": Channel.self_service,
    "self_service": Channel.self_service,
}  # fmt: skip
DEFAULT_DIRECTION_VALUES: dict[str, Direction] = {
    "ind": Direction.inbound, "indgående": Direction.inbound, "inbound": Direction.inbound,
    "ud": Direction.outbound, "udgående": Direction.outbound, "outbound": Direction.outbound,
}  # fmt: skip
DEFAULT_REQUESTER_TYPE_VALUES: dict[str, RequesterType] = {
    "borger": RequesterType.citizen, "citizen": RequesterType.citizen,
    "virksomhed": RequesterType.business, "erhverv": RequesterType.business, "business": RequesterType.business,
    "forening": RequesterType.association, "association": RequesterType.association,
    "myndighed": RequesterType.authority, "authority": RequesterType.authority,
    "ukendt": RequesterType.unknown, "unknown": RequesterType.unknown,
}  # fmt: skip

# Every KOMHEN registration field, each column named like its logical field.
KOMHEN_COLUMNS = ChannelExportColumns(
    direction="direction",
    task="task",
    department="department",
    requester_type="requester_type",
    resolved_first_contact="resolved_first_contact",
    visited_web_first="visited_web_first",
)


class ChannelExportConfig(ConnectorConfig):
    """How to read one system's "one row per inquiry" export. The defaults read id, time and channel."""

    system: str = system_field("channel-export", "the exporting system, e.g. 'sbsys-post' or 'chat'", "sbsys-post")
    format: ExportFormat = Field(default=ExportFormat.csv, description="'csv' (with a header line) or 'jsonl'.")
    delimiter: str = Field(default=";", min_length=1, max_length=1, description="CSV field separator.")
    timestamp_format: str | None = Field(
        default=None,
        description="strptime format of the timestamps; None: ISO 8601 such as '2024-03-04 09:12:00'.",
        examples=["%d-%m-%Y %H:%M"],
    )
    rule_set: str = rule_set_field("channel_export", "the task_key (or a task that is no KLE code)")
    columns: ChannelExportColumns = Field(
        default_factory=ChannelExportColumns, description="Header or field names of the export's columns."
    )
    personal_fields: list[str] = Field(
        default_factory=lambda: list(PERSONAL_FIELDS),
        description="Columns (header names; for JSON Lines field names or dotted paths) that hold names, "
        "addresses or other personal data: never read, and blanked in dead letters. Case-insensitive.",
        examples=[["navn", "adresse", "borger.navn"]],
    )
    channel_values: dict[str, Channel] = Field(
        default_factory=lambda: dict(DEFAULT_CHANNEL_VALUES),
        min_length=1,
        description="Raw channel value (matched case-insensitively) -> channel.",
    )
    direction_values: dict[str, Direction] = Field(
        default_factory=lambda: dict(DEFAULT_DIRECTION_VALUES),
        min_length=1,
        description="Raw direction value (matched case-insensitively) -> inbound or outbound; empty is inbound.",
    )
    requester_type_values: dict[str, RequesterType] = Field(
        default_factory=lambda: dict(DEFAULT_REQUESTER_TYPE_VALUES),
        min_length=1,
        description="Raw requester type (matched case-insensitively) -> citizen, business, association...",
    )
    true_values: list[str] = Field(
        default_factory=lambda: ["ja", "1", "true", "yes"],
        min_length=1,
        description="Values of the yes/no columns that mean yes (case-insensitive).",
    )
    false_values: list[str] = Field(
        default_factory=lambda: ["nej", "0", "false", "no"],
        min_length=1,
        description="Values of the yes/no columns that mean no (case-insensitive); empty is unknown.",
    )

    @model_validator(mode="after")
    def _yes_is_not_no(self) -> ChannelExportConfig:
        both = {v.strip().casefold() for v in self.true_values} & {v.strip().casefold() for v in self.false_values}
        if both:
            raise ValueError(f"{sorted(both)} are in both true_values and false_values")
        return self

    @classmethod
    def komhen(cls, **overrides: Any) -> ChannelExportConfig:
        """Every KOMHEN field: header `id;occurred_at;channel;direction;task;department;requester_type;
        resolved_first_contact;visited_web_first` (or those keys on each line with format='jsonl')."""
        return cls(**({"columns": KOMHEN_COLUMNS} | overrides))


logger = logging.getLogger(__name__)

_KLE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")  # a KLE subject code (emne), e.g. 85.06.00
# A requester id that is a phone number (digits with the punctuation people write) is keyed by its digits.
# Characters of a JSON line that does not parse kept in its dead letter (a chat export row is far shorter).
_BROKEN_JSON_KEPT = 4000


class ChannelExportParser(RecordParser[ChannelExportConfig]):
    """Parses one export row into one `arrived` event, a Skip (the CSV header), or a RecordRejected."""

    kind: ClassVar[str] = "channel_export"

    def __init__(self, config: ChannelExportConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self._jsonl = config.format is ExportFormat.jsonl
        self._channels = {raw.strip().casefold(): channel for raw, channel in config.channel_values.items()}
        self._directions = {raw.strip().casefold(): value for raw, value in config.direction_values.items()}
        self._requester_types = {raw.strip().casefold(): v for raw, v in config.requester_type_values.items()}
        self._true = frozenset(v.strip().casefold() for v in config.true_values)
        self._false = frozenset(v.strip().casefold() for v in config.false_values)
        # logical name -> header (CSV) or field path (JSON Lines), for the columns this export has
        self._wanted = {name: header for name, header in config.columns.model_dump().items() if header is not None}
        self._paths = {name: tuple(header.split(".")) for name, header in self._wanted.items()}
        self._rows = CsvRows(config.delimiter, self._wanted, "channel export")

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """CSV: read the header so rows can be looked up by column name. JSON Lines has none."""
        self._rows.start(path, None if self._jsonl else first_line)

    def parse(self, record: bytes, location: Location) -> list[InquiryEvent] | Skip:
        if self._jsonl:
            if not record or record.isspace():  # a blank line says nothing: counted, not dead-lettered
                return Skip(reason="blank line")
            return [self._event(self._json_values(record), location)]
        value = self._rows.values(record, location.line)
        if isinstance(value, Skip):
            return value
        return [self._event(value, location)]

    def _json_values(self, record: bytes) -> dict[str, str | bool]:
        text = decode_record(record).removeprefix("\ufeff")
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise RecordRejected(f"not a JSON line: {exc.msg} at character {exc.pos}") from None
        if not isinstance(data, dict):
            raise RecordRejected(f"JSON line is a {type(data).__name__}, expected an object with the export's fields")
        values: dict[str, str | bool] = {}
        for name, path in self._paths.items():
            value: Any = data
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                values[name] = ""
            elif isinstance(value, str):
                values[name] = value.strip()
            elif isinstance(value, bool):
                values[name] = value
            elif isinstance(value, int | float):
                values[name] = str(value)
            else:
                raise RecordRejected(
                    f"{self._wanted[name]} is a JSON {type(value).__name__}, expected a string, number or boolean"
                )
        return values

    def _event(self, value: dict[str, Any], location: Location) -> InquiryEvent:
        """One row's values (by logical column name) -> its arrived event."""
        columns = self._config.columns
        inquiry_id = _text(value["id"])
        if not inquiry_id:
            raise RecordRejected(f"empty {columns.id}: every row needs the id of its inquiry")
        raw_channel = _text(value["channel"])
        channel = self._channels.get(raw_channel.casefold())
        if channel is None:
            raise RecordRejected(
                f"unknown channel {shown(raw_channel)} in {columns.channel}: configured channel values are"
                f" {', '.join(repr(raw) for raw in self._config.channel_values)}"
            )
        occurred_at = self._time(_text(value["occurred_at"]), columns.occurred_at)
        direction = self._direction(_text(value.get("direction", "")))
        resolved = self._flag(value.get("resolved_first_contact", ""), columns.resolved_first_contact)
        web_first = self._flag(value.get("visited_web_first", ""), columns.visited_web_first)
        requester_type = self._requester_type(_text(value.get("requester_type", "")))

        task = _text(value.get("task", ""))
        key = _text(value.get("task_key", "")) or task
        cls = self._context.mapping.classify(self._config.rule_set, key)
        kle = _KLE.fullmatch(task) is not None
        if kle or requester_type is not None:
            # Cannot fail: a KLE code is a task code, its label and the rule's other values come
            # from the validated mapping, the requester type from the config's values.
            cls = Classification(
                task=task if kle else cls.task,
                task_label=self._context.mapping.tasks.get(task, "") if kle else cls.task_label,
                department=cls.department,
                inquiry_kind=cls.inquiry_kind,
                requester_type=cls.requester_type if requester_type is None else requester_type,
            )
        # The department column is the row's own text: EventBuilder checks it (and the task key,
        # the queue) and leaves anything too long to InquiryEvent's validation, as before.
        department = _text(value.get("department", ""))
        return self._events.event(
            location,
            inquiry_id,
            channel,
            Stage.arrived,
            occurred_at,
            cls,
            key,
            resolved_first_contact=resolved,
            visited_web_first=web_first,
            contact_key=self._contact_key(_text(value.get("requester_id", ""))),
            direction=direction,
            department=department or None,
        )

    def _time(self, raw: str, column: str) -> datetime:
        """A timestamp as UTC; local wall-clock values are placed in the configured zone."""
        if not raw:
            raise RecordRejected(f"empty {column}: the time of the inquiry is required")
        return parse_time(raw, column, self._config.timestamp_format, self._zone, self._config.timezone)

    def _direction(self, raw: str) -> Direction:
        if not raw:
            return Direction.inbound
        direction = self._directions.get(raw.casefold())
        if direction is None:
            raise RecordRejected(
                f"unknown direction {shown(raw)} in {self._config.columns.direction}: configured direction values"
                f" are {', '.join(repr(raw) for raw in self._config.direction_values)}"
            )
        return direction

    def _requester_type(self, raw: str) -> RequesterType | None:
        if not raw:
            return None
        found = self._requester_types.get(raw.casefold())
        if found is None:
            raise RecordRejected(
                f"unknown requester type {shown(raw)} in {self._config.columns.requester_type}: configured values"
                f" are {', '.join(repr(raw) for raw in self._config.requester_type_values)}"
            )
        return found

    def _flag(self, raw: str | bool, column: str | None) -> bool | None:
        if isinstance(raw, bool):
            return raw
        if not raw:
            return None
        flag = raw.casefold()
        if flag in self._true:
            return True
        if flag in self._false:
            return False
        raise RecordRejected(
            f"bad {column} {shown(raw)}: expected one of {', '.join(self._config.true_values)} (yes)"
            f" or {', '.join(self._config.false_values)} (no), or empty"
        )

    def _contact_key(self, requester_id: str) -> str | None:
        """A phone number keyed as the phone sources key callers; any other id as it is."""
        keyer = self._context.keyer
        return keyer.phone_key(requester_id) or keyer.key(requester_id)

    def redact(self, record: str) -> str:
        """A rejected row fit for the dead-letter topic: its requester id and personal fields blanked.

        A JSON line that does not parse keeps only its first _BROKEN_JSON_KEPT characters: the
        search for "key": value pairs in broken JSON takes time quadratic in the line's length (a
        1 MB line of escaped quotes stalled the connector), and a line nested too deep for
        Python's json module to redact field by field is replaced whole."""
        if self._jsonl:
            requester = [self._wanted["requester_id"]] if "requester_id" in self._wanted else []
            try:
                orjson.loads(record)
            except orjson.JSONDecodeError:
                record = cut(record, _BROKEN_JSON_KEPT)
            try:
                return redact_json_fields(record, [*self._config.personal_fields, *requester])
            except RecursionError:
                return f"<JSON nested too deep to redact field by field: {len(record):,} characters not kept>"
        return self._rows.redact(record, self._config.personal_fields, logical=("requester_id",))


def _text(value: str | bool) -> str:
    """A column's value as text: JSON booleans only make sense in the yes/no columns."""
    return str(value).lower() if isinstance(value, bool) else value

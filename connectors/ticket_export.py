"""Ticket-number system (nummersystem) CSV export -> walk-in InquiryEvents, per site.

The runtime hands this parser the export's header through `start_file` and then one row
at a time; each row (one ticket, or one transaction of a visit) becomes its arrived,
answered, closed or abandoned events. Columns and outcome codes are configuration, with
presets for a simple ticket log (the default) and a Qmatic visit-transaction export.

Choices where the exports are silent:
- Timestamps without an offset are local time in `timezone`. An ambiguous autumn
  fall-back time is read as its first occurrence (fold=0); a time inside the spring
  forward gap never happened on a wall clock, so the row is rejected.
- A row with transaction_seq > 1 continues a visit that was transferred: it yields no
  `arrived` (the visit was counted once), only its own answered/closed or abandoned.
- Qmatic RECYCLE (4) counts as `no_show`: the customer did not come forward when called
  and the ticket went back to the queue; if served later, that is a further transaction.
- An empty transaction_seq is read as 1. The counter column is checked to exist but not
  carried: the event contract has no counter field.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ConnectorContext, Location, RecordParser, RecordRejected, Skip
from connectors.config import ConnectorConfig, rule_set_field, system_field
from connectors.tabular import CsvRows, parse_time
from pipeline.ground.privacy import PERSONAL_FIELDS, shown
from schemas import Channel, InquiryEvent, Stage
from schemas.inquiry import MAX_DURATION_SECONDS


class TicketOutcome(StrEnum):
    """How a ticket (or one transaction of a visit) ended."""

    served = "served"
    no_show = "no_show"  # called, did not come to the counter
    transferred = "transferred"  # served, then sent on to another queue, counter or staff
    removed = "removed"  # taken out of the queue unserved (by staff, reset, customer, timeout)


class TicketColumns(BaseModel):
    """Header names of the export's columns; None means the export has no such column."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(default="ticket", description="Ticket number or visit id; unique per site and day.")
    service: str = Field(default="service", description="Service the ticket was drawn for; classified via rule_set.")
    site: str | None = Field(default="site", description="Site (branch); None: every row is at default_site.")
    issued_at: str = Field(default="issued_at", description="When the ticket was drawn (the inquiry arrives).")
    called_at: str = Field(default="called_at", description="When the ticket was called to a counter.")
    finished_at: str = Field(default="finished_at", description="When service at the counter ended.")
    counter: str | None = Field(default="counter", description="Counter (service point); checked, not carried.")
    outcome: str = Field(default="outcome", description="How the ticket ended; values mapped by `outcomes`.")
    transaction_seq: str | None = Field(
        default=None, description="1 for a visit's first transaction, 2.. after transfers; None: every row is 1."
    )
    appointment: str | None = Field(
        default=None, description="Booked (1/true/yes/ja/booked) or drop-in (0/false/no/nej/drop-in); None: unknown."
    )


SIMPLE_OUTCOMES: dict[str, TicketOutcome] = {outcome.value: outcome for outcome in TicketOutcome}

# Qmatic Orchestra / Data Connect: visit transactions. `visit_transaction_seq` is our name
# for the transaction's position within its visit; rename it to what your export calls it.
QMATIC_COLUMNS = TicketColumns(
    ticket_id="visit_id",
    service="service_name",
    site="branch_name",
    issued_at="visit_transaction_create_ts",
    called_at="visit_transaction_call_ts",
    finished_at="delivered_service_end_ts",
    counter="service_point_name",
    outcome="outcome_id",
    transaction_seq="visit_transaction_seq",
)
QMATIC_OUTCOMES: dict[str, TicketOutcome] = {
    "1": TicketOutcome.served, "NORMAL": TicketOutcome.served,
    "2": TicketOutcome.no_show, "NO_SHOW": TicketOutcome.no_show,
    "3": TicketOutcome.removed, "REMOVE": TicketOutcome.removed,
    "4": TicketOutcome.no_show, "RECYCLE": TicketOutcome.no_show,
    "5": TicketOutcome.transferred, "TRANSFER_TO_QUEUE": TicketOutcome.transferred,
    "6": TicketOutcome.transferred, "TRANSFER_TO_SERVICE_POINT": TicketOutcome.transferred,
    "7": TicketOutcome.transferred, "TRANSFER_TO_STAFF": TicketOutcome.transferred,
    "8": TicketOutcome.removed, "REMOVE_BY_RESET": TicketOutcome.removed,
    "9": TicketOutcome.removed, "REMOVE_BY_CUSTOMER": TicketOutcome.removed,
    "10": TicketOutcome.removed, "11": TicketOutcome.removed,  # ended by logout or timeout
    "12": TicketOutcome.removed, "13": TicketOutcome.removed,
}  # fmt: skip


class TicketExportConfig(ConnectorConfig):
    """How to read one ticket system's CSV export. The defaults read the simple ticket log."""

    system: str = system_field("tickets", "the ticket system", "qmatic-borgerservice")
    rule_set: str = rule_set_field("ticket_service", "services")
    delimiter: str = Field(default=";", min_length=1, max_length=1, description="CSV field separator.")
    timestamp_format: str | None = Field(
        default=None,
        description="strptime format of the timestamps; None: ISO 8601 such as '2024-03-04 09:12:00'.",
        examples=["%d-%m-%Y %H:%M:%S"],
    )
    columns: TicketColumns = Field(default_factory=TicketColumns, description="Header names of the export's columns.")
    personal_fields: list[str] = Field(
        default_factory=lambda: list(PERSONAL_FIELDS),
        description="Columns (header names) that hold names, "
        "addresses or other personal data: never read, and blanked in dead letters. Case-insensitive.",
        examples=[["navn", "adresse", "borger.navn"]],
    )
    outcomes: dict[str, TicketOutcome] = Field(
        default_factory=lambda: dict(SIMPLE_OUTCOMES),
        min_length=1,
        description="Raw outcome value (matched case-insensitively) -> served, no_show, transferred or removed.",
    )
    default_site: str = Field(default="", description="Site of rows with no site column or an empty site value.")

    @model_validator(mode="after")
    def _site_known(self) -> TicketExportConfig:
        if self.columns.site is None and not self.default_site:
            raise ValueError("columns.site is unset: set default_site to the name of the one site this export covers")
        return self

    @classmethod
    def simple(cls, **overrides: Any) -> TicketExportConfig:
        """Header `ticket;service;site;issued_at;called_at;finished_at;counter;outcome`."""
        return cls(**overrides)

    @classmethod
    def qmatic(cls, **overrides: Any) -> TicketExportConfig:
        """A Qmatic visit-transaction export, comma-separated, outcome_id codes 1-13."""
        settings: dict[str, Any] = {
            "delimiter": ",",
            "columns": QMATIC_COLUMNS,
            "outcomes": dict(QMATIC_OUTCOMES),
        }
        return cls(**(settings | overrides))


logger = logging.getLogger(__name__)

_TRUE = frozenset({"1", "true", "yes", "ja", "booked"})
_FALSE = frozenset({"0", "false", "no", "nej", "drop-in", "dropin", "walk-in", "walkin"})



class TicketExportParser(RecordParser[TicketExportConfig]):
    """Parses one export row into walk-in events, a Skip (the header), or a RecordRejected."""

    kind: ClassVar[str] = "ticket_export"

    def __init__(self, config: TicketExportConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self._outcomes = {raw.strip().casefold(): outcome for raw, outcome in config.outcomes.items()}
        self._outcome_list = ", ".join(repr(raw) for raw in config.outcomes)
        # logical name -> header name, for the columns this export is configured to have
        self._rows = CsvRows(
            config.delimiter,
            {name: header for name, header in config.columns.model_dump().items() if header is not None},
            "ticket export",
        )

    def start_file(self, path: str, first_line: bytes | None) -> None:
        """Read the header so rows can be looked up by column name; a bad header rejects the file's rows."""
        self._rows.start(path, first_line)

    def redact(self, record: str) -> str:
        """A rejected row fit for the dead-letter topic: its personal columns (names, addresses) blanked."""
        return self._rows.redact(record, self._config.personal_fields)

    def parse(self, record: bytes, location: Location) -> list[InquiryEvent] | Skip:
        value = self._rows.values(record, location.line)
        if isinstance(value, Skip):
            return value
        return self._row_events(value, location)

    def _row_events(self, value: dict[str, str], location: Location) -> list[InquiryEvent]:
        """One row's values (by logical column name) -> its events, after checking they fit together."""
        columns = self._config.columns
        ticket_id = value["ticket_id"]
        if not ticket_id:
            raise RecordRejected(f"empty {columns.ticket_id}: every row needs its ticket number")
        outcome = self._outcomes.get(value["outcome"].casefold())
        if outcome is None:
            raise RecordRejected(
                f"unknown outcome {shown(value['outcome'])} in {columns.outcome}:"
                f" configured outcomes are {self._outcome_list}"
            )
        seq = self._seq(value.get("transaction_seq", ""))
        appointment = self._appointment(value.get("appointment", ""))
        issued = self._time(value["issued_at"], columns.issued_at)
        if issued is None:
            raise RecordRejected(f"empty {columns.issued_at}: the time the ticket was drawn is required")
        called = self._time(value["called_at"], columns.called_at)
        finished = self._time(value["finished_at"], columns.finished_at)
        if called is not None and called < issued:
            raise RecordRejected(
                f"{columns.called_at} {shown(value['called_at'])}"
                f" is before {columns.issued_at} {shown(value['issued_at'])}"
            )
        if finished is not None and finished < (called or issued):
            start = "called_at" if called is not None else "issued_at"
            raise RecordRejected(
                f"{columns.finished_at} {shown(value['finished_at'])}"
                f" is before {getattr(columns, start)} {shown(value[start])}"
            )

        last = finished or called
        if last is not None and (last - issued).total_seconds() > MAX_DURATION_SECONDS:
            end = "finished_at" if finished is not None else "called_at"
            raise RecordRejected(
                f"{columns.issued_at} {shown(value['issued_at'])} to {getattr(columns, end)} {shown(value[end])}"
                " is over a week: a wrong date, not one visit"
            )

        site = value.get("site") or self._config.default_site
        service = value["service"]
        reference = f"{site}|{issued.astimezone(self._zone).date().isoformat()}|{ticket_id}|{seq}"
        cls = self._context.mapping.classify(self._config.rule_set, service)

        def event(stage: Stage, at: datetime, **measures: Any) -> InquiryEvent:
            # Times come from parse_time (UTC, 2000-2099), durations are differences of them, the
            # classification is the mapping's: EventBuilder validates only the site, the service
            # (queue) and the location, which come from the row and the runtime.
            return self._events.event(
                location, reference, Channel.walk_in, stage, at, cls, service,
                site=site, appointment=appointment, **measures,
            )  # fmt: skip

        # A continuation (seq > 1) of a transferred visit was counted when the visit arrived.
        events = [event(Stage.arrived, issued)] if seq == 1 else []
        if outcome in (TicketOutcome.served, TicketOutcome.transferred):
            if called is None:
                raise RecordRejected(f"{outcome.value} ticket has no {columns.called_at}: a served ticket was called")
            if finished is None:
                raise RecordRejected(f"{outcome.value} ticket has no {columns.finished_at}: a served ticket ended")
            resolved = False if outcome is TicketOutcome.transferred else None
            events.append(event(Stage.answered, called, wait_seconds=(called - issued).total_seconds()))
            events.append(
                event(
                    Stage.closed,
                    finished,
                    handle_seconds=(finished - called).total_seconds(),
                    resolved_first_contact=resolved,
                )
            )
        else:  # no_show, removed: the ticket left the queue unserved
            gave_up = called or finished or issued
            events.append(event(Stage.abandoned, gave_up, wait_seconds=(gave_up - issued).total_seconds()))
        return events

    def _time(self, raw: str, column: str) -> datetime | None:
        """A timestamp as UTC; local wall-clock values are placed in the configured zone."""
        if not raw:
            return None
        return parse_time(raw, column, self._config.timestamp_format, self._zone, self._config.timezone)

    def _seq(self, raw: str) -> int:
        if not raw:
            return 1
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
            raise RecordRejected(
                f"bad {self._config.columns.transaction_seq} {shown(raw)}: expected a whole number from 1"
            )
        return int(raw)

    def _appointment(self, raw: str) -> bool | None:
        if not raw:
            return None
        flag = raw.casefold()
        if flag in _TRUE:
            return True
        if flag in _FALSE:
            return False
        raise RecordRejected(
            f"bad {self._config.columns.appointment} {shown(raw)}: expected one of"
            f" {', '.join(sorted(_TRUE))} (booked) or {', '.join(sorted(_FALSE))} (drop-in), or empty"
        )

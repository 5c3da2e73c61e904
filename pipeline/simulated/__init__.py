"""The simulated municipality's other sources: shared mailboxes, website, case-system exports, IMAP, HTTP.

pipeline/simulator.py writes the phone queue and ticket-machine logs and calls `write_all`
here for everything else, over the same days and for the same (fake) citizens. Each writer
produces the files one connector reads and counts, while writing, what that connector
should make of them in a SourceTally: events per day x channel x direction x stage x task x
department with the registrations and contact keys they carry, arrivals per hour, queue sums
and stays, duplicates, skips by the connector's reason, rejected records by file and line.
Personal data is planted on purpose and recorded in PlantedData as it is written. One module
per source format, as in connectors/.

Demand follows weekday x hour: citizens write e-mails, read pages and send forms at any
hour (mornings busiest, a smaller evening bump, weekends and public holidays quieter),
while replies, outbound post, scanned letters and chat happen in office hours on open days.
"""

from __future__ import annotations

from pydantic import BaseModel

from connectors.channel_export import (
    KOMHEN_COLUMNS,
    ChannelExportColumns,
    ChannelExportConfig,
    ExportFormat,
)
from connectors.exchange_tracking import ExchangeTrackingConfig
from connectors.web_access_log import AccessLogFormat, WebAccessLogConfig
from pipeline.simulated.exchange import EXCHANGE_MAILBOXES, EXCHANGE_SYSTEM, Exchange
from pipeline.simulated.exports import CASE_SYSTEM, CHAT_FILE, CHAT_SYSTEM, Exports
from pipeline.simulated.http import (
    CHAT_PLATFORM,
    CONTACT_CENTRE,
    FORM_PLATFORM,
    write_http,
)
from pipeline.simulated.imap import IMAP_SYSTEM, Imap
from pipeline.simulated.web import FORMS_LOG, FORMS_SYSTEM, WWW_LOG, WWW_SYSTEM, Web
from pipeline.simulated.world import World
from pipeline.simulator import SourceTally

__all__ = ["World", "connector_configs", "write_all"]


# --------------------------------------------------------------------------- entry points


def write_all(world: World) -> dict[str, SourceTally]:
    """Write every source of this module into world.out_dir; the tallies by source name."""
    tallies = {
        "exchange": SourceTally("exchange_tracking", [EXCHANGE_SYSTEM]),
        "web_combined": SourceTally("web_access_log", [WWW_SYSTEM]),
        "web_json": SourceTally("web_access_log", [FORMS_SYSTEM]),
        "channel_csv": SourceTally("channel_export", [CASE_SYSTEM]),
        "channel_jsonl": SourceTally("channel_export", [CHAT_SYSTEM]),
        "imap": SourceTally("imap_mailbox", [IMAP_SYSTEM]),
        "http": SourceTally("http_ingest", [FORM_PLATFORM, CHAT_PLATFORM, CONTACT_CENTRE]),
    }
    Exchange(world, tallies["exchange"]).write()
    Web(world, tallies["web_combined"], tallies["web_json"]).write()
    Exports(world, tallies["channel_csv"], tallies["channel_jsonl"]).write()
    Imap(world, tallies["imap"]).write()
    write_http(world, tallies["http"])
    return tallies


def connector_configs() -> dict[str, tuple[str, list[str], BaseModel]]:
    """source -> (connector kind, path globs relative to out_dir, validated config) for this module's files."""
    komhen = ChannelExportConfig.komhen(
        system=CASE_SYSTEM, columns=KOMHEN_COLUMNS.model_copy(update={"requester_id": "requester_id"})
    )
    chat = ChannelExportConfig(
        system=CHAT_SYSTEM, format=ExportFormat.jsonl,
        columns=ChannelExportColumns(
            id="id", occurred_at="started", channel="channel", task_key="topic", resolved_first_contact="resolved",
            visited_web_first="came_from_web", requester_id="requester_id",
        ),
    )  # fmt: skip
    return {
        "exchange": ("exchange_tracking", ["exchange/*/MSGTRK*.LOG"],
                     ExchangeTrackingConfig(system=EXCHANGE_SYSTEM, shared_mailboxes=list(EXCHANGE_MAILBOXES))),
        "web_combined": ("web_access_log", [WWW_LOG],
                         WebAccessLogConfig(system=WWW_SYSTEM, format=AccessLogFormat.combined)),
        "web_json": ("web_access_log", [FORMS_LOG], WebAccessLogConfig(system=FORMS_SYSTEM, format=AccessLogFormat.json)),
        "channel_csv": ("channel_export", ["exports/henvendelser-*.csv"], komhen),
        "channel_jsonl": ("channel_export", [CHAT_FILE], chat),
    }

"""Connector kinds by name: what `kanalpuls ingest <kind>` can read."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from connectors.asterisk_queue_log import AsteriskQueueLogConfig, AsteriskQueueLogParser
from connectors.base import ConnectorContext, Parser
from connectors.channel_export import ChannelExportConfig, ChannelExportParser
from connectors.exchange_tracking import ExchangeTrackingConfig, ExchangeTrackingParser
from connectors.imap_mailbox import ImapHeaderParser, ImapMailboxConfig
from connectors.ticket_export import TicketExportConfig, TicketExportParser
from connectors.web_access_log import WebAccessLogConfig, WebAccessLogParser


@dataclass(frozen=True)
class ConnectorKind:
    name: str
    config_model: type[BaseModel]
    parser_class: type
    summary: str
    reads_files: bool = True  # False: the connector fetches its own records (IMAP) and takes no paths

    def build(self, config: BaseModel, context: ConnectorContext) -> Parser:
        return self.parser_class(config, context)


KINDS: dict[str, ConnectorKind] = {
    kind.name: kind
    for kind in (
        ConnectorKind("asterisk_queue_log", AsteriskQueueLogConfig, AsteriskQueueLogParser,
                      "Asterisk queue_log (phone queues)"),
        ConnectorKind("ticket_export", TicketExportConfig, TicketExportParser,
                      "Ticket-number system CSV export (walk-ins)"),
        ConnectorKind("exchange_tracking", ExchangeTrackingConfig, ExchangeTrackingParser,
                      "Exchange message-tracking logs (shared mailboxes, e-mail)"),
        ConnectorKind("channel_export", ChannelExportConfig, ChannelExportParser,
                      "One row per inquiry from case systems: letters, Digital Post, chat, ..."),
        ConnectorKind("web_access_log", WebAccessLogConfig, WebAccessLogParser,
                      "nginx/Apache combined or JSON access logs (self-service forms, task pages)"),
        ConnectorKind("imap_mailbox", ImapMailboxConfig, ImapHeaderParser,
                      "Shared mailboxes over IMAP, headers only (e-mail)", reads_files=False),
    )
}
ALIASES = {"asterisk": "asterisk_queue_log", "queue_log": "asterisk_queue_log", "tickets": "ticket_export",
           "exchange": "exchange_tracking", "web": "web_access_log", "imap": "imap_mailbox"}


class UnknownConnector(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown connector kind '{name}': choose one of {', '.join(sorted(KINDS))}")


def get_kind(name: str) -> ConnectorKind:
    name = ALIASES.get(name, name)
    if name not in KINDS:
        raise UnknownConnector(name)
    return KINDS[name]

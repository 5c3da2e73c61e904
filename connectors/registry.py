"""Source kinds by name: what `kanalpuls ingest <kind>` and a run file's `kind:` can start.

A kind is its config model, the source class that runs it and, for sources that parse
records, the parser. What the commands say about a kind (what it counts, whether it takes
paths) is declared by its source class, so no command asks which kind it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.asterisk_cdr import AsteriskCdrConfig, AsteriskCdrParser
from connectors.asterisk_queue_log import AsteriskQueueLogConfig, AsteriskQueueLogParser
from connectors.base import ConnectorContext, Parser
from connectors.channel_export import ChannelExportConfig, ChannelExportParser
from connectors.checkpoints import checkpoint_file
from connectors.config import ConnectorConfig
from connectors.exchange_tracking import ExchangeTrackingConfig, ExchangeTrackingParser
from connectors.http_ingest import HttpIngestConfig, HttpSource
from connectors.imap_mailbox import ImapHeaderParser, ImapMailboxConfig
from connectors.imap_source import ImapSource
from connectors.runtime import FileSource
from connectors.source import Inputs, Source, Traits
from connectors.ticket_export import TicketExportConfig, TicketExportParser
from connectors.web_access_log import WebAccessLogConfig, WebAccessLogParser
from pipeline.ground.errors import TerminalError
from pipeline.ground.settings import Settings


@dataclass(frozen=True)
class ConnectorKind:
    name: str
    config_model: type[ConnectorConfig]
    source_class: type[FileSource] | type[ImapSource] | type[HttpSource]
    summary: str
    parser_class: type | None = None  # what turns one record into events; None when events arrive whole

    @property
    def traits(self) -> Traits:
        return self.source_class.traits

    def paths_problem(self, paths: list[Path] | list[str]) -> str | None:
        """Why `paths` do not fit the kind: a file source needs some, the others take none."""
        if self.traits.takes_paths and not paths:
            return f"{self.name} reads log files: name at least one"
        if not self.traits.takes_paths and paths:
            return f"{self.name} reads {self.traits.reads} and takes no paths"
        return None

    def reads(self, files: list[Path]) -> str:
        """What `kanalpuls run --check` says the source would read now."""
        return f"{len(files)} file(s) now" if self.traits.takes_paths else self.traits.reads

    def parser(self, config: ConnectorConfig, context: ConnectorContext) -> Parser:
        if self.parser_class is None:
            raise UnknownConnector(self.name, "it parses no records")
        return self.parser_class(config, context)  # type: ignore[no-any-return]

    def source_name(self, config: ConnectorConfig) -> str:
        """The source's name in logs and summaries, and the key its confirmations come under."""
        return f"{self.name}/{config.system}"

    def source(self, settings: Settings, config: ConnectorConfig, paths: list[Path], *, follow: bool = False,
               discover: Callable[[], list[Path]] | None = None, checkpointed: bool = True) -> Source:
        """The source, ready to run; `checkpointed=False` (a dry run) keeps positions in memory."""
        inputs = Inputs(paths=list(paths), follow=follow, discover=discover,
                        checkpoint_file=checkpoint_file(settings, self.name, config.system) if checkpointed else None)
        return self.source_class.open(settings, config, inputs, self.parser_class)  # type: ignore[arg-type]


KINDS: dict[str, ConnectorKind] = {
    kind.name: kind
    for kind in (
        ConnectorKind("asterisk_queue_log", AsteriskQueueLogConfig, FileSource,
                      "Asterisk queue_log (phone queues)", AsteriskQueueLogParser),
        ConnectorKind("asterisk_cdr", AsteriskCdrConfig, FileSource,
                      "Asterisk CDR CSV, cdr_csv's Master.csv (phone lines without queues)", AsteriskCdrParser),
        ConnectorKind("ticket_export", TicketExportConfig, FileSource,
                      "Ticket-number system CSV export (walk-ins)", TicketExportParser),
        ConnectorKind("exchange_tracking", ExchangeTrackingConfig, FileSource,
                      "Exchange message-tracking logs (shared mailboxes, e-mail)", ExchangeTrackingParser),
        ConnectorKind("channel_export", ChannelExportConfig, FileSource,
                      "One row per inquiry from case systems: letters, Digital Post, chat, ...", ChannelExportParser),
        ConnectorKind("web_access_log", WebAccessLogConfig, FileSource,
                      "nginx/Apache combined or JSON access logs (self-service forms, task pages)",
                      WebAccessLogParser),
        ConnectorKind("imap_mailbox", ImapMailboxConfig, ImapSource,
                      "Shared mailboxes over IMAP, headers only (e-mail)", ImapHeaderParser),
        ConnectorKind("http_ingest", HttpIngestConfig, HttpSource,
                      "Events POSTed by telephony and form systems (POST /v1/events)"),
    )
}
ALIASES = {"asterisk": "asterisk_queue_log", "queue_log": "asterisk_queue_log", "tickets": "ticket_export",
           "exchange": "exchange_tracking", "web": "web_access_log", "imap": "imap_mailbox", "http": "http_ingest",
           "cdr": "asterisk_cdr"}


class UnknownConnector(TerminalError):
    def __init__(self, name: str, why: str = "") -> None:
        super().__init__(f"connector kind '{name}': {why}" if why else
                         f"unknown connector kind '{name}': choose one of {', '.join(sorted(KINDS))} (or an alias: "
                         f"{', '.join(f'{alias} = {kind}' for alias, kind in sorted(ALIASES.items()))})")


def get_kind(name: str) -> ConnectorKind:
    name = ALIASES.get(name, name)
    if name not in KINDS:
        raise UnknownConnector(name)
    return KINDS[name]

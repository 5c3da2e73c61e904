"""The IMAP source: polls every configured folder of every shared mailbox for the messages
above the folder's checkpoint (UIDVALIDITY and last UID), parses their headers and moves
the checkpoint only once their events are confirmed, on the Outbox every source shares.

A lost connection or an unconfirmed batch is transient: with `follow` the source reconnects
after a pause that grows to reconnect_max_seconds; a single pass stops and the next run
resumes from the checkpoints. A refused login, TLS or a missing folder always stops it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from connectors.base import ConnectorContext, Skip, connector_context
from connectors.checkpoints import checkpoint_file, read_checkpoint_file, write_checkpoint_file
from connectors.imap_mailbox import KIND, ImapHeaderParser, ImapMailboxConfig, MessageRef, SharedMailbox
from connectors.imap_session import ImapSession
from connectors.outbox import ConnectorStats, Outbox
from connectors.source import Inputs, Traits
from pipeline.ground import metrics
from pipeline.ground.errors import TransientError
from pipeline.ground.settings import ConnectorSettings, Settings
from pipeline.sinks.base import EventSink
from schemas import DeadLetter

logger = logging.getLogger(__name__)


@dataclass
class FolderPosition:
    uidvalidity: int
    last_uid: int


class ImapCheckpoints:
    """UIDVALIDITY and last UID read per `mailbox/folder`, in the source's checkpoint file.
    Without a path they live in memory (--dry-run: re-read on every start)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.folders: dict[str, FolderPosition] = {}
        if path is not None:
            saved = read_checkpoint_file(path, "folders", ("uidvalidity", "last_uid"))
            self.folders = {key: FolderPosition(**pos) for key, pos in saved.items()}  # type: ignore[arg-type]

    @classmethod
    def for_config(cls, settings: Settings, config: ImapMailboxConfig) -> ImapCheckpoints:
        return cls(checkpoint_file(settings, KIND, config.system))

    def first_uid(self, key: str, uidvalidity: int) -> int:
        """The first UID not yet read in folder `key`; 1 when the folder is new or was recreated."""
        saved = self.folders.get(key)
        if saved is None:
            return 1
        if saved.uidvalidity != uidvalidity:
            logger.warning(
                "UIDVALIDITY of %s changed from %d to %d: the folder was recreated or restored, so its UIDs"
                " were reassigned; reading it from the start (event ids are stable, so messages counted before"
                " are dropped downstream as duplicates)", key, saved.uidvalidity, uidvalidity,
            )
            return 1
        return saved.last_uid + 1

    def save(self, key: str, uidvalidity: int, last_uid: int) -> None:
        position = FolderPosition(uidvalidity, last_uid)
        if self.folders.get(key) == position:
            return
        self.folders[key] = position
        if self.path is not None:
            write_checkpoint_file(self.path, "folders", {name: vars(pos) for name, pos in self.folders.items()})


class ImapSource:
    """Polls the configured folders and hands their messages' events to the sink, checkpointing per folder."""

    traits: ClassVar[Traits] = Traits("folder(s)", takes_paths=False, reads="its mailboxes over IMAP (see its config)")

    def __init__(
        self,
        config: ImapMailboxConfig,
        context: ConnectorContext,
        checkpoints: ImapCheckpoints | None = None,
        *,
        follow: bool = False,
        batch_events: int = 500,
        confirm_seconds: float = 30.0,
        session_class: type[ImapSession] = ImapSession,
    ) -> None:
        self.config = config
        self.parser = ImapHeaderParser(config, context)
        self.checkpoints = checkpoints if checkpoints is not None else ImapCheckpoints(None)
        self.follow = follow
        self.batch_events = batch_events
        self.confirm_seconds = confirm_seconds
        self.stats = ConnectorStats()
        self._session_class = session_class
        self._sessions: dict[str, ImapSession] = {}
        self._folders_read: set[str] = set()

    @classmethod
    def open(cls, settings: Settings, config: ImapMailboxConfig, inputs: Inputs,
             parser_class: object = None) -> ImapSource:
        return cls(config, connector_context(settings), ImapCheckpoints(inputs.checkpoint_file),
                   follow=inputs.follow, **_batching(settings.connectors))

    async def run(self, sink: EventSink, stop: asyncio.Event | None = None) -> ConnectorStats:
        """One pass over every folder; with `follow`, poll until `stop` is set, reconnecting with
        backoff after a lost connection. Terminal errors (login, TLS, folder) always raise."""
        outbox = Outbox(sink, self.stats, batch_events=self.batch_events, confirm_seconds=self.confirm_seconds)
        delay = self.config.reconnect_initial_seconds
        try:
            while True:
                try:
                    await self.poll_once(outbox)
                    delay = self.config.reconnect_initial_seconds
                    pause = self.config.poll_seconds
                except TransientError as exc:  # the server, the broker or the worker is away
                    outbox.abandon()  # not confirmed, checkpoint not moved: read again after reconnecting
                    await self._close_sessions()
                    if not self.follow:
                        raise
                    logger.warning("%s; reconnecting in %.0fs", exc, delay)
                    pause, delay = delay, min(delay * 2, self.config.reconnect_max_seconds)
                if not self.follow or (stop is not None and stop.is_set()) or await _stopped(stop, pause):
                    return self.stats
        finally:
            await self._close_sessions()

    async def poll_once(self, outbox: Outbox) -> None:
        for mailbox in self.config.mailboxes:
            for folder in mailbox.folders:
                await self._read_folder(outbox, mailbox, folder, sent=False)
            if mailbox.sent_folder is not None:
                await self._read_folder(outbox, mailbox, mailbox.sent_folder, sent=True)

    async def _session(self, mailbox: SharedMailbox) -> ImapSession:
        username, password = self.config.login(mailbox)
        session = self._sessions.get(username)
        if session is None:
            session = self._session_class(self.config, username, password)
            await asyncio.to_thread(session.open)
            self._sessions[username] = session
        return session

    async def _close_sessions(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await asyncio.to_thread(session.close)

    async def _read_folder(self, outbox: Outbox, mailbox: SharedMailbox, folder: str, sent: bool) -> None:
        session = await self._session(mailbox)
        state = await asyncio.to_thread(session.examine, folder)
        key = f"{mailbox.address}/{folder}"
        self._folders_read.add(key)
        self.stats.files = len(self._folders_read)
        first = self.checkpoints.first_uid(key, state.uidvalidity)
        # SEARCH first, then FETCH in batches of real UIDs: UIDs of a long-lived folder have
        # wide gaps, and a first read of a big folder must not hold every header at once.
        uids = [] if state.uidnext is not None and first >= state.uidnext else (
            await asyncio.to_thread(session.search_uids, first)
        )
        last = first - 1
        for start in range(0, len(uids), self.config.fetch_batch):
            batch = uids[start : start + self.config.fetch_batch]
            headers = await asyncio.to_thread(session.fetch_headers, batch[0], batch[-1])
            for uid, header in headers.items():
                self._handle(outbox, header, MessageRef(mailbox.address, folder, state.uidvalidity, uid, sent))
            last = batch[-1]
            await outbox.flush(lambda last=last: self.checkpoints.save(key, state.uidvalidity, last))
            await outbox.drain()  # the next FETCH waits for this batch: one folder's batches in order
        # Every UID below UIDNEXT was searched; one that was not found is expunged and never comes back.
        if state.uidnext is not None:
            last = max(last, state.uidnext - 1)
        self.checkpoints.save(key, state.uidvalidity, last)  # also records a new UIDVALIDITY of an empty folder

    def _handle(self, outbox: Outbox, header: bytes, ref: MessageRef) -> None:
        outbox.counts.records += 1
        result = self.parser.outcome(header, ref)
        if isinstance(result, DeadLetter):
            outbox.counts.rejected += 1
            metrics.CONNECTOR_RECORDS.labels(KIND, "rejected").inc()
            outbox.add_dead_letter(result)
        elif isinstance(result, Skip):
            outbox.counts.skipped[result.reason] += 1
            metrics.CONNECTOR_SKIPPED.labels(KIND, result.reason).inc()
        else:
            metrics.CONNECTOR_RECORDS.labels(KIND, "parsed").inc()
            for event in result:
                outbox.add(event)


def _batching(connectors: ConnectorSettings) -> dict[str, float]:
    return {"batch_events": connectors.batch_events, "confirm_seconds": connectors.confirm_seconds}


async def _stopped(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait `seconds`; True as soon as `stop` is set."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def run_imap(
    settings: Settings,
    config: ImapMailboxConfig,
    sink: EventSink,
    checkpoints: ImapCheckpoints | None = None,
    *,
    follow: bool = False,
    stop: asyncio.Event | None = None,
) -> ConnectorStats:
    """Read the configured shared mailboxes into `sink`: one pass, or with `follow` a poll
    every config.poll_seconds until `stop` is set. `checkpoints=None` keeps positions in
    memory only. Raises ImapRefused (and subclasses) for what an operator must fix,
    ImapUnavailable when a single pass cannot reach the server, ProduceFailed when the broker
    does not acknowledge."""
    source = ImapSource(config, connector_context(settings), checkpoints, follow=follow,
                        **_batching(settings.connectors))
    return await source.run(sink, stop)

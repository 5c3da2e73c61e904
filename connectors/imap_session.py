"""One logged-in IMAP connection per login, read-only: EXAMINE, UID SEARCH, and UID FETCH of
seven header fields with BODY.PEEK, so bodies are never fetched and \\Seen never changes.

Every method blocks (imaplib); the IMAP source calls them through asyncio.to_thread. What
goes wrong is sorted into ImapUnavailable (the server is away: try again) and ImapRefused
(login, TLS, a missing folder: an operator must act).
"""

from __future__ import annotations

import base64
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from connectors.imap_mailbox import (
    ImapFolderMissing,
    ImapLoginFailed,
    ImapMailboxConfig,
    ImapRefused,
    ImapTlsFailed,
    ImapUnavailable,
)

logger = logging.getLogger(__name__)

HEADER_FIELDS = ("DATE", "MESSAGE-ID", "FROM", "TO", "IN-REPLY-TO", "REFERENCES", "SUBJECT")
# The only thing ever fetched: the UID and these header fields, PEEK so \Seen stays as it is.
FETCH_ITEMS = f"(UID BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})])"



def encode_folder(name: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def close_run() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + data.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            close_run()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    close_run()
    return _quoted("".join(out))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None  # None when the server did not say


_UID = re.compile(rb"\bUID (\d+)")


def parse_fetch_response(data: list[object]) -> dict[int, bytes]:
    """UID -> header bytes from imaplib's answer to UID FETCH; unsolicited FETCH responses
    (flag changes made by other clients) carry no BODY and are left out."""
    found: dict[int, bytes] = {}
    items = list(data)
    for index, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2:
            prefix, literal = item
            if not isinstance(prefix, bytes) or b"BODY[" not in prefix:
                continue
            uid = _UID.search(prefix)
            if uid is None and index + 1 < len(items) and isinstance(items[index + 1], bytes):
                uid = _UID.search(items[index + 1])  # type: ignore[arg-type]  # UID after the literal
            if uid is not None:
                found[int(uid.group(1))] = literal if isinstance(literal, bytes) else b""
        elif isinstance(item, bytes) and b"BODY[" in item:  # an empty header sent as "" or NIL
            uid = _UID.search(item)
            if uid is not None:
                found.setdefault(int(uid.group(1)), b"")
    return found


class ImapSession:
    """One logged-in IMAP connection. Every method blocks; the connector calls them in a thread."""

    def __init__(self, config: ImapMailboxConfig, username: str, password: str) -> None:
        self._config = config
        self._username = username
        self._password = password
        self._conn: imaplib.IMAP4 | None = None

    @property
    def _server(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def _tls_context(self) -> ssl.SSLContext | None:
        if self._config.tls == "none":
            return None
        ca_file = self._config.ca_file
        try:
            return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ImapTlsFailed(f"ca_file {ca_file} cannot be used ({exc}): name a readable PEM file") from exc

    def open(self) -> None:
        config = self._config
        context = self._tls_context()
        try:
            if config.tls == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    config.host, config.port, ssl_context=context, timeout=config.timeout_seconds
                )
            else:
                conn = imaplib.IMAP4(config.host, config.port, timeout=config.timeout_seconds)
            self._conn = conn
            if config.tls == "starttls":
                if "STARTTLS" not in conn.capabilities:
                    self.close()
                    raise ImapTlsFailed(
                        f"the IMAP server {self._server} does not offer STARTTLS: set tls: ssl (port 993) if it"
                        " speaks TLS from the start"
                    )
                conn.starttls(ssl_context=context)
        except ssl.SSLError as exc:
            self.close()
            raise ImapTlsFailed(
                f"TLS with the IMAP server {self._server} failed ({exc.reason or exc}): check tls (ssl for 993,"
                " starttls for 143) and ca_file"
            ) from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            self.close()
            raise ImapUnavailable(f"cannot reach the IMAP server {self._server}: {exc}") from exc
        try:
            typ, data = conn.login(_quoted(self._username), self._password)
        except imaplib.IMAP4.abort as exc:
            self.close()
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection at login: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            self.close()
            if "[UNAVAILABLE]" in _text(exc).upper():  # RFC 5530: the auth backend is down for now
                raise ImapUnavailable(f"the IMAP server {self._server} cannot check logins now: {_text(exc)}") from exc
            raise ImapLoginFailed(
                f"the IMAP server {self._server} refused the login of {self._username!r} ({_text(exc)}): check"
                " username and password in the imap_mailbox config"
            ) from exc
        except UnicodeEncodeError as exc:
            self.close()
            raise ImapLoginFailed(
                f"the username or password for {self._server} has non-ASCII characters, which IMAP LOGIN cannot send"
            ) from exc
        except OSError as exc:
            self.close()
            raise ImapUnavailable(f"lost the IMAP server {self._server} at login: {exc}") from exc
        if typ != "OK":  # imaplib raises on NO; kept for servers answering otherwise
            self.close()
            raise ImapLoginFailed(f"the IMAP server {self._server} refused the login of {self._username!r}: {data!r}")

    def examine(self, folder: str) -> FolderState:
        """Open `folder` read-only (EXAMINE) and read its UIDVALIDITY and UIDNEXT."""
        conn = self._live()
        try:
            typ, data = conn.select(encode_folder(folder), readonly=True)
            validity = conn.response("UIDVALIDITY")[1]
            uidnext = conn.response("UIDNEXT")[1]
        except imaplib.IMAP4.abort as exc:
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection: {exc}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"EXAMINE {folder!r} on {self._server} failed: {exc}") from exc
        if typ != "OK":
            raise ImapFolderMissing(
                f"the IMAP server {self._server} cannot open folder {folder!r} for {self._username!r}"
                f" ({_text(data)}): check the folder names of the mailbox in the imap_mailbox config"
            )
        try:
            uidvalidity = int(validity[-1])
        except (TypeError, ValueError, IndexError):
            raise ImapRefused(
                f"the IMAP server {self._server} sent no UIDVALIDITY for {folder!r}: its UIDs cannot be checkpointed"
            ) from None
        try:
            next_uid: int | None = int(uidnext[-1])
        except (TypeError, ValueError, IndexError):
            next_uid = None
        return FolderState(uidvalidity, next_uid)

    def search_uids(self, first: int) -> list[int]:
        """UIDs of the messages from UID `first` on, ascending."""
        conn = self._live()
        try:
            typ, data = conn.uid("SEARCH", f"UID {first}:*")
        except imaplib.IMAP4.abort as exc:
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection: {exc}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"UID SEARCH on {self._server} failed: {exc}") from exc
        if typ != "OK":
            raise ImapUnavailable(f"UID SEARCH on {self._server} answered {typ}: {_text(data)}")
        found = {int(uid) for line in data if isinstance(line, bytes) for uid in line.split() if uid.isdigit()}
        # `n:*` always includes the newest message, even when its UID is below n: keep the asked range.
        return sorted(uid for uid in found if uid >= first)

    def fetch_headers(self, first: int, last: int) -> dict[int, bytes]:
        """Header fields of the messages with first <= UID <= last."""
        conn = self._live()
        uids = f"{first}:{last}"
        try:
            typ, data = conn.uid("FETCH", uids, FETCH_ITEMS)
        except imaplib.IMAP4.abort as exc:
            raise ImapUnavailable(f"the IMAP server {self._server} dropped the connection: {exc}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"UID FETCH on {self._server} failed: {exc}") from exc
        if typ != "OK":
            raise ImapUnavailable(f"UID FETCH on {self._server} answered {typ}: {_text(data)}")
        return {uid: header for uid, header in sorted(parse_fetch_response(data).items()) if first <= uid <= last}

    def _live(self) -> imaplib.IMAP4:
        if self._conn is None:
            raise ImapUnavailable(f"not connected to the IMAP server {self._server}")
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.logout()
        except Exception as exc:  # noqa: BLE001 - closing a broken connection: nothing left to save
            logger.debug("IMAP logout from %s failed (%s): closing the socket", self._server, exc)
            try:
                conn.shutdown()
            except OSError as exc:
                logger.debug("closing the socket to %s failed: %s", self._server, exc)


def _text(value: object) -> str:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, BaseException) and value.args:
        value = value.args[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:200]



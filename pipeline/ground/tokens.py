"""Bearer tokens: the HTTP ingest's configured token, and the worker's own query token.

One comparison for both, so "almost the token" (a prefix, an empty `Bearer `, another
scheme) is refused the same way everywhere, in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

QUERY_TOKEN_FILE = "query-token"


def token_matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header is exactly `Bearer <token>` (scheme in any case);
    an empty configured token matches nothing."""
    if not token or not header:
        return False
    scheme, _, given = header.partition(" ")
    # A header of undecodable bytes reaches us with surrogates: encode them back, never raise.
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode())


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine (127.0.0.0/8, ::1, or IPv4 mapped into IPv6)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def write_query_token(directory: Path) -> str:
    """A fresh token for this worker's run, in a file only its own user can read, so another
    command of the same operator can ask the embedded store and nobody else can."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    path = directory / QUERY_TOKEN_FILE
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as fh:
        fh.write(token)
    os.replace(path.with_suffix(".tmp"), path)
    return token


def read_query_token(directory: Path) -> str:
    """The running worker's query token, or "" when this user cannot read it."""
    try:
        return (directory / QUERY_TOKEN_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return ""

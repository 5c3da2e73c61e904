"""Bearer tokens: only the exact token opens a door; the worker's query token stays private."""

from __future__ import annotations

import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ground.tokens import is_loopback, read_query_token, token_matches, write_query_token

TOKEN = "s3cret-token-value"


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}  "])
def test_the_exact_token_matches(header: str) -> None:
    assert token_matches(header, TOKEN)


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer  ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN[:1]}", f"Bearer {TOKEN}x",
    f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}", f"Bearer{TOKEN}", f"Bearer {TOKEN.upper()}",
])
def test_anything_but_the_exact_token_is_refused(header: str | None) -> None:
    assert not token_matches(header, TOKEN)


@given(st.text(max_size=len(TOKEN) + 3))
def test_no_other_value_matches(given_token: str) -> None:
    assert token_matches(f"Bearer {given_token}", TOKEN) == (given_token.strip() == TOKEN)


@pytest.mark.parametrize("header", ["Bearer ", "Bearer x", ""])
def test_an_empty_configured_token_matches_nothing(header: str) -> None:
    assert not token_matches(header, "")


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.5", False), ("192.168.1.2", False), ("::ffff:10.0.0.5", False), ("2001:db8::1", False),
    ("", False), (None, False), ("localhost", False),
])
def test_loopback_is_only_this_machine(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_the_query_token_is_fresh_and_readable_by_its_owner_only(tmp_path) -> None:
    directory = tmp_path / "var" / "worker"  # neither exists yet
    first = write_query_token(directory)
    second = write_query_token(directory)
    assert first != second and len(second) >= 32
    assert stat.S_IMODE((directory / "query-token").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700  # nobody else may even list it
    assert read_query_token(directory) == second
    assert read_query_token(tmp_path / "elsewhere") == ""


def test_a_header_of_undecodable_bytes_is_refused_not_raised() -> None:
    """aiohttp hands undecodable header bytes over as surrogates; encoding them raised, the
    request became a 500 and its traceback printed the token from the check's frame."""
    assert not token_matches("Bearer \udcff\udcfe", TOKEN)

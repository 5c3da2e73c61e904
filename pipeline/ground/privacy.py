"""Personal data stops at the connector: keyed hashing of requester ids, masking of raw text.

A contact_key lets analysts count repeat contacts without anyone being able to read, or
cheaply reverse, the caller's number: it is HMAC-SHA256 keyed with a secret from settings.
Dead letters carry the raw record for debugging, so CPR numbers, e-mail addresses, phone
numbers and IP addresses are masked in them first (one pass, linear in the text's length,
leaving version numbers, GUIDs, hex ids and date stamps readable), the record is cut to a
bound (`cut`, never through a token), and fields known to hold names or addresses
(`PERSONAL_FIELDS`, configurable per connector) are blanked by the connector's `redact`.
"""

from __future__ import annotations

import csv
import hmac
import json
import re
from collections.abc import Callable, Collection
from datetime import date
from functools import lru_cache
from typing import Any

from schemas.inquiry import NAME_MAX

# One pass over the text with one combined pattern, so masking takes time linear in the
# text's length (an earlier e-mail pattern took 21 s on an 80,000-character line): every
# alternative starts only at a token boundary (its look-behind), and every repetition is
# bounded. The alternatives are tried in this order at each position:
_MASK = re.compile(
    "|".join((
        # Kept as they are: GUIDs and hex ids (their digit runs are no phone numbers).
        r"(?P<guid>(?<![0-9A-Za-z])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z]))",
        r"(?P<hex>(?<![0-9A-Za-z])(?=[0-9A-Fa-f]{0,127}[A-Fa-f])[0-9A-Fa-f]{16,128}(?![0-9A-Za-z]))",
        # E-mail addresses: local part of at most 64 characters (RFC 5321), a dotted domain.
        r"(?P<email>(?<![\w.%+\-])[\w.%+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){0,8}\.[^\W\d_]{2,24}(?![\w\-]))",
        # IPv6 (eight groups, or compressed with ::) and IPv4 client addresses; not a version
        # number after a slash or a letter (Chrome/120.0.0.0, v1.2.3.4).
        r"(?P<ipv6>(?<![0-9A-Za-z:.])(?:(?:[0-9A-Fa-f]{0,4}:){2,6}(?:\d{1,3}\.){3}\d{1,3}(?![0-9.])"
        r"|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
        r"|(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?"
        r"|::[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})(?![0-9A-Za-z:.]))",
        r"(?P<ipurl>(?<=//)(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}"
        r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])(?![0-9.]))",
        r"(?P<ipv4>(?<![0-9A-Za-z./])(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}"
        r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])(?![0-9.]))",
        # CPR: ddmmyy-ssss or ddmmyyssss, masked only where the date part is a real date, so
        # epoch timestamps and call ids (also ten digits) stay readable.
        r"(?P<cpr>(?<!\d)\d{2}\.?\d{2}\.?\d{2}[\-\u2010-\u2015 \u00a0]?\d{4}(?!\d))",
        # International numbers: + or 00, a country code, maybe a space or dash, the rest.
        r"(?P<intl>(?<![^\W_]|\+)(?:\+|00)\d{1,3}[ \-]?\d{6,14}(?!\d))",
        # Danish numbers: 8 digits, together, in pairs or fours separated by spaces, with or
        # without +45 / 0045 / 45. Only pairs may be dash-separated, so ISO dates stay readable.
        r"(?P<phone>(?<![^\W_]|[\-:/._])(?:(?:\+|00)?45 ?)?(?:\d{8}|\d{2} \d{2} \d{2} \d{2}"
        r"|\d{2}-\d{2}-\d{2}-\d{2}|\d{4}[ \-]\d{4}|\d{2} \d{3} \d{3}|\d{3} \d{2} \d{3})(?![^\W_]|:))",
        # Any other run of 8 to 15 digits (a number without its prefix, 47 98765432 ...),
        # except a plausible epoch or a date stamp in a name (queue_log-20261123, Gecko/20100101).
        r"(?P<number>(?<![^\W_])\d{8,15}(?![^\W_]))",
    ))
)
_EPOCHS = range(946_684_800, 4_102_444_800)  # 2000-01-01 to 2100-01-01
_STAMP_PREFIXES = frozenset("/-_.")


def _plausible_date(day: str, month: str, year: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _date_stamp(match: re.Match[str], digits: str) -> bool:
    """YYYYMMDD (or with hhmm / hhmmss) right after / - _ or . : a date in a file name or version."""
    before = match.string[match.start() - 1] if match.start() else ""
    if before not in _STAMP_PREFIXES or len(digits) not in (8, 12, 14) or digits[:2] not in ("19", "20"):
        return False
    clock = digits[8:]
    clock_ok = all(int(clock[i:i + 2]) < limit for i, limit in zip(range(0, len(clock), 2), (24, 60, 60)))
    return clock_ok and _plausible_date(digits[6:8], digits[4:6], digits[:4])


def _masked(match: re.Match[str]) -> str:
    kind, text = match.lastgroup, match.group(0)
    if kind in ("guid", "hex"):
        return text
    if kind == "email":
        return "<email>"
    if kind in ("ipv4", "ipv6", "ipurl"):
        return "<ip>"
    if kind == "cpr":
        digits = re.sub(r"\D", "", text)
        return "<cpr>" if _plausible_date(digits[0:2], digits[2:4], "20" + digits[4:6]) else _number(match, text)
    if kind == "number":
        return _number(match, text)
    return "<phone>"


def _number(match: re.Match[str], digits: str) -> str:
    plain = re.sub(r"\D", "", digits)
    if len(plain) == 10 and int(plain) in _EPOCHS and plain == digits:
        return digits
    if _date_stamp(match, plain):
        return digits
    if not 8 <= len(plain) <= 15:
        return digits
    return "<phone>"


def mask_personal_data(text: str) -> str:
    """Replace CPR numbers, e-mail addresses, phone numbers and IP addresses with fixed
    placeholders, in time linear in the text's length."""
    return _MASK.sub(_masked, text)


_TOKEN_CHARACTERS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@.+-_%:")


@lru_cache(maxsize=16384)
def masked_name(value: str, limit: int = NAME_MAX) -> str:
    """A name a source gives (queue, site, department, task label) as it may travel in an event:
    personal-data patterns masked (a ticket service typed as "Pas 010190-1234" stays a queue
    name without the CPR number), kept within the contract's length. Names repeat, so the
    answers are cached."""
    masked = mask_personal_data(value)
    return masked if len(masked) <= limit else masked[:limit]


def cut(text: str, limit: int) -> str:
    """At most about `limit` characters of `text`, without the token the cut went through (half
    a phone number is still personal data), saying how much was left out."""
    if len(text) <= limit:
        return text
    end = limit
    while end and text[end - 1] in _TOKEN_CHARACTERS:
        end -= 1
    return f"{text[:end]}… [{len(text) - end:,} more characters not kept]"


RAW_KEPT = 3000  # characters of a rejected record a dead letter keeps (masking may lengthen it a little)


def masked_excerpt(text: str, redact: Callable[[str], str] | None = None, limit: int = RAW_KEPT) -> str:
    """What a dead letter keeps of a rejected record: cut to a bound first, so blanking and
    masking stay cheap on a line of any length, then its personal fields blanked (`redact`,
    the connector's own), then personal-data patterns masked."""
    kept = cut(text, limit)
    if redact is not None:
        try:
            kept = redact(kept)
        except Exception as exc:  # noqa: BLE001 - a record its connector cannot blank is not kept at all
            return f"<not kept: its personal fields could not be blanked ({type(exc).__name__})>"
    return mask_personal_data(kept)


REDACTED = "<redacted>"

# Export columns that hold a person's name, address or identity, blanked by default in
# whatever a table-reading connector dead-letters: names have no pattern to mask them by,
# so they are known by their column. Configure more per connector (`personal_fields`).
PERSONAL_FIELDS: tuple[str, ...] = (
    "name", "navn", "fulde_navn", "full_name", "fullname", "requester_name", "borger_navn", "borgernavn",
    "customer_name", "kundenavn", "first_name", "fornavn", "last_name", "efternavn", "surname",
    "address", "adresse", "street", "vejnavn", "cpr", "cpr_nr", "cprnr", "personnummer",
    "email", "e-mail", "mail", "telefon", "phone", "mobil", "mobile",
)  # fmt: skip


def redact_csv_row(record: str, delimiter: str, columns: Collection[int]) -> str:
    """The CSV row with the fields at `columns` blanked; unchanged when it is not one CSV line
    (generic masking still runs on it)."""
    if not columns:
        return record
    try:
        row = next(csv.reader((record,), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return record
    for position in columns:
        if position < len(row):
            row[position] = REDACTED
    writer_line = []
    for value in row:
        needs_quotes = delimiter in value or '"' in value or "\n" in value
        writer_line.append('"' + value.replace('"', '""') + '"' if needs_quotes else value)
    return delimiter.join(writer_line)


# A "key": value pair in text that may not parse as JSON (a line cut off mid-object): the
# value is a string (perhaps unterminated, to the end of the text) or a bare literal.
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\\?$)|[^,{}\[\]"\s]+)')


def _redact_json_pairs(record: str, wanted: set[str]) -> str:
    """Broken JSON: blank the values of wanted keys wherever a "key": value pair is found.
    Dotted paths are matched by their last part, since nesting cannot be trusted here."""
    names = wanted | {f.rsplit(".", 1)[-1] for f in wanted}

    def blank(match: re.Match[str]) -> str:
        if match.group(1).casefold() not in names:
            return match.group(0)
        return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'

    return _JSON_PAIR.sub(blank, record)


def redact_json_fields(record: str, fields: Collection[str]) -> str:
    """The JSON object with every value whose key or dotted path (case-insensitive) is in
    `fields` blanked, at any depth. Text that is not a JSON object (a line cut off by a crash,
    a stray comma) still has the values of those keys blanked wherever "key": value is found."""
    wanted = {f.casefold() for f in fields}
    if not wanted:
        return record
    try:
        data = json.loads(record)
    except ValueError:
        return _redact_json_pairs(record, wanted)
    if not isinstance(data, dict):
        return _redact_json_pairs(record, wanted)

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {key: REDACTED if (key.casefold() in wanted or f"{path}{key}".casefold() in wanted)
                    else walk(item, f"{path}{key}.") for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, path) for item in value]
        return value

    return json.dumps(walk(data, ""), ensure_ascii=False, separators=(",", ":"))


def shown(value: str, limit: int = 60) -> str:
    """A field value fit for a rejection reason: cut to a bound (never through a token), masked,
    cut again, quoted."""
    return repr(cut(mask_personal_data(cut(value, 4 * limit)), limit))


# A caller id worth keying: digits with the punctuation people and PBXes put in numbers.
# Channel names (Local/2004@from-internal/n, SIP/abc-0001) and 'anonymous' do not match.
_PHONE_LIKE = re.compile(r"\+?[0-9 ()\-.]+")
_MIN_PHONE_DIGITS = 8
_MAX_PHONE_DIGITS = 15  # E.164


def normalise_phone_number(raw: str) -> str:
    """Reduce a caller id to its digits without the Danish prefix, so +45 1234 5678 == 12345678."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 10 and digits.startswith("45"):
        digits = digits[2:]
    elif len(digits) == 12 and digits.startswith("0045"):
        digits = digits[4:]
    return digits


class ContactKeyer:
    """Turns requester identifiers into contact keys with one secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("privacy.contact_key_secret is empty: set KANALPULS_PRIVACY__CONTACT_KEY_SECRET")
        self._secret = secret

    def key(self, identifier: str) -> str | None:
        """HMAC-SHA256 hex of the identifier; None when there is no usable identifier."""
        identifier = identifier.strip().lower()
        if not identifier:
            return None
        return hmac.digest(self._secret, identifier.encode(), "sha256").hex()

    def phone_key(self, caller: str) -> str | None:
        """The key of a phone number however it is written (+45 1234 5678 and 12345678 alike);
        None for what is no number: empty, 'anonymous', a channel name, an extension."""
        if not _PHONE_LIKE.fullmatch(caller):
            return None
        number = normalise_phone_number(caller)
        if not _MIN_PHONE_DIGITS <= len(number) <= _MAX_PHONE_DIGITS:
            return None
        return self.key(number)

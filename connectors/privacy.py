"""Personal data stops at the connector: keyed hashing of requester ids, masking of raw text.

A contact_key lets analysts count repeat contacts without anyone being able to read, or
cheaply reverse, the caller's number: it is HMAC-SHA256 keyed with a secret from settings.
Dead letters carry the raw record for debugging, so CPR numbers, e-mail addresses and
phone numbers are masked in them first, and fields known to hold names or addresses
(`PERSONAL_FIELDS`, configurable per connector) are blanked by the connector's `redact`.
"""

from __future__ import annotations

import csv
import hmac
import json
import re
from collections.abc import Collection
from datetime import date
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# CPR: ddmmyy-ssss or ddmmyyssss, masked only when the date part is a real date, so
# epoch timestamps and call ids (also ten digits) stay readable in dead letters.
_CPR = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})-?(\d{4})(?!\d)")
# Danish numbers: 8 digits, written together, in pairs or in fours separated by spaces, with or
# without +45 / 0045 / 45. Only pairs may be dash-separated, so ISO dates (2024-03-04) stay readable.
_PHONE = re.compile(
    r"(?<![\d\-:])(?:(?:\+|00)?45 ?)?(?:\d{8}|\d{2} \d{2} \d{2} \d{2}|\d{2}-\d{2}-\d{2}-\d{2}|\d{4} \d{4})(?![\d:])"
)
# Any other international number: + or 00, a country code, maybe a space or dash, the rest.
_INTERNATIONAL = re.compile(r"(?<!\d)(?:\+|00)\d{1,3}[ \-]?\d{6,14}(?!\d)")
# Any other run of 8 to 15 digits (a number without its prefix, 47 98765432 ...), except a
# plausible Unix epoch, so queue_log timestamps and call ids stay readable.
_LONG_NUMBER = re.compile(r"(?<!\d)\d{8,15}(?!\d)")
_EPOCHS = range(946_684_800, 4_102_444_800)  # 2000-01-01 to 2100-01-01


def _number_unless_epoch(match: re.Match[str]) -> str:
    digits = match.group(0)
    return digits if len(digits) == 10 and int(digits) in _EPOCHS else "<phone>"


def _plausible_cpr(match: re.Match[str]) -> bool:
    day, month, year = (int(g) for g in match.group(1, 2, 3))
    try:
        date(2000 + year, month, day)
    except ValueError:
        return False
    return True


def mask_personal_data(text: str) -> str:
    """Replace CPR numbers, e-mail addresses and phone numbers with fixed placeholders."""
    text = _EMAIL.sub("<email>", text)
    text = _CPR.sub(lambda m: "<cpr>" if _plausible_cpr(m) else m.group(0), text)
    text = _INTERNATIONAL.sub("<phone>", text)
    text = _PHONE.sub("<phone>", text)
    return _LONG_NUMBER.sub(_number_unless_epoch, text)


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
    """A field value fit for a rejection reason: masked first, then cut, then quoted."""
    return repr(mask_personal_data(value)[:limit])


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

"""Finding the simulator's planted personal data in text: what privacy tests scan with."""

from __future__ import annotations

import re
from itertools import pairwise

from pipeline.simulated.truth import PersonalData

# Hex digests (event ids, contact keys, Faust's own ids) hold 8-digit runs by chance; no
# planted value is 16 hex characters long, so they are blanked before scanning.
_DIGEST = re.compile(r"[0-9a-fA-F]{16,}")


def without_digests(text: str) -> str:
    """The text with hex digests (event ids, contact keys) blanked: digit runs inside them are chance."""
    return _DIGEST.sub(" ", text)


def tokens(text: str) -> set[str]:
    """Where a planted value can be found in text, without ten thousand substring searches:
    two-word names, CPR numbers, e-mail and IP addresses, digit runs, and numbers written in
    groups (22 33 44 55) with their spaces taken out. Hex digests are blanked first: a
    sha256 id holds an 8-digit run about one time in three, and one of a few thousand planted
    phone numbers among them by chance fails a run in ten."""
    text = without_digests(text)
    words = re.findall(r"[^\W\d_]+", text)
    spaced = {re.sub(r"\D", "", run) for run in re.findall(r"\+?\d[\d ]{6,}\d", text)}
    return ({f"{a} {b}" for a, b in pairwise(words)}
            | set(re.findall(r"(?<!\d)\d{6}-\d{4}(?!\d)", text))
            | set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text))
            | set(re.findall(r"[0-9a-fA-F:.]+", text))
            | set(re.findall(r"\d+", text))
            | spaced | {run[2:] for run in spaced if run.startswith("45") and len(run) == 10})


def planted_in(text: str, data: PersonalData) -> list[str]:
    """Every planted value (CPR, name, e-mail, phone, IP) that occurs in `text`, sorted."""
    return sorted(set(data.values()) & tokens(without_digests(text)))

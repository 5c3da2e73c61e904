"""Pydantic validation errors as messages an operator can act on, without the input values.

Pydantic's own message quotes the offending input; in a connector config that may be an
IMAP password typed under a misspelt key, in a run file a path with a citizen's name.
The field path and the reason are enough to fix it.
"""

from __future__ import annotations

from pydantic import ValidationError


def describe(exc: ValidationError) -> str:
    """'field.path: reason; other.field: reason' for every error, no input values."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )

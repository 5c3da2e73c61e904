"""What every source's config says, declared once, and the fields a source gives its own default."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.inquiry import NAME_MAX


def system_field(default: str, names: str, *examples: str) -> Any:
    """A source's `system` with its own default; `names` says what it names ("the PBX")."""
    return Field(default=default, min_length=1, max_length=NAME_MAX, examples=list(examples) or None,
                 description=f"Name of {names}; part of every event id and of its checkpoint file's name.")


def rule_set_field(default: str, maps: str, **extra: Any) -> Any:
    """A source's `rule_set` with its own default; `maps` says what the rules match ("queue names")."""
    return Field(default=default, min_length=1, max_length=NAME_MAX,
                 description=f"Rule set in the mapping file that maps {maps} to task and department.", **extra)


def timezone_field(default: str, why: str, *examples: str) -> Any:
    """A source's `timezone` with its own default; `why` says what the source writes."""
    return Field(default=default, examples=list(examples) or None,
                 description=f"IANA zone of times written without a UTC offset: {why}.")


class ConnectorConfig(BaseModel):
    """What every source's config says, declared once: the system it reads (part of every event
    id and of its checkpoint file's name), the mapping file's rule set that classifies what it
    reads, and the zone of times the source writes without a UTC offset. A source whose times
    are always absolute (epoch seconds, an offset on every line) keeps the field and never needs
    it. Unknown keys are refused: a misspelt option must fail at start, not be read as a default."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(default="source", min_length=1, max_length=NAME_MAX,
                        description="Name of the source system; part of every event id and of its checkpoint file.")
    rule_set: str = Field(default="", max_length=NAME_MAX,
                          description="Rule set in the mapping file that maps the source's keys to task and department.")
    timezone: str = Field(default="Europe/Copenhagen",
                          description="IANA zone of timestamps written without a UTC offset.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/Copenhagen'") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

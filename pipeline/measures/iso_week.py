"""An ISO 8601 week, the unit KOMHEN counts in: a counting week to report, or the weeks a
counting sheet names when it is imported as a baseline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.ground.errors import TerminalError

_ISO_WEEK = re.compile(r"\s*([0-9]{4})-?W([0-9]{1,2})\s*", re.IGNORECASE)


class IsoWeekError(TerminalError, ValueError):
    """The text is not an ISO week of 2000–2099; the message names the expected form."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week: Monday to Sunday, the unit KOMHEN counts in."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """'2026-W12' (or '2026W12') -> IsoWeek(2026, 12); anything else names the expected form."""
        match = _ISO_WEEK.fullmatch(text)
        if not match:
            raise IsoWeekError(f"week '{text[:40]}' is not an ISO week like 2026-W12")
        year, week = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= 2099:  # the years an inquiry event may carry
            raise IsoWeekError(f"week '{text}': the year is outside 2000–2099")
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise IsoWeekError(f"week '{text}': {year} has no ISO week {week}") from None
        return cls(year, week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

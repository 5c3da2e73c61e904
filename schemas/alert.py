"""The alert contract: what the worker produces to the alerts topic when a site's walk-ins spike
or calm down, and stores in walk_in_alerts; Alertmanager, Grafana and the demo read it."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ALERT_KIND = "walk_in_spike"


class SpikeAlert(BaseModel):
    """One change of a site's spike state, as produced to the alerts topic (key = site) and
    stored in walk_in_alerts. A firing and its resolved alert share `alert_id`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    kind: Literal["walk_in_spike"] = ALERT_KIND
    alert_id: str = Field(description="32 hex digits from municipality, site and fired_at: one per spike.")
    status: Literal["firing", "resolved"]
    municipality: str
    site: str
    count: int = Field(description="Arrivals in the window when the status changed.")
    peak_count: int = Field(description="Most arrivals in a window while the spike was open.")
    expected: float | None = Field(description="Seasonal expected arrivals for the window; None if unknown.")
    ratio: float | None = Field(description="count / expected; None when expected is 0 or unknown.")
    window_minutes: int
    window_start: AwareDatetime
    window_end: AwareDatetime = Field(description="The site's clock (event time) when the status changed.")
    threshold_ratio: float = Field(description="The site's rule: fire at ratio x expected ...")
    min_count: int = Field(description="... and at least this many arrivals.")
    baseline_weeks: int = Field(description="Weeks configured for the baseline.")
    baseline_weeks_used: int = Field(description="Weeks that entered the mean (holidays, closed hours, no data left out).")
    fired_at: AwareDatetime = Field(description="Event time of the arrival that crossed the threshold.")
    resolved_at: AwareDatetime | None = Field(description="Event time the spike resolved; None while firing.")
    emitted_at: AwareDatetime = Field(description="Wall-clock time the worker decided it.")


def alert_id(municipality: str, site: str, fired_at: float) -> str:
    """Deterministic, so a replay or a restarted worker names the same spike the same way."""
    return hashlib.sha256(f"{municipality}|{site}|{round(fired_at * 1000)}".encode()).hexdigest()[:32]

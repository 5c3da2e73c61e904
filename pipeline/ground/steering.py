"""What a municipality steers its channels by: opening hours, unit prices, baseline periods,
walk-in spike thresholds and channel-strategy targets, in one YAML file (deploy/steering.yaml,
`KANALPULS_STEERING__FILE`).

Kept apart from the mapping rules (which say what a log line *is*) because these are
decisions a channel-strategy owner changes, not an integrator: a new baseline after a
counting week, a price from this year's budget, a threshold after a false page.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.ground.errors import TerminalError
from pipeline.ground.validation import describe

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


Channel = Literal["phone", "walk_in", "email", "letter", "digital_post", "self_service", "chat", "web"]


class SteeringError(TerminalError):
    """The steering file cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _intervals(text: str) -> tuple[tuple[time, time], ...]:
    """'08:00-12:00, 13:00-15:30' -> ((08:00, 12:00), (13:00, 15:30)); '' or 'closed' -> ()."""
    if text.strip().lower() in ("", "closed", "lukket"):
        return ()
    found = []
    for part in text.split(","):
        match = _INTERVAL.match(part)
        if not match:
            raise ValueError(f"'{part.strip()}' is not an interval like 10:00-15:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (0 <= h1 <= 23 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60) or (h2 == 24 and m2):
            raise ValueError(f"'{part.strip()}' has no such time of day")
        opens, closes = time(h1, m1), time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if closes <= opens:
            raise ValueError(f"'{part.strip()}' closes before it opens")
        found.append((opens, closes))
    return tuple(sorted(found))


class WeekHours(_Strict):
    """Opening hours per weekday, local time; a weekday left out is closed."""

    mon: str = ""
    tue: str = ""
    wed: str = ""
    thu: str = ""
    fri: str = ""
    sat: str = ""
    sun: str = ""

    @field_validator("*")
    @classmethod
    def _valid(cls, value: str) -> str:
        _intervals(value)
        return value

    def on(self, weekday: int) -> tuple[tuple[time, time], ...]:
        """The open intervals on a weekday (0 = Monday)."""
        return _intervals(getattr(self, WEEKDAYS[weekday]))

    def open_at(self, moment: datetime) -> bool:
        clock = moment.time()
        return any(opens <= clock < closes for opens, closes in self.on(moment.weekday()))

    def open_hours(self, weekday: int) -> float:
        return sum((datetime.combine(date.min, c) - datetime.combine(date.min, o)).total_seconds()
                   for o, c in self.on(weekday)) / 3600


class ChannelHours(_Strict):
    """A channel's opening hours, with other hours for named sites (walk-in centres)."""

    hours: WeekHours
    sites: dict[str, WeekHours] = Field(default_factory=dict)

    def for_site(self, site: str) -> WeekHours:
        return self.sites.get(site, self.hours)


BASELINE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")  # used with fullmatch: `$` lets a trailing newline through
KLE_TOPIC = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")  # what inquiries carry; a baseline or package of groups matches none


class Baseline(_Strict):
    """A named comparison: a stored period (fixed dates such as a counting week, the same
    period a year earlier, or the N weeks just before the period looked at), or a channel mix
    typed in (shares per task, '*' for an overall mix), for a municipality with neither history
    nor a counting week to import (`kanalpuls baseline import` stores those)."""

    kind: Literal["fixed", "same_period_last_year", "rolling_weeks", "channel_mix"] = "fixed"
    start: date | None = Field(default=None, description="First day, for kind fixed.")
    end: date | None = Field(default=None, description="Last day (inclusive), for kind fixed.")
    weeks: int = Field(default=4, ge=1, le=104, description="For kind rolling_weeks.")
    mix: dict[str, dict[Channel, float]] = Field(
        default_factory=dict, description="For kind channel_mix: per task (KLE code, or '*' for all tasks) the "
        "share of each channel, as fractions or percentages; each task's shares are scaled to sum to 1.")
    description: str = ""

    @model_validator(mode="after")
    def _dates_fit_kind(self) -> Baseline:
        if self.kind == "fixed":
            if self.start is None or self.end is None:
                raise ValueError("a fixed baseline needs start and end")
            if self.end < self.start:
                raise ValueError("end is before start")
        if self.kind == "channel_mix":
            if not self.mix:
                raise ValueError("a channel_mix baseline needs mix: {task or '*': {channel: share}}")
            for task, shares in self.mix.items():
                if task != "*" and not (KLE_TOPIC.fullmatch(task) or task == "unclassified"):
                    raise ValueError(f"mix: '{task}' is not a KLE topic like 05.13.00 or '*'")
                if "web" in shares:
                    raise ValueError(f"mix {task}: web page views are not inquiries")
                if any(not 0 <= share <= 1e6 for share in shares.values()) or not sum(shares.values()) > 0:
                    raise ValueError(f"mix {task}: shares are percentages or counts from 0 to 1,000,000, "
                                     "not all 0")
        elif self.mix:
            raise ValueError("mix is only for kind channel_mix")
        return self

    @property
    def is_period(self) -> bool:
        return self.kind != "channel_mix"

    def period(self, start: date, end: date) -> tuple[date, date]:
        """The baseline's first and last day when looking at [start, end]."""
        if self.kind == "fixed":
            return self.start, self.end  # type: ignore[return-value]
        if self.kind == "same_period_last_year":
            return _year_earlier(start), _year_earlier(end)
        if self.kind == "channel_mix":
            raise SteeringError("a channel_mix baseline is shares, not a period")
        first = start - timedelta(weeks=self.weeks)
        return first, start - timedelta(days=1)


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


class SpikeRule(_Strict):
    ratio: float = Field(default=2.0, gt=1.0, description="Alert when arrivals >= ratio x expected ...")
    min_count: int = Field(default=12, ge=1, description="... and arrivals >= min_count, so quiet hours page nobody.")


class SpikeConfig(_Strict):
    """Walk-in spike detection: arrivals per site in a sliding window against the same weekday
    and time of day over the previous weeks (public holidays and closed hours left out)."""

    window_minutes: int = Field(default=15, ge=1, le=240)
    baseline_weeks: int = Field(default=4, ge=1, le=52)
    min_baseline_weeks: int = Field(
        default=2, ge=1, le=52,
        description="Page only when at least this many baseline weeks entered the expected count: one week's "
        "quarter hours are too few to tell a spike from chance (a new site paged in its second week).")
    spread_minutes: int = Field(
        default=30, ge=0, le=120,
        description="Each baseline week's rate is taken over the window's minutes and this many either side: "
        "one quarter hour a week is too noisy to page on.")
    max_chance: float = Field(
        default=1e-5, gt=0, lt=1,
        description="Fire only when Poisson arrivals at the expected rate would reach the count less often than "
        "this: ratio and minimum count alone page on chance at small sites.")
    resolve_fraction: float = Field(
        default=0.75, gt=0, le=1,
        description="An open spike resolves when the count falls below this fraction of the firing threshold.")
    default: SpikeRule = SpikeRule()
    sites: dict[str, SpikeRule] = Field(default_factory=dict, description="Per-site thresholds.")

    def rule(self, site: str) -> SpikeRule:
        return self.sites.get(site, self.default)


class TargetPoint(_Strict):
    day: date  # not "on": YAML 1.1 reads a bare `on` key as true
    value: float | None = Field(
        default=None, description="The measure's value then; None: measured over the target's baseline.")


class TargetScope(_Strict):
    """Which inquiries a target measures; an empty list means all."""

    channels: list[Channel] = Field(default_factory=list, description="Measured channels (the share's numerator).")
    of_channels: list[Channel] = Field(
        default_factory=list, description="channel_share: the denominator's channels; empty = every inquiry channel.")
    directions: list[Literal["inbound", "outbound"]] = Field(default_factory=lambda: ["inbound"])  # type: ignore[arg-type]
    tasks: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    inquiry_kinds: list[str] = Field(default_factory=list)


class Target(_Strict):
    """A channel-strategy target: a measure over a trailing window, a start, a goal by a date,
    and optionally a yearly change after it (compounded), e.g. "walk-ins -15 % by 31 Dec 2011,
    then -10 % a year". The target value between start and goal is linear."""

    description: str
    measure: Literal["volume_index", "channel_share", "first_contact_resolution"] = Field(
        description="volume_index: inquiries per day / per day in the baseline (1.0 = as then); channel_share: "
        "share of `channels` among `of_channels`; first_contact_resolution: resolved / known.")
    scope: TargetScope = TargetScope()
    baseline: Baseline | str | None = Field(
        default=None, description="Reference: volume_index divides by it; a start without value is measured in it. "
        "Inline, or the name of a baseline of this file or of one imported with `kanalpuls baseline import`.")
    start: TargetPoint
    goal: TargetPoint | None = None
    then_per_year: float | None = Field(
        default=None, gt=-1, description="Relative change per year after the goal (or the start), e.g. -0.10.")
    window_days: int = Field(default=28, ge=1, le=3660, description="The measure is taken over this many days up to the date.")

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.goal is None and self.then_per_year is None:
            raise ValueError("give a goal, a then_per_year, or both")
        if self.goal is not None and self.goal.day <= self.start.day:
            raise ValueError("the goal's date must come after the start's")
        if self.goal is not None and self.goal.value is None:
            raise ValueError("the goal needs a value")
        if self.measure == "volume_index" and self.baseline is None:
            raise ValueError("a volume_index target needs a baseline: the period it is an index of")
        if self.start.value is None and self.baseline is None:
            raise ValueError("a start without value is measured over the baseline: give one")
        if self.measure == "first_contact_resolution" and (self.scope.tasks or self.scope.inquiry_kinds
                                                           or list(self.scope.directions) != ["inbound"]):
            raise ValueError("a first_contact_resolution target is scoped by channels and departments only "
                             "(inbound inquiries, as kpi_first_contact_resolution counts them)")
        if self.measure == "volume_index" and isinstance(self.baseline, Baseline) and self.baseline.kind != "fixed":
            raise ValueError("a volume_index target's baseline must be a fixed period or an imported count")
        return self


UNIT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
UNIT_TASKS_MAX = 36  # KL's minimum package has 37 tasks; a unit's page shows at most this many buttons


class RegistrationUnit(_Strict):
    """A unit whose staff register inquiries (KOMHEN's "enhed"): the channels it answers and the
    KLE tasks it handles, in the order its registration page shows them."""

    label: str = Field(min_length=1, max_length=80, description="Shown to staff, e.g. 'Borgerservice, skranken'.")
    site: str = Field(default="", max_length=80, description="The site its walk-ins are counted at, if any.")
    channels: list[Channel] = Field(min_length=1, description="Channels its staff answer; the first is preset.")
    tasks: list[str] = Field(min_length=1, max_length=UNIT_TASKS_MAX,
                             description="KLE tasks, in page order; number keys 1-9 pick the first nine.")

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, value: list[str]) -> list[str]:
        bad = [task for task in value if not KLE_TOPIC.fullmatch(task)]
        if bad:
            raise ValueError(f"{', '.join(repr(t[:20]) for t in bad[:5])} is not a KLE topic like 85.02.00")
        if len(set(value)) != len(value):
            raise ValueError("a task is listed twice: each is one button")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        if "web" in value:
            raise ValueError("web is page views, not inquiries: a unit answers phone, walk_in, email, ...")
        return value


class Steering(_Strict):
    """The steering file."""

    timezone: str = "Europe/Copenhagen"
    holiday_country: str = Field(default="DK", description="Public holidays (the holidays package).")
    closed_days: list[date] = Field(
        default_factory=list, description="Days closed besides public holidays (Christmas Eve, New Year's Eve).")
    opening_hours: dict[Channel, ChannelHours] = Field(default_factory=dict)
    unit_prices_dkk: dict[Channel, float] = Field(
        default_factory=lambda: {"email": 110.0, "letter": 110.0, "walk_in": 80.0, "phone": 40.0,
                                 "self_service": 3.0},
        description="Cost of one inbound inquiry per channel (Glostrup, after Copenhagen's Citizen.2012).",
    )
    baselines: dict[str, Baseline] = Field(default_factory=dict)
    resolution_within_days: int = Field(
        default=7, ge=1, le=90, strict=True, description="First-contact resolution where the source is silent: resolved unless "
        "the same requester comes back about the same task within this many days (KOMHEN's follow-up window).")
    komhen_tasks: list[str] = Field(
        default_factory=list, max_length=2000, description="The municipality's KOMHEN task package (KLE codes): "
        "`report komhen` names the tasks of it with no inquiry in the week. KL's minimum package has 37 tasks; list "
        "the package your municipality counts, as KL's registration tool has it.")

    @field_validator("komhen_tasks")
    @classmethod
    def _komhen_tasks(cls, value: list[str]) -> list[str]:
        bad = [task for task in value if not KLE_TOPIC.fullmatch(task)]
        if bad:
            raise ValueError(f"komhen_tasks: {', '.join(repr(t[:20]) for t in bad[:5])} is not a KLE topic like "
                             "05.13.00")
        return list(dict.fromkeys(value))

    @field_validator("baselines")
    @classmethod
    def _baseline_names(cls, value: dict[str, Baseline]) -> dict[str, Baseline]:
        bad = [name for name in value if not BASELINE_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"baseline name(s) {', '.join(bad)}: lower-case letters, digits and _, starting with a letter")
        return value
    spike: SpikeConfig = SpikeConfig()
    targets: dict[str, Target] = Field(default_factory=dict, description="Channel-strategy targets by name.")
    units: dict[str, RegistrationUnit] = Field(
        default_factory=dict, max_length=500, description="Units whose staff register inquiries, by id (lower-case "
        "letters, digits and -): the registration page's units.")

    @field_validator("units")
    @classmethod
    def _unit_ids(cls, value: dict[str, RegistrationUnit]) -> dict[str, RegistrationUnit]:
        bad = [name for name in value if not UNIT_ID.fullmatch(name)]
        if bad:
            raise ValueError(f"unit id(s) {', '.join(repr(b[:40]) for b in bad[:5])}: lower-case letters, digits and -, "
                             "at most 40, starting with a letter or digit")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("unit_prices_dkk")
    @classmethod
    def _prices_not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [channel for channel, price in value.items() if price < 0]
        if bad:
            raise ValueError(f"negative unit price for {', '.join(bad)}")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays(self.holiday_country)

    def closed_day(self, day: date) -> bool:
        """A public holiday or a configured closing day: nobody is served anywhere."""
        return day in self._holidays or day in self.closed_days

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def holidays_in(self, years: range) -> list[tuple[date, str]]:
        """Every public holiday in those years, for the closed_days table."""
        calendar = holidays.country_holidays(self.holiday_country, years=years)
        return sorted(calendar.items())

    def is_open(self, channel: str, site: str, moment: datetime) -> bool:
        """Whether the channel (at the site) is open at `moment` (any timezone; judged locally).
        A channel without configured hours is always open (e-mail, self-service)."""
        local = moment.astimezone(self.zone)
        if channel not in self.opening_hours:
            return True
        if self.closed_day(local.date()):
            return False
        return self.opening_hours[channel].for_site(site).open_at(local)  # type: ignore[index]

    def baseline(self, name: str) -> Baseline:
        if name not in self.baselines:
            known = ", ".join(sorted(self.baselines)) or "none"
            raise SteeringError(f"no baseline named '{name}' in the steering file (known: {known})")
        return self.baselines[name]


def load_steering(path: Path) -> Steering:
    """Read and validate the steering file, naming file and field on any error."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SteeringError(f"cannot read steering file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SteeringError(f"steering file {path} is not valid YAML: {exc}") from exc
    try:
        return Steering.model_validate(data)
    except ValidationError as exc:
        raise SteeringError(f"steering file {path}: {describe(exc)}") from exc


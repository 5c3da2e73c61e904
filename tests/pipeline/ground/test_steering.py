"""The steering file: opening hours, baselines, spike thresholds, errors that name the field."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.ground.settings import Settings
from pipeline.ground.steering import Baseline, SteeringError, WeekHours, load_steering

TZ = ZoneInfo("Europe/Copenhagen")
SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "steering.yaml"


def test_the_shipped_file_is_the_default_and_valid() -> None:
    assert Settings().steering.file == SHIPPED
    steering = load_steering(SHIPPED)
    assert steering.unit_prices_dkk == {"email": 110, "letter": 110, "walk_in": 80, "phone": 40, "self_service": 3}
    assert steering.spike.rule("Hovedbiblioteket").min_count == 8
    assert steering.spike.rule("Rådhuset") == steering.spike.default


def test_opening_hours_with_a_lunch_break_and_closed_days() -> None:
    hours = WeekHours(mon="08:00-12:00, 12:30-15:00", sat="closed")
    assert hours.on(0) == ((time(8), time(12)), (time(12, 30), time(15)))
    assert hours.on(5) == () and hours.on(6) == ()
    assert hours.open_hours(0) == 6.5
    assert hours.open_at(datetime(2026, 11, 23, 11, 59)) and not hours.open_at(datetime(2026, 11, 23, 12, 15))
    assert not hours.open_at(datetime(2026, 11, 23, 15, 0))  # closing time is closed


@pytest.mark.parametrize("bad", ["10-15", "15:00-10:00", "25:00-26:00", "10:00-24:30"])
def test_bad_hours_are_refused_naming_the_weekday(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "steering.yaml"
    path.write_text(f"opening_hours:\n  walk_in:\n    hours: {{tue: '{bad}'}}\n")
    with pytest.raises(SteeringError, match=r"steering.yaml: opening_hours.walk_in.hours.tue"):
        load_steering(path)


def test_public_holidays_and_closing_days_close_every_channel_with_hours() -> None:
    steering = load_steering(SHIPPED).model_copy(update={"closed_days": [date(2026, 12, 24)]})
    ascension = datetime(2026, 5, 14, 11, 0, tzinfo=TZ)  # Kristi Himmelfartsdag, a Thursday
    assert steering.holiday_name(ascension.date())
    assert not steering.is_open("walk_in", "Rådhuset", ascension)
    assert steering.is_open("walk_in", "Rådhuset", datetime(2026, 5, 21, 11, 0, tzinfo=TZ))
    assert not steering.is_open("phone", "", datetime(2026, 12, 24, 10, 0, tzinfo=TZ))
    assert steering.is_open("email", "", ascension)  # no hours: always open


def test_opening_hours_are_judged_in_local_time_across_dst() -> None:
    steering = load_steering(SHIPPED)
    # 09:30 UTC is 10:30 in winter (open) but 11:30 in summer; 08:30 UTC is 10:30 in summer only.
    assert steering.is_open("walk_in", "x", datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("UTC")))
    assert steering.is_open("walk_in", "x", datetime(2026, 6, 1, 8, 30, tzinfo=ZoneInfo("UTC")))
    assert not steering.is_open("walk_in", "x", datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("UTC")))


def test_baseline_periods() -> None:
    week = (date(2026, 11, 23), date(2026, 11, 29))
    assert Baseline(start=date(2026, 3, 9), end=date(2026, 3, 15)).period(*week) == (date(2026, 3, 9), date(2026, 3, 15))
    assert Baseline(kind="same_period_last_year").period(*week) == (date(2025, 11, 23), date(2025, 11, 29))
    assert Baseline(kind="same_period_last_year").period(date(2028, 2, 29), date(2028, 3, 6))[0] == date(2027, 2, 28)
    assert Baseline(kind="rolling_weeks", weeks=4).period(*week) == (date(2026, 10, 26), date(2026, 11, 22))


def test_an_unknown_baseline_names_the_known_ones() -> None:
    with pytest.raises(SteeringError, match="no baseline named 'x'.*counting_week_2026"):
        load_steering(SHIPPED).baseline("x")


def test_units_are_read_with_their_channels_and_tasks_in_page_order() -> None:
    steering = load_steering(Path(__file__).resolve().parents[3] / "deploy" / "steering.yaml")
    counter = steering.units["borgerservice-skranke"]
    assert counter.channels[0] == "walk_in" and counter.tasks[:2] == ["85.06.00", "85.02.00"]


@pytest.mark.parametrize(("units", "said"), [
    ('{"Borgerservice": {label: x, channels: [phone], tasks: ["85.02.00"]}}', "unit id(s) 'Borgerservice'"),
    ('{bs: {label: x, channels: [phone], tasks: ["85.02"]}}', "'85.02' is not a KLE topic"),
    ('{bs: {label: x, channels: [phone], tasks: ["85.02.00", "85.02.00"]}}', "listed twice"),
    ('{bs: {label: x, channels: [web], tasks: ["85.02.00"]}}', "web is page views"),
    ('{bs: {label: x, channels: [fax], tasks: ["85.02.00"]}}', "units.bs.channels.0"),
    ('{bs: {label: x, channels: [], tasks: ["85.02.00"]}}', "units.bs.channels"),
    ('{bs: {label: x, channels: [phone], tasks: ["85.02.00"], colour: red}}', "colour"),
])
def test_a_unit_that_cannot_be_registered_for_is_refused_naming_it(tmp_path: Path, units: str, said: str) -> None:
    path = tmp_path / "steering.yaml"
    path.write_text(f"units: {units}\n")
    with pytest.raises(SteeringError, match=re.escape(said)):
        load_steering(path)

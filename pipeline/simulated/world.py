"""What every simulated source shares: the same fake citizens, days, demand and office hours.

Citizens carry a name, CPR number, e-mail address and mobile number; the writers put them
into the raw files on purpose and record each value, as written, through World.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pipeline.simulated.calendar import PHONE_HOUR_DEMAND, TZ, WEEKDAY_DEMAND, local_epoch, poisson_times
from pipeline.simulated.truth import ImapMailbox, PlantedData

DOMAIN = "kommune.dk"  # the municipality's own mail and web domain
CITIZEN_DOMAINS = ("example.com", "example.net", "example.org", "post.example", "mail.example")

# Demand of channels citizens use at any hour: per weekday (Monday = 0; a public holiday
# counts as a Sunday) and per local hour.
DAY_DEMAND = (1.3, 1.1, 1.0, 1.0, 0.85, 0.45, 0.55)
EMAIL_HOUR_DEMAND = (
    0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.25, 0.7, 1.3, 1.6, 1.5, 1.3,
    1.1, 1.2, 1.2, 1.1, 0.9, 0.7, 0.6, 0.65, 0.7, 0.6, 0.35, 0.15,
)
WEB_HOUR_DEMAND = (
    0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.7, 1.1, 1.4, 1.5, 1.4,
    1.3, 1.35, 1.3, 1.2, 1.0, 0.9, 0.95, 1.1, 1.15, 0.95, 0.6, 0.3,
)
OFFICE_HOURS = (time(8), time(15, 30))  # when staff answer mail and send post, on open days
CHAT_HOURS = (time(9), time(15))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # as logs write them

FIRST_NAMES = (
    "Jens", "Mette", "Søren", "Anne", "Lars", "Hanne", "Mads", "Sofie", "Peter", "Karen", "Niels", "Camilla",
    "Mikkel", "Line", "Thomas", "Maria", "Jesper", "Louise", "Henrik", "Ida", "Rasmus", "Emma", "Frederik",
    "Freja", "Kasper", "Julie", "Martin", "Cecilie", "Anders", "Lone", "Ole", "Kirsten", "Jørgen", "Inge",
    "Ahmad", "Fatima", "Piotr", "Agnieszka", "Åse", "Bjørn", "Asger", "Signe", "Zeynep", "Malthe",
)
LAST_NAMES = (
    "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
    "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Christiansen", "Poulsen", "Johansen",
    "Møller", "Mortensen", "Knudsen", "Jakobsen", "Mikkelsen", "Frederiksen", "Østergaard", "Dahl", "Lund",
    "Holm", "Khan", "Yilmaz", "Nowak", "Bech", "Winther", "Krogh",
)
_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e", "ü": "u"})
POPULATION = 3000  # citizens: with ~2,000 contacts a week, some write and chat more than once


# --------------------------------------------------------------------------- citizens and time


@dataclass(frozen=True, slots=True)
class Citizen:
    first: str
    last: str
    cpr: str  # ddmmyy-ssss
    email: str
    phone: str  # 8 digits, without +45

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _citizens(seed: int) -> list[Citizen]:
    rng = random.Random(f"{seed}:citizens")
    people = []
    for _ in range(POPULATION):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        born = date(1935, 1, 1) + timedelta(days=rng.randrange(26_000))  # up to 2006
        cpr = f"{born:%d%m%y}-{rng.randrange(1000, 10000)}"
        f, la = first.lower().translate(_ASCII), last.lower().translate(_ASCII)
        local = rng.choice((f"{f}.{la}", f"{f}{la}", f"{f}.{la}{born:%y}", f"{f[0]}{la}", f"{f}{rng.randint(1, 99)}"))
        email = f"{local}@{rng.choice(CITIZEN_DOMAINS)}"
        phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(1_000_000):06d}"
        people.append(Citizen(first, last, cpr, email, phone))
    return people


class OfficeClock:
    """Office hours of the open days, to place replies and outbound post in them."""

    def __init__(self, open_days: frozenset[date]) -> None:
        self.windows = [(local_epoch(d, OFFICE_HOURS[0]), local_epoch(d, OFFICE_HOURS[1])) for d in sorted(open_days)]
        self._ends = [end for _, end in self.windows]

    def after(self, moment: float, work_seconds: float) -> float | None:
        """The moment `work_seconds` of office time after `moment`; None past the last open day."""
        for start, end in self.windows[bisect_right(self._ends, moment) :]:
            start = max(start, moment)
            if start + work_seconds < end:
                return start + work_seconds
            work_seconds -= end - start
        return None


@dataclass
class World:
    """What every writer shares: where, which days and which citizens."""

    out_dir: Path
    seed: int
    days: list[date]
    open_days: frozenset[date]  # weekdays that are not public holidays: staff are at work
    municipality: str
    planted: PlantedData
    imap_mailboxes: list[ImapMailbox] = field(default_factory=list)
    citizens: list[Citizen] = field(init=False)
    office: OfficeClock = field(init=False)
    end: float = field(init=False)  # epoch of the midnight after the last day: nothing is written from then on

    def __post_init__(self) -> None:
        self.citizens = _citizens(self.seed)
        self.office = OfficeClock(self.open_days)
        self.end = local_epoch(self.days[-1] + timedelta(days=1), time(0))

    def rng(self, source: str) -> random.Random:
        return random.Random(f"{self.seed}:{source}")

    def day_factor(self, day: date) -> float:
        return DAY_DEMAND[day.weekday() if day in self.open_days or day.weekday() >= 5 else 6]

    def arrivals(self, rng: random.Random, per_hour: float, hour_demand: tuple[float, ...]) -> list[float]:
        """Poisson arrivals over every hour of every day at per_hour x day factor x hour factor."""
        out: list[float] = []
        for day in self.days:
            factor = self.day_factor(day)
            for hour, start, end in _day_hours(day):
                out.extend(poisson_times(rng, start, end, per_hour * factor * hour_demand[hour]))
        return out

    def open_arrivals(self, rng: random.Random, per_hour: float, hours: tuple[time, time]) -> list[float]:
        """Poisson arrivals within `hours` of open days only, shaped like phone demand."""
        out: list[float] = []
        for day in self.days:
            if day not in self.open_days:
                continue
            for hour in range(hours[0].hour, hours[1].hour):
                load = WEEKDAY_DEMAND[day.weekday()] * PHONE_HOUR_DEMAND.get(hour, 0.6)
                start = local_epoch(day, time(hour))
                out.extend(poisson_times(rng, start, start + 3600, per_hour * load))
        return out

    def citizen(self, rng: random.Random) -> Citizen:
        return rng.choice(self.citizens)

    def written_phone(self, rng: random.Random, number: str) -> str:
        """A phone number the way people write it, recorded as planted."""
        a, b, c, d = number[:2], number[2:4], number[4:6], number[6:]
        written = rng.choice((number, f"{a} {b} {c} {d}", f"+45 {number}", f"+45 {a} {b} {c} {d}", f"{a}{b} {c}{d}"))
        return self.planted.phone(written, number)

    def name(self, value: str) -> str:
        self.planted.names.add(value)
        return value

    def email(self, value: str) -> str:
        self.planted.email_addresses.add(value)
        return value

    def cpr(self, value: str) -> str:
        self.planted.cpr_numbers.add(value)
        return value

    def ip(self, value: str) -> str:
        self.planted.ip_addresses.add(value)
        return value


def _day_hours(day: date) -> list[tuple[int, int, int]]:
    """(local hour, start epoch, end epoch) of each hour of a local day; 23 or 25 hours across DST."""
    bounds = [local_epoch(day, time(h)) for h in range(24)] + [local_epoch(day + timedelta(days=1), time(0))]
    return [(h, bounds[h], bounds[h + 1]) for h in range(24) if bounds[h + 1] > bounds[h]]


def local_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, TZ)


def same_hour(a: float, b: float) -> bool:
    """Copies of one event stay in one UTC hour (hence one local day), whichever copy is read first."""
    return int(a // 3600) == int(b // 3600)


def guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Danish mobile prefixes only: numbers starting 2-5 never occur inside the 10-digit epochs
# (17xx..18xx) that fill the logs, so a privacy test can grep for them without false hits.
PHONE_PREFIXES = ("20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "40", "41", "42", "50", "51", "52", "53")

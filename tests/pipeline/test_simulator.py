"""The simulator writes believable logs and a ground truth that agrees with them.

Every check reads the written files with plain string operations, never with the
connectors, so that a bug in a connector cannot hide a bug in the simulator (or the
other way round).
"""

from __future__ import annotations

import fnmatch
import gzip
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from connectors.mapping import load_mapping
from connectors.privacy import normalise_phone_number
from pipeline.simulator import (
    DEFAULT_MAPPING_FILE,
    MALFORMED_CALLER,
    MALFORMED_CALLER_NUMBERS,
    PHONE_HOURS,
    PHONE_QUEUES,
    TICKET_HEADER,
    TICKET_OUTCOMES,
    TICKET_SERVICES,
    UNMAPPED_QUEUE,
    UNMAPPED_SERVICE,
    WALK_IN_HOURS,
    GroundTruth,
    default_start,
    simulate,
)

TZ = ZoneInfo("Europe/Copenhagen")
WEEK = date(2025, 11, 24)  # an ordinary Monday-to-Sunday week
ASCENSION_WEEK = date(2026, 5, 11)  # Kristi Himmelfartsdag is Thursday 2026-05-14
DST_END_START = date(2026, 10, 19)  # summer time ends Sunday 2026-10-25
KNOWN_VERBS = {
    "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "EXITWITHTIMEOUT",
    "EXITWITHKEY", "EXITEMPTY", "RINGNOANSWER", "BLINDTRANSFER", "ADDMEMBER", "PAUSE", "UNPAUSE",
    "QUEUESTART", "AGENTLOGIN",
}
ABANDON_VERBS = ("ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY")


# --------------------------------------------------------------------------- helpers


def raw_queue_log(out: Path) -> dict[str, list[bytes]]:
    """Lines per queue_log file (rotated gzip and live), newline-split, as bytes."""
    files = {}
    for path in sorted(out.glob("queue_log-*.gz")):
        files[path.name] = gzip.decompress(path.read_bytes()).split(b"\n")[:-1]  # ends with a newline
    files["queue_log"] = (out / "queue_log").read_bytes().split(b"\n")
    return files


def parse_line(raw: bytes) -> list[str] | None:
    """A queue_log line's fields, or None when the line is malformed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    fields = text.split("|")
    if len(fields) < 5 or not fields[0].isdigit() or fields[4] not in KNOWN_VERBS:
        return None
    return fields


def queue_events(out: Path) -> list[list[str]]:
    return [f for lines in raw_queue_log(out).values() for raw in lines if (f := parse_line(raw))]


def local(epoch: str | int) -> datetime:
    return datetime.fromtimestamp(int(epoch), TZ)


def ticket_rows(out: Path) -> dict[str, list[list[str]]]:
    """Rows (header excluded) per tickets csv, split on `;`."""
    rows = {}
    for path in sorted(out.glob("tickets-*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == TICKET_HEADER
        rows[path.name] = [line.split(";") for line in lines[1:]]
    return rows


def valid_ticket(row: list[str]) -> bool:
    if len(row) != 8 or row[7] not in TICKET_OUTCOMES:
        return False
    try:
        for value in row[3:6]:
            if value:
                datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return bool(row[3])


def valid_tickets(out: Path) -> list[list[str]]:
    return [row for rows in ticket_rows(out).values() for row in rows if valid_ticket(row)]


def all_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("week")
    return out, simulate(out, days=7, seed=1, start=WEEK)


@pytest.fixture(scope="module")
def ascension_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("ascension")
    return out, simulate(out, days=7, seed=3, start=ASCENSION_WEEK)


@pytest.fixture(scope="module")
def dst_fortnight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("dst")
    return out, simulate(out, days=14, seed=5, start=DST_END_START)


# --------------------------------------------------------------------------- determinism


def test_same_seed_writes_identical_files_and_truth(tmp_path: Path, week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    again = simulate(tmp_path, days=7, seed=1, start=WEEK)
    assert again == truth
    assert all_files(tmp_path) == all_files(out)


def test_different_seed_writes_different_logs(tmp_path: Path, week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    other = simulate(tmp_path, days=7, seed=2, start=WEEK)
    assert (tmp_path / "queue_log").read_bytes() != (out / "queue_log").read_bytes()
    assert (tmp_path / "tickets-2025-11-24.csv").read_bytes() != (out / "tickets-2025-11-24.csv").read_bytes()
    assert other.totals != truth.totals


def test_ground_truth_file_equals_returned_truth(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    assert GroundTruth.load(out / "ground_truth.json") == truth
    assert truth.timezone == "Europe/Copenhagen" and truth.service_level_seconds == 20
    assert truth.start == WEEK and truth.days == 7 and truth.seed == 1 and truth.municipality == "751"


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 11, 26), date(2025, 11, 17)),  # Wednesday
        (date(2025, 11, 24), date(2025, 11, 17)),  # Monday
        (date(2025, 11, 30), date(2025, 11, 17)),  # Sunday
        (date(2026, 1, 2), date(2025, 12, 22)),  # across the new year
    ],
)
def test_default_start_is_monday_of_previous_week(today: date, expected: date) -> None:
    assert default_start(today) == expected


# --------------------------------------------------------------------------- files and calendar


def test_queue_log_is_rotated_before_the_last_open_day(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    files = raw_queue_log(out)
    assert set(files) == {"queue_log-20251124.gz", "queue_log"}
    rotated_days = {local(f[0]).date() for raw in files["queue_log-20251124.gz"] if (f := parse_line(raw))}
    live_days = {local(f[0]).date() for raw in files["queue_log"] if (f := parse_line(raw))}
    assert rotated_days == {date(2025, 11, 24), date(2025, 11, 25), date(2025, 11, 26), date(2025, 11, 27)}
    assert live_days == {date(2025, 11, 28)}  # Friday: the weekend after it is closed
    assert sorted(truth.files) == sorted([*files, *(p.name for p in out.glob("tickets-*.csv"))])


def test_single_day_writes_only_the_plain_queue_log(tmp_path: Path) -> None:
    truth = simulate(tmp_path, days=1, seed=1, start=WEEK)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"queue_log", "tickets-2025-11-24.csv", "ground_truth.json"}
    assert truth.totals["phone"].arrived > 1000


def test_weekend_is_closed_for_both_channels(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    days = {local(f[0]).date() for f in queue_events(out)}
    assert date(2025, 11, 29) not in days and date(2025, 11, 30) not in days
    assert not (out / "tickets-2025-11-29.csv").exists() and not (out / "tickets-2025-11-30.csv").exists()
    assert {row.day.weekday() for row in truth.inquiries} == {0, 1, 2, 3, 4}


def test_public_holiday_on_a_weekday_is_closed_for_both_channels(ascension_week: tuple[Path, GroundTruth]) -> None:
    out, truth = ascension_week
    holiday = date(2026, 5, 14)
    assert holiday in holidays.Denmark(years=2026)
    assert holiday not in {local(f[0]).date() for f in queue_events(out)}
    assert not (out / "tickets-2026-05-14.csv").exists()
    assert holiday not in {row.day for row in truth.inquiries}
    assert holiday not in truth.phone.by_day
    # The other weekdays of that week are open as usual.
    assert {row.day for row in truth.inquiries} == {date(2026, 5, d) for d in (11, 12, 13, 15)}


def test_inquiries_arrive_only_within_opening_hours(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    enter_days: dict[str, date] = {}
    for fields in queue_events(out):
        at = local(fields[0])
        opens, closes = PHONE_HOURS[at.weekday()]
        assert at.time() >= opens, fields  # nothing, not even housekeeping, before opening
        if fields[4] == "ENTERQUEUE":
            assert at.time() < closes, fields
            enter_days[fields[1]] = at.date()
        elif fields[1] != "NONE":
            assert at.date() == enter_days[fields[1]], f"call {fields[1]} did not finish on its day"
    for row in valid_tickets(out):
        issued = datetime.strptime(row[3], "%Y-%m-%d %H:%M:%S")
        opens, closes = WALK_IN_HOURS[issued.weekday()]
        assert opens <= issued.time() < closes, row
        for value in row[4:6]:
            assert not value or value[:10] == row[3][:10], row


def test_queue_log_lines_are_in_time_order(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    for name, lines in raw_queue_log(out).items():
        epochs = [int(f[0]) for raw in lines if (f := parse_line(raw))]
        assert epochs == sorted(epochs), name
    for name, rows in ticket_rows(out).items():
        issued = [row[3] for row in rows if valid_ticket(row)]
        assert issued == sorted(issued), name


def test_call_ids_are_unique_per_call(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    enters = [f[1] for f in queue_events(out) if f[4] == "ENTERQUEUE"]
    assert len(enters) == len(set(enters))
    assert all(callid.split(".")[0].isdigit() and callid.split(".")[1].isdigit() for callid in enters)


def test_dst_change_keeps_local_opening_hours(dst_fortnight: tuple[Path, GroundTruth]) -> None:
    out, truth = dst_fortnight
    events = queue_events(out)
    starts = {datetime.fromtimestamp(int(f[0]), timezone.utc) for f in events if f[4] == "QUEUESTART"}
    # 09:00 local is 07:00 UTC in summer time (CEST) and 08:00 UTC in winter time (CET).
    assert datetime(2026, 10, 19, 7, tzinfo=timezone.utc) in starts
    assert datetime(2026, 10, 26, 8, tzinfo=timezone.utc) in starts
    first_call: dict[date, int] = {}
    for f in events:
        if f[4] == "ENTERQUEUE":
            day = local(f[0]).date()
            first_call[day] = min(first_call.get(day, int(f[0])), int(f[0]))
    assert len(first_call) == 10
    for day, epoch in first_call.items():
        utc_hour = datetime.fromtimestamp(epoch, timezone.utc).hour
        assert utc_hour == (7 if day < date(2026, 10, 25) else 8), day
        assert local(epoch).hour == 9
    # Walk-ins are written in local time: the first ticket of each day is issued after 10:00.
    for rows in ticket_rows(out).values():
        assert min(row[3] for row in rows if valid_ticket(row))[11:13] == "10"
    assert truth.spike is not None and truth.spike.local_start.hour == 11


# --------------------------------------------------------------------------- ground truth vs files


def test_phone_truth_matches_queue_log_lines(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    verbs = Counter(f[4] for f in queue_events(out))
    phone_inquiries = sum(row.count for row in truth.inquiries if row.channel == "phone")
    assert verbs["ENTERQUEUE"] == phone_inquiries == truth.totals["phone"].arrived == truth.phone.overall.offered
    assert verbs["CONNECT"] == truth.totals["phone"].answered == truth.phone.overall.answered
    closed = verbs["COMPLETECALLER"] + verbs["COMPLETEAGENT"] + verbs["BLINDTRANSFER"]
    assert closed == truth.totals["phone"].closed
    abandoned = sum(verbs[v] for v in ABANDON_VERBS)
    assert abandoned == truth.totals["phone"].abandoned == truth.phone.overall.abandoned
    assert verbs["BLINDTRANSFER"] == truth.phone.overall.transferred > 0
    assert verbs["ENTERQUEUE"] == verbs["CONNECT"] + abandoned  # every call ends one way or the other
    assert verbs["RINGNOANSWER"] and verbs["PAUSE"] == verbs["UNPAUSE"] > 0 and verbs["AGENTLOGIN"]
    assert verbs["ADDMEMBER"] and verbs["QUEUESTART"] == 5


def test_phone_kpis_match_what_the_lines_say(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    events = queue_events(out)
    holds = [int(f[5]) for f in events if f[4] == "CONNECT"]
    abandoned = sum(1 for f in events if f[4] in ABANDON_VERBS)
    calltimes = [int(f[6]) for f in events if f[4] in ("COMPLETECALLER", "COMPLETEAGENT")]
    calltimes += [int(f[8]) for f in events if f[4] == "BLINDTRANSFER"]
    overall = truth.phone.overall
    assert overall.service_level == pytest.approx(sum(h <= 20 for h in holds) / (len(holds) + abandoned))
    assert overall.abandonment_rate == pytest.approx(abandoned / (len(holds) + abandoned))
    assert overall.average_speed_of_answer == pytest.approx(sum(holds) / len(holds))
    assert overall.average_handle_time == pytest.approx(sum(calltimes) / len(calltimes))
    per_day = Counter(local(f[0]).date() for f in events if f[4] == "ENTERQUEUE")
    assert {d: s.offered for d, s in truth.phone.by_day.items()} == dict(per_day)


def test_phone_queue_looks_like_a_real_one(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    events = queue_events(out)
    holds = [int(f[5]) for f in events if f[4] == "CONNECT"]
    calltimes = [int(f[6]) for f in events if f[4] in ("COMPLETECALLER", "COMPLETEAGENT")]
    assert 5_000 <= truth.phone.overall.offered <= 15_000
    assert 0.06 <= truth.phone.overall.abandonment_rate <= 0.15
    assert sum(h < 60 for h in holds) / len(holds) > 0.7  # most answered within a minute
    assert max(holds) > 180  # and some wait several minutes
    assert min(calltimes) >= 60 and max(calltimes) <= 900
    by_day = truth.phone.by_day
    assert by_day[date(2025, 11, 24)].offered == max(s.offered for s in by_day.values())  # Monday busiest
    morning = sum(1 for f in events if f[4] == "ENTERQUEUE" and local(f[0]).hour == 10)
    afternoon = sum(1 for f in events if f[4] == "ENTERQUEUE" and local(f[0]).hour == 14)
    assert morning > 1.4 * afternoon


def test_walk_in_truth_matches_ticket_rows(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    rows = valid_tickets(out)
    outcomes = Counter(row[7] for row in rows)
    walk_in_inquiries = sum(row.count for row in truth.inquiries if row.channel == "walk_in")
    assert len(rows) == walk_in_inquiries == truth.totals["walk_in"].arrived
    assert outcomes["served"] + outcomes["transferred"] == truth.totals["walk_in"].answered == truth.totals["walk_in"].closed
    assert outcomes["no_show"] + outcomes["removed"] == truth.totals["walk_in"].abandoned
    assert 2_000 <= len(rows) <= 6_000
    assert 0.03 <= outcomes["no_show"] / len(rows) <= 0.10
    assert 0.01 <= outcomes["removed"] / len(rows) <= 0.04
    assert 0.015 <= outcomes["transferred"] / len(rows) <= 0.05

    by_key: dict[tuple[date, str], list[list[str]]] = defaultdict(list)
    for row in rows:
        by_key[(date.fromisoformat(row[3][:10]), row[2])].append(row)
    assert {(s.day, s.site) for s in truth.walk_in} == set(by_key)
    for stats in truth.walk_in:
        site_rows = by_key[(stats.day, stats.site)]
        assert stats.tickets == len(site_rows)
        assert stats.no_shows == sum(r[7] == "no_show" for r in site_rows)
        waits = [
            (datetime.fromisoformat(r[4]) - datetime.fromisoformat(r[3])).total_seconds() for r in site_rows if r[4]
        ]
        assert stats.average_wait_seconds == pytest.approx(sum(waits) / len(waits))


def test_ticket_rows_follow_the_outcome_rules(week: tuple[Path, GroundTruth]) -> None:
    out, _ = week
    seen: set[tuple[str, str, str]] = set()
    for row in valid_tickets(out):
        ticket, _, site, issued, called, finished, counter, outcome = row
        assert (ticket[0].isalpha() and ticket[1:].isdigit() and len(ticket) == 4), ticket
        assert (issued[:10], site, ticket) not in seen  # unique per site and day
        seen.add((issued[:10], site, ticket))
        if outcome == "removed":
            assert called == finished == counter == ""
        elif outcome == "no_show":
            assert called and not finished and counter
        else:
            assert issued <= called <= finished and counter
    assert {row[2] for row in valid_tickets(out)} == {"Rådhuset", "Borgerservice Syd", "Hovedbiblioteket"}


def test_sources_map_to_tasks_except_one_unmapped_of_each(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    mapping = load_mapping(DEFAULT_MAPPING_FILE)
    for rule_set, names, unmapped in (
        ("phone_queue", PHONE_QUEUES, UNMAPPED_QUEUE),
        ("ticket_service", TICKET_SERVICES, UNMAPPED_SERVICE),
    ):
        for name in names:
            hits = [r for r in mapping.sources[rule_set] if fnmatch.fnmatchcase(name.lower(), r.match.lower())]
            assert len(hits) == (0 if name == unmapped else 1), (rule_set, name)
    assert {f[2] for f in queue_events(out) if f[4] == "ENTERQUEUE"} == set(PHONE_QUEUES)
    assert {row[1] for row in valid_tickets(out)} == set(TICKET_SERVICES)
    unclassified = {row.channel for row in truth.inquiries if row.task == "unclassified"}
    assert unclassified == {"phone", "walk_in"}
    assert all(row.department == "" for row in truth.inquiries if row.task == "unclassified")
    assert {row.task for row in truth.inquiries} - {"unclassified"} <= set(mapping.tasks)
    assert all(row.site == "" for row in truth.inquiries if row.channel == "phone")
    # The pas queue's calls are counted under its task, per day.
    pas_task = mapping.classify("phone_queue", "pas").task
    pas_calls = Counter(local(f[0]).date() for f in queue_events(out) if f[4] == "ENTERQUEUE" and f[2] == "pas")
    counted = {row.day: row.count for row in truth.inquiries if row.channel == "phone" and row.task == pas_task}
    assert counted == dict(pas_calls)


def test_caller_ids_mix_formats_and_repeat_callers(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    callers = [f[6] for f in queue_events(out) if f[4] == "ENTERQUEUE"]
    n = len(callers)
    anonymous = sum(c == "" for c in callers)
    channels = sum(c.startswith("Local/") for c in callers)
    plus45 = sum(c.startswith("+45") for c in callers)
    numbers = [c for c in callers if c and not c.startswith("Local/")]
    assert 0.03 <= anonymous / n <= 0.07 and 0.01 <= channels / n <= 0.03
    assert 0.25 <= plus45 / len(numbers) <= 0.35
    assert all(len(normalise_phone_number(c)) == 8 for c in numbers)
    seen: set[str] = set()
    repeats = 0
    for c in numbers:
        key = normalise_phone_number(c)
        repeats += key in seen
        seen.add(key)
    assert 0.10 <= repeats / n <= 0.20
    listed = set(truth.personal_data.phone_numbers) - set(MALFORMED_CALLER_NUMBERS)
    assert set(numbers) | {normalise_phone_number(c) for c in numbers} == listed
    assert truth.personal_data.phone_numbers == sorted(set(truth.personal_data.phone_numbers))


# --------------------------------------------------------------------------- spike and malformed input


def test_spike_hour_has_at_least_three_times_the_usual_arrivals(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    spike = truth.spike
    assert spike is not None
    assert spike.site == "Rådhuset" and spike.day == date(2025, 11, 26)  # the middle of five open days
    assert spike.local_start == datetime(2025, 11, 26, 11, tzinfo=TZ)
    assert spike.local_end == datetime(2025, 11, 26, 12, tzinfo=TZ)
    per_day = Counter(
        row[3][:10] for row in valid_tickets(out) if row[2] == "Rådhuset" and row[3][11:13] == "11"
    )
    in_spike = per_day.pop(spike.day.isoformat())
    assert in_spike == spike.arrivals
    assert in_spike >= 3 * max(per_day.values())


def test_malformed_lines_are_where_the_truth_says(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    files = raw_queue_log(out)
    bad = [raw for raw in files["queue_log"] if parse_line(raw) is None]
    assert len(bad) == truth.malformed["queue_log"] == 6
    assert not (out / "queue_log").read_bytes().endswith(b"\n")  # truncated last line
    assert b"" in bad and any(b"FROBNICATE" in raw for raw in bad)
    assert all(parse_line(raw) for raw in files["queue_log-20251124.gz"])
    # Only the bad-timestamp ENTERQUEUE carries a caller (for the dead-letter privacy check),
    # and it is listed as personal data; no other malformed line carries a number.
    with_caller = [raw for raw in bad if MALFORMED_CALLER.encode() in raw]
    assert len(with_caller) == 1 and b"ENTERQUEUE" in with_caller[0]
    assert set(MALFORMED_CALLER_NUMBERS) <= set(truth.personal_data.phone_numbers)
    for raw in bad:
        if raw in with_caller:
            continue
        text = raw.decode("utf-8", "replace")
        assert not any(number in text for number in truth.personal_data.phone_numbers), text

    bad_rows = [row for rows in ticket_rows(out).values() for row in rows if not valid_ticket(row)]
    assert len(bad_rows) == truth.malformed["tickets"] == 3
    assert {row[-1] for row in bad_rows if len(row) == 8} >= {"lost"}
    per_file = {name: sum(not valid_ticket(r) for r in rows) for name, rows in ticket_rows(out).items()}
    assert per_file["tickets-2025-11-28.csv"] == 3 and sum(per_file.values()) == 3


def test_no_open_day_still_writes_a_consistent_truth(tmp_path: Path) -> None:
    truth = simulate(tmp_path, days=2, seed=1, start=date(2025, 11, 29))  # a weekend
    assert truth.inquiries == [] and truth.spike is None and truth.phone.by_day == {}
    assert truth.totals["phone"].arrived == 0 and truth.malformed == {"queue_log": 6, "tickets": 0}
    assert [p for p in tmp_path.glob("tickets-*.csv")] == []

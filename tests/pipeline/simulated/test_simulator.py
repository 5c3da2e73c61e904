"""The simulator writes believable logs and a ground truth that agrees with them.

The phone and walk-in checks read the written files with plain string operations, never
with the connectors, so that a bug in a connector cannot hide a bug in the simulator (or
the other way round). The last section then runs every connector over every source's files,
configured from the connectors.yaml the simulator wrote, and compares what they emit with
ground truth: the contract the pipeline tests rely on. The other sources' formats are
checked by plain reading in test_simulated.py.
"""

from __future__ import annotations

import fnmatch
import gzip
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from connectors.http_ingest import parse_events
from connectors.mapping import load_mapping
from pipeline.demo.end_to_end import true_inquiries
from pipeline.ground.privacy import normalise_phone_number
from pipeline.ground.settings import Settings
from pipeline.ingest import expand_paths, load_run_file, run_ingest
from pipeline.simulated.calendar import PHONE_HOURS, WALK_IN_HOURS, default_start
from pipeline.simulated.municipality import DEFAULT_MAPPING_FILE, RUN_FILE, connector_configs, simulate
from pipeline.simulated.phone import MALFORMED_CALLER, MALFORMED_CALLER_NUMBERS, PHONE_QUEUES, UNMAPPED_QUEUE
from pipeline.simulated.truth import (
    REGISTRATIONS,
    SOURCES,
    GroundTruth,
    expected_by_channel,
    expected_event_count,
    expected_first_contact,
    expected_inquiries,
)
from pipeline.simulated.walkins import TICKET_HEADER, TICKET_OUTCOMES, TICKET_SERVICES, UNMAPPED_SERVICE
from tests.pipeline.simulated.simulated_files import (
    FILE_SOURCES,
    QUEUE_SUMS,
    context,
    event_key,
    hourly,
    keyed_groups,
    queue_sums,
    read_file_source,
    read_imap,
    registrations,
    truth_counts,
    truth_hourly,
    truth_keyed_groups,
    truth_queue_sums,
    truth_registrations,
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
    """Every file under `out` by relative path; connectors.yaml names `out` itself, so that is masked."""
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    files[RUN_FILE] = files[RUN_FILE].replace(str(out.resolve()).encode(), b"<out>")
    return files


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
    assert truth.sources["queue_log"].files == ["queue_log-20251124.gz", "queue_log"]  # the order to read them in
    assert truth.sources["tickets"].files == sorted(p.name for p in out.glob("tickets-*.csv"))
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "ground_truth.json")
    assert sorted(truth.files) == written


def test_single_day_writes_only_the_plain_queue_log(tmp_path: Path) -> None:
    truth = simulate(tmp_path, days=1, seed=1, start=WEEK)
    names = {p.name for p in tmp_path.iterdir() if p.is_file()}
    assert {n for n in names if n.startswith(("queue_log", "tickets"))} == {"queue_log", "tickets-2025-11-24.csv"}
    assert {"ground_truth.json", RUN_FILE} <= names
    assert truth.totals["phone"].arrived > 1000


def test_a_shorter_run_into_the_same_directory_leaves_no_stale_files(tmp_path: Path) -> None:
    simulate(tmp_path, days=7, seed=1, start=WEEK)
    truth = simulate(tmp_path, days=1, seed=1, start=WEEK)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted([*truth.files, "ground_truth.json"])


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
    starts = {datetime.fromtimestamp(int(f[0]), UTC) for f in events if f[4] == "QUEUESTART"}
    # 09:00 local is 07:00 UTC in summer time (CEST) and 08:00 UTC in winter time (CET).
    assert datetime(2026, 10, 19, 7, tzinfo=UTC) in starts
    assert datetime(2026, 10, 26, 8, tzinfo=UTC) in starts
    first_call: dict[date, int] = {}
    for f in events:
        if f[4] == "ENTERQUEUE":
            day = local(f[0]).date()
            first_call[day] = min(first_call.get(day, int(f[0])), int(f[0]))
    assert len(first_call) == 10
    for day, epoch in first_call.items():
        utc_hour = datetime.fromtimestamp(epoch, UTC).hour
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
        served = [(datetime.fromisoformat(r[4]) - datetime.fromisoformat(r[3])).total_seconds()
                  for r in site_rows if r[7] in ("served", "transferred")]
        assert stats.answered_average_wait_seconds == pytest.approx(sum(served) / len(served))


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
    assert 0.02 <= anonymous / n <= 0.07 and 0.005 <= channels / n <= 0.03  # fewer among calls back
    assert 0.25 <= plus45 / len(numbers) <= 0.35
    assert all(len(normalise_phone_number(c)) == 8 for c in numbers)
    seen: set[str] = set()
    repeats = 0
    for c in numbers:
        key = normalise_phone_number(c)
        repeats += key in seen
        seen.add(key)
    assert 0.15 <= repeats / n <= 0.35  # about another matter, or calling back about the same
    listed = set(truth.personal_data.phone_numbers)
    assert set(numbers) | {normalise_phone_number(c) for c in numbers} | set(MALFORMED_CALLER_NUMBERS) <= listed
    assert truth.personal_data.phone_numbers == sorted(set(truth.personal_data.phone_numbers))


def test_first_contact_resolution_lands_where_glostrup_measured_it(tmp_path: Path) -> None:
    """Callers whose matter is not settled call the same queue again within days, so that what is
    inferred from the logs is what the seeds report: 79 % in Borgerservice, 58 % overall. Measured
    on the middle of three weeks: the calls back of the last days fall after the run."""
    truth = simulate(tmp_path, days=21, seed=7, start=WEEK)
    middle_week = (WEEK + timedelta(days=7), WEEK + timedelta(days=13))
    counts = expected_first_contact(truth, *middle_week)

    def rate(scope: tuple[str, str]) -> float:
        c = counts[scope]
        return (c["registered_resolved"] + c["inferred_resolved"]) / (c["registered"] + c["inferred"])

    assert 0.74 <= rate(("*", "Borgerservice")) <= 0.84
    assert 0.54 <= rate(("*", "*")) <= 0.63
    assert rate(("*", "Jobcenter")) < rate(("*", "Borgerservice"))
    phone = counts[("phone", "*")]
    assert phone["inferred"] > 0.7 * phone["served"] and phone["unknown"] < 0.1 * phone["served"]


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
    def malformed(raw: bytes) -> bool:  # a blank line and an unknown event are skipped, not rejected
        return bool(raw.strip()) and b"|FROBNICATE|" not in raw and parse_line(raw) is None

    bad = [raw for raw in files["queue_log"] if malformed(raw)]
    assert len(bad) == truth.malformed["queue_log"] == 4
    bad_at = [f"queue_log:{n}" for n, raw in enumerate(files["queue_log"], start=1) if malformed(raw)]
    assert truth.sources["queue_log"].rejected_at == bad_at
    assert not (out / "queue_log").read_bytes().endswith(b"\n")  # truncated last line
    assert b"" in files["queue_log"] and any(b"FROBNICATE" in raw for raw in files["queue_log"])
    assert truth.sources["queue_log"].skipped["blank line"] == 1
    assert truth.sources["queue_log"].skipped["unknown event FROBNICATE"] == 1
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
    bad_rows_at = [f"{name}:{n}" for name, rows in ticket_rows(out).items()
                   for n, row in enumerate(rows, start=2) if not valid_ticket(row)]
    assert truth.sources["tickets"].rejected_at == bad_rows_at


def test_no_open_day_still_writes_a_consistent_truth(tmp_path: Path) -> None:
    truth = simulate(tmp_path, days=2, seed=1, start=date(2025, 11, 29))  # a weekend
    assert truth.inquiries == [] and truth.spike is None and truth.phone.by_day == {}
    assert truth.totals["phone"].arrived == 0
    assert truth.malformed["queue_log"] == 4 and truth.malformed["tickets"] == 0
    assert [p for p in tmp_path.glob("tickets-*.csv")] == []
    # Citizens write and browse at the weekend; nobody answers, chats, or scans the post.
    by_channel = expected_by_channel(truth)
    assert by_channel[("email", "inbound")] > 0 and by_channel[("web", "inbound")] > 0
    assert ("email", "outbound") not in by_channel and ("letter", "inbound") not in by_channel
    assert truth.sources["channel_jsonl"].events == 0


# --------------------------------------------------------------------------- what the connectors make of every source


@pytest.fixture(scope="module")
def week_read(week: tuple[Path, GroundTruth]) -> dict[str, object]:
    """Every source of the week read back: file connectors through their parsers, IMAP by its rules, HTTP by the endpoint's."""
    out, truth = week
    read: dict[str, object] = {source: read_file_source(out, source) for source in FILE_SOURCES}
    read["imap"] = read_imap(out, truth)
    events, errors = parse_events((out / "http_events.ndjson").read_bytes())
    assert errors == []
    read["http"] = events
    return read


@pytest.mark.parametrize("source", FILE_SOURCES)
def test_each_file_connector_emits_exactly_what_ground_truth_says(
    source: str, week: tuple[Path, GroundTruth], week_read: dict[str, object]
) -> None:
    _, truth = week
    read = week_read[source]
    expected = truth.sources[source]
    assert read.counts() == truth_counts(truth, source)  # per day, channel, direction, stage, task, department, site
    assert len(read.events) == expected.events > 0
    assert read.emitted - len(read.events) == expected.duplicates
    assert read.rejected_at == expected.rejected_at and len(read.rejected_at) == expected.rejected > 0
    assert dict(read.skipped) == expected.skipped
    assert read.records == expected.records
    assert {e.source.system for e in read.events.values()} == set(expected.systems)


def test_every_source_has_events_skips_and_rejections_of_its_own(week: tuple[Path, GroundTruth]) -> None:
    _, truth = week
    assert list(truth.sources) == list(SOURCES)
    assert all(truth.sources[s].events > 0 and truth.sources[s].rejected > 0 for s in SOURCES)
    assert truth.malformed == {s: truth.sources[s].rejected for s in SOURCES}
    for source in SOURCES:
        assert truth.sources[source].events == sum(r.count for r in truth.events if r.source == source)
    # Copies that collapse into one event: a message logged by two servers, delivered twice, filed twice.
    assert truth.sources["exchange"].duplicates > 0 and truth.sources["imap"].duplicates >= 2
    assert {"null sender (bounce or delivery report)", "not to a shared mailbox", "header"} <= set(
        truth.sources["exchange"].skipped)
    assert {"bot", "static asset", "health check", "status 4xx/5xx", "redirect", "not a form or task page"} <= set(
        truth.sources["web_combined"].skipped)
    assert "method" in truth.sources["web_json"].skipped
    channels = {(r.channel, r.direction) for r in truth.events}
    assert channels == {
        ("phone", "inbound"), ("walk_in", "inbound"), ("email", "inbound"), ("email", "outbound"),
        ("web", "inbound"), ("self_service", "inbound"), ("letter", "inbound"), ("letter", "outbound"),
        ("digital_post", "inbound"), ("digital_post", "outbound"), ("chat", "inbound"),
    }


def test_imap_messages_count_as_ground_truth_says(week: tuple[Path, GroundTruth], week_read: dict[str, object]) -> None:
    _, truth = week
    read = week_read["imap"]
    expected = truth.sources["imap"]
    assert read.counts() == truth_counts(truth, "imap")
    assert len(read.keys) == expected.events and read.emitted - len(read.keys) == expected.duplicates
    assert read.rejected_at == expected.rejected_at and dict(read.skipped) == expected.skipped


@pytest.fixture(scope="module")
def week_imap(week: tuple[Path, GroundTruth]) -> tuple[dict[str, object], int, list[str], Counter[str]]:
    """The IMAP connector's parser over each folder's messages, as a poll fetches their headers:
    (events by id, emitted, rejected files, skips)."""
    imap = pytest.importorskip("connectors.imap_mailbox")
    out, truth = week
    mailboxes = [{"address": m.address, "folders": ["INBOX"], "sent_folder": "Sent"} for m in truth.imap_mailboxes]
    config = imap.ImapMailboxConfig(username="kanalpuls", mailboxes=mailboxes)
    parser = imap.ImapHeaderParser(config, context())
    events: dict[str, object] = {}
    emitted, rejected, skipped = 0, [], Counter()
    for mailbox in truth.imap_mailboxes:
        for folder in ("INBOX", "Sent"):
            for uid, path in enumerate(sorted((out / "imap" / mailbox.address / folder).glob("*.eml")), start=1):
                header = path.read_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"  # what BODY.PEEK[HEADER...] gives
                ref = imap.MessageRef(mailbox.address, folder, 1, uid, sent=folder == "Sent")
                try:
                    result = parser.parse_message(header, ref)
                except imap.RecordRejected:
                    rejected.append(str(path.relative_to(out)))
                    continue
                if isinstance(result, imap.Skip):
                    skipped[result.reason] += 1
                    continue
                emitted += len(result)
                events.update((e.event_id, e) for e in result if e.event_id not in events)
    return events, emitted, rejected, skipped


def test_imap_connector_reads_the_messages_as_ground_truth_says(
    week: tuple[Path, GroundTruth], week_imap: tuple[dict[str, object], int, list[str], Counter[str]]
) -> None:
    _, truth = week
    events, emitted, rejected, skipped = week_imap
    assert Counter(event_key(e) for e in events.values()) == truth_counts(truth, "imap")
    assert emitted - len(events) == truth.sources["imap"].duplicates
    assert rejected == truth.sources["imap"].rejected_at and dict(skipped) == truth.sources["imap"].skipped


def test_http_events_are_valid_and_each_invalid_line_is_refused(
    week: tuple[Path, GroundTruth], week_read: dict[str, object]
) -> None:
    out, truth = week
    events = week_read["http"]
    assert Counter(event_key(e) for e in events) == truth_counts(truth, "http")
    assert len({e.event_id for e in events}) == len(events) == truth.sources["http"].events
    assert {e.source.system for e in events} == set(truth.sources["http"].systems)
    assert all(e.contact_key is None or len(e.contact_key) == 64 for e in events)
    lines = (out / "http_events_invalid.ndjson").read_bytes().splitlines()
    assert len(lines) == truth.sources["http"].rejected == 7
    for line in lines:  # posted one by one: each answered 422 on its own
        accepted, errors = parse_events(line)
        assert accepted == [] and len(errors) == 1, line
    accepted, errors = parse_events(b"\n".join(lines))
    assert accepted == [] and [e["line"] for e in errors] == list(range(1, 8))


def test_expected_by_channel_is_what_every_source_together_stores(
    week: tuple[Path, GroundTruth], week_read: dict[str, object]
) -> None:
    _, truth = week
    stored: Counter[tuple[str, str]] = Counter()
    for source in FILE_SOURCES:
        for event in week_read[source].events.values():
            stored[(event.channel.value, event.direction.value)] += 1
    for day, channel, direction, *_ in week_read["imap"].keys.values():
        stored[(channel, direction)] += 1
    for event in week_read["http"]:
        stored[(event.channel.value, event.direction.value)] += 1
    assert expected_by_channel(truth) == dict(stored)
    assert expected_event_count(truth) == sum(stored.values())
    phone_and_tickets = expected_by_channel(truth, ["queue_log", "tickets"])
    assert phone_and_tickets == {("phone", "inbound"): sum(truth.totals["phone"].model_dump().values()),
                                 ("walk_in", "inbound"): sum(truth.totals["walk_in"].model_dump().values())}
    with pytest.raises(ValueError, match="unknown sources"):
        expected_by_channel(truth, ["fax"])


def test_expected_inquiries_of_phone_and_tickets_are_the_demos_ground_truth(week: tuple[Path, GroundTruth]) -> None:
    _, truth = week
    assert expected_inquiries(truth, ["queue_log", "tickets"]) == true_inquiries(truth)
    everything = expected_inquiries(truth)
    assert {key[1] for key in everything} == {
        "phone", "walk_in", "email", "web", "self_service", "letter", "digital_post", "chat"}
    assert sum(everything.values()) > sum(true_inquiries(truth).values())


def emitted(week_read: dict[str, object], week_imap: tuple[dict[str, object], ...]) -> dict[str, list[object]]:
    """Every source's distinct events, as its connector (or the HTTP endpoint) makes them."""
    out: dict[str, list[object]] = {source: list(week_read[source].events.values()) for source in FILE_SOURCES}
    return out | {"imap": list(week_imap[0].values()), "http": list(week_read["http"])}


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_registers_what_ground_truth_says(
    source: str, week: tuple[Path, GroundTruth], week_read: dict[str, object], week_imap: tuple[dict[str, object], ...]
) -> None:
    """What the KPI views read besides counts: flags and contact keys per event, arrivals per local hour,
    and each phone queue's and walk-in site's sums per day (stages at their own times)."""
    _, truth = week
    events = emitted(week_read, week_imap)[source]
    assert registrations(events) == truth_registrations(truth, source)
    assert hourly(events) == truth_hourly(truth, source)
    assert queue_sums(events, truth.service_level_seconds) == truth_queue_sums(truth, source)


def test_sources_register_resolution_web_first_and_requesters_where_real_ones_do(week: tuple[Path, GroundTruth]) -> None:
    _, truth = week
    kept: defaultdict[str, set[str]] = defaultdict(set)
    for r in truth.events:
        kept[r.source] |= {name for name in REGISTRATIONS if getattr(r, name)}
    assert kept["queue_log"] == {"resolved_false", "with_contact_key"}  # transfers; callers with a number
    assert kept["tickets"] == {"resolved_false"}  # transfers; a ticket has no requester
    assert kept["web_combined"] == kept["web_json"] == set()
    assert kept["exchange"] == kept["imap"] == {"with_contact_key"}
    assert kept["channel_csv"] == kept["channel_jsonl"] == kept["http"] == set(REGISTRATIONS)
    # Web first on the phone and at a counter: only the contact centre asks, and only on arrival.
    asked = {(r.source, r.channel, r.stage) for r in truth.events if r.web_first_true or r.web_first_false}
    assert {(c, s) for source, c, s in asked if c in ("phone", "walk_in")} == {("phone", "arrived"), ("walk_in", "arrived")}
    assert {source for source, c, _ in asked if c in ("phone", "walk_in")} == {"http"}


def test_repeat_candidates_are_told_apart_as_contact_keys_are(
    week: tuple[Path, GroundTruth], week_read: dict[str, object], week_imap: tuple[dict[str, object], ...]
) -> None:
    """Requester ids group the keyed inquiries exactly as the connectors' contact keys do (one secret for
    every source): same number, address or CPR, same key; a CPR keyed with and without its dash, or a
    number and an address of one citizen, never."""
    _, truth = week
    events = [(source, e) for source, found in emitted(week_read, week_imap).items() for e in found]
    groups = keyed_groups(events)
    assert groups == truth_keyed_groups(truth, SOURCES)
    assert len(groups) > 100 and {channel for _, arrivals in groups for _, _, channel in arrivals} >= {
        "phone", "walk_in", "email", "chat"}
    assert all(re.fullmatch(r"r[0-9]+", a.requester) for a in truth.repeat_candidates)
    assert [a.at for a in truth.repeat_candidates] == sorted(a.at for a in truth.repeat_candidates)


def test_contact_keys_split_inquiries_into_the_worlds_requesters(
    week: tuple[Path, GroundTruth], week_read: dict[str, object], week_imap: tuple[dict[str, object], ...]
) -> None:
    """The world decides who each keyed inquiry is from while writing it (the number called from, the
    address written from, the CPR number), and the contact keys kanalpuls makes of the files must split
    the inquiries the same way, across tasks too: same requester if and only if same key. Compared as
    partitions of the repeated inquiries (ground truth's repeat candidates), since ids and keys differ."""
    _, truth = week
    by_requester: defaultdict[str, list[tuple[str, datetime, str, str]]] = defaultdict(list)
    for a in truth.repeat_candidates:
        by_requester[a.requester].append((a.source, a.at, a.channel, a.task))
    keyed = [(source, e) for source, found in emitted(week_read, week_imap).items() for e in found
             if e.stage.value == "arrived" and e.direction.value == "inbound" and e.channel.value != "web"
             and e.contact_key]
    per_task = Counter((e.contact_key, e.task) for _, e in keyed)
    by_key: defaultdict[str, list[tuple[str, datetime, str, str]]] = defaultdict(list)
    for source, e in keyed:
        if per_task[(e.contact_key, e.task)] > 1:
            by_key[e.contact_key].append((source, e.occurred_at, e.channel.value, e.task))

    def partition(groups: dict[str, list[tuple[str, datetime, str, str]]]) -> list[tuple[tuple[str, datetime, str, str], ...]]:
        return sorted(tuple(sorted(group)) for group in groups.values())

    assert partition(by_key) == partition(by_requester)
    across_tasks = [g for g in by_requester.values() if len({task for *_, task in g}) > 1]
    across_sources = [g for g in by_requester.values() if len({source for source, *_ in g}) > 1]
    assert across_tasks and across_sources  # the partition links more than one task's, and one source's, inquiries


def test_queue_sums_agree_with_the_phone_and_walk_in_stats(week: tuple[Path, GroundTruth]) -> None:
    _, truth = week
    sums = {(q.source, q.day, q.place): q for q in truth.queues}
    for day, stats in truth.phone.by_day.items():
        queues = [q for (source, d, _), q in sums.items() if (source, d) == ("queue_log", day)]
        total = {name: sum(getattr(q, name) for q in queues) for name in QUEUE_SUMS}
        assert {q.place for q in queues} == set(PHONE_QUEUES)
        assert (stats.offered, stats.answered, stats.abandoned, stats.transferred) == (
            total["arrived"], total["answered"], total["abandoned"], total["not_resolved"])
        assert stats.service_level == pytest.approx(
            total["answered_within_service_level"] / (total["answered"] + total["abandoned"]))
        assert stats.average_speed_of_answer == pytest.approx(total["answered_wait_seconds"] / total["answered"])
        assert stats.average_handle_time == pytest.approx(total["closed_handle_seconds"] / total["closed"])
    for stats in truth.walk_in:
        q = sums[("tickets", stats.day, stats.site)]
        assert (stats.tickets, stats.served, stats.transferred, stats.no_shows + stats.removed) == (
            q.arrived, q.closed - q.not_resolved, q.not_resolved, q.abandoned)
        assert stats.answered_average_wait_seconds == pytest.approx(q.answered_wait_seconds / q.answered)
    assert {(q.source, q.channel) for q in truth.queues} == {
        ("queue_log", "phone"), ("tickets", "walk_in"), ("http", "phone"), ("http", "walk_in")}


def test_waiting_snapshots_count_what_the_queue_log_says(week: tuple[Path, GroundTruth]) -> None:
    """Read from the lines themselves: ENTERQUEUE before the moment, CONNECT or the giving-up line not."""
    out, truth = week
    joined: dict[str, tuple[str, int]] = {}
    left: dict[str, int] = {}
    for f in queue_events(out):
        if f[4] == "ENTERQUEUE":
            joined[f[1]] = (f[2], int(f[0]))
        elif f[4] in ("CONNECT", *ABANDON_VERBS):
            left[f[1]] = int(f[0])
    snapshots = [w for w in truth.waiting if w.source == "queue_log"]
    assert len({w.at for w in snapshots}) == 3 * 5
    for w in snapshots:
        at, midnight = int(w.at.timestamp()), int(datetime.combine(w.at.date(), datetime.min.time(), TZ).timestamp())
        calls = [call for call, (queue, enter) in joined.items() if queue == w.place and midnight <= enter < at]
        assert calls and w.waiting == sum(left[call] >= at for call in calls), w
    assert max(w.waiting for w in snapshots) > 0


def test_connectors_yaml_runs_every_file_source_with_its_files(week: tuple[Path, GroundTruth]) -> None:
    out, truth = week
    run = load_run_file(out / RUN_FILE)
    configs = connector_configs(out)
    assert list(configs) == list(FILE_SOURCES)
    assert [entry.kind for entry in run.connectors] == [configs[s][0] for s in FILE_SOURCES]
    systems = [entry.config["system"] for entry in run.connectors]
    assert len(set(systems)) == len(systems)  # one checkpoint file each
    for source, entry in zip(FILE_SOURCES, run.connectors):
        assert entry.follow is False and all(Path(p).is_absolute() for p in entry.paths)
        assert expand_paths(entry.paths) == [out / f for f in truth.sources[source].files], source
        assert entry.config["system"] in truth.sources[source].systems
        kind, paths, config = configs[source]
        assert (kind, paths) == (entry.kind, entry.paths)
        assert type(config).model_validate(entry.config) == config


async def test_kanalpuls_ingest_dry_run_prints_every_emitted_event(
    week: tuple[Path, GroundTruth], capsys: pytest.CaptureFixture[str]
) -> None:
    out, truth = week
    kind, paths, config = connector_configs(out)["exchange"]
    stats = await run_ingest(Settings(), kind, expand_paths(paths), dry_run=True, config=config)
    printed = capsys.readouterr()
    expected = truth.sources["exchange"]
    assert stats.events == len(printed.out.splitlines()) == expected.events + expected.duplicates
    assert stats.rejected == expected.rejected and dict(stats.skipped) == expected.skipped
    assert len(printed.err.splitlines()) == expected.rejected


def test_ground_truth_of_the_other_sources_survives_dst_and_a_holiday(
    dst_fortnight: tuple[Path, GroundTruth], ascension_week: tuple[Path, GroundTruth]
) -> None:
    for out, truth in (dst_fortnight, ascension_week):
        for source in ("exchange", "web_combined", "channel_csv", "channel_jsonl"):
            assert read_file_source(out, source).counts() == truth_counts(truth, source), (out.name, source)
        assert read_imap(out, truth).counts() == truth_counts(truth, "imap")

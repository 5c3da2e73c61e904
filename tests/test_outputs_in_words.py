"""Every output a user reads says what it knows in words: `kanalpuls kpi` for every KPI (as a
table, CSV and JSON), `targets`, both reports and the board preview, on a store with no
history and on one with five simulated weeks, never print nan, inf or None. A municipality in
its first year sees the empty case first; a missing comparison must read as words, and a
command that cannot answer must exit non-zero saying why."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from pipeline.ground.settings import Settings
from pipeline.measures.kpis import KPIS
from tests.pipeline.test_cli import isolated, run

NOT_A_NUMBER = re.compile(r"\b(nan|NaN|inf|-inf|Infinity|None)\b")
START = date(2026, 10, 26)  # Monday; five weeks to 2026-11-29
WEEK = ("2026-11-23", "2026-11-29")


def assert_in_words(what: str, *texts: str) -> None:
    for text in texts:
        found = NOT_A_NUMBER.search(text)
        assert found is None, f"{what}: '{found.group(0)}' in ...{text[max(0, found.start() - 200):found.end() + 80]}"


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = isolated(tmp_path_factory.mktemp("empty"))
    assert run(settings, "store", "init").returncode == 0
    return settings


@pytest.fixture(scope="module")
def five_weeks(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from pipeline.ground.steering import load_steering
    from pipeline.simulated.municipality import simulate
    from pipeline.store.clickhouse import EmbeddedStore, init_schema
    from tests.pipeline.simulated.simulated_files import simulated_events
    from tests.stores import insert_events

    root = tmp_path_factory.mktemp("five-weeks")
    settings = isolated(root)
    simulate(root / "simulated", days=35, seed=4, start=START)
    store = EmbeddedStore(settings.store.path, settings.store.database)
    try:
        init_schema(store, load_steering(settings.steering.file))
        insert_events(store, simulated_events(root / "simulated"))
    finally:
        store.close()
    return settings


def kpi_arguments(name: str) -> list[str]:
    arguments = ["--from", WEEK[0], "--to", WEEK[1]]
    if "base_from" in KPIS[name].parameters:
        arguments += ["--baseline", "rolling_4_weeks"]
    return arguments


@pytest.mark.parametrize("store", ["empty", "five_weeks"])
@pytest.mark.parametrize("name", list(KPIS))
def test_every_kpi_in_every_format_is_numbers_or_words(name: str, store: str, request: pytest.FixtureRequest) -> None:
    settings: Settings = request.getfixturevalue(store)
    for output in ("table", "csv", "json"):
        done = run(settings, "kpi", name, *kpi_arguments(name), "--format", output)
        assert_in_words(f"kpi {name} --format {output} on {store}", done.stdout, done.stderr)
        if store == "five_weeks":
            assert done.returncode == 0, done.stderr
            if name == "waiting":  # at this moment, long after the simulated weeks: said so in words
                assert done.stdout.strip() or "ingen venter" in done.stderr
            else:
                assert done.stdout.strip(), f"{name} printed nothing on five weeks of data"
        elif "base_from" in KPIS[name].parameters:  # no history: the baseline holds nothing, said in words
            assert done.returncode == 2 and "holds no inbound inquiries" in " ".join(done.stderr.split())
        else:
            assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("store", ["empty", "five_weeks"])
def test_targets_reports_and_the_board_preview_are_numbers_or_words(
        store: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings: Settings = request.getfixturevalue(store)
    targets = run(settings, "targets", "--on", WEEK[1])
    assert targets.returncode == 0, targets.stderr
    assert_in_words(f"targets on {store}", targets.stdout, targets.stderr)

    report = run(settings, "report", "strategy", "--from", WEEK[0], "--to", WEEK[1], "--baseline", "rolling_4_weeks",
                 "--out", str(tmp_path / "strategy"))
    assert report.returncode == 0, report.stderr
    assert_in_words(f"report strategy on {store}", report.stdout, report.stderr,
                    (tmp_path / "strategy" / "index.html").read_text(encoding="utf-8"))

    komhen = run(settings, "report", "komhen", "--week", "2026-W48", "--out", str(tmp_path / "komhen"))
    assert_in_words(f"report komhen on {store}", komhen.stdout, komhen.stderr)
    if store == "empty":
        assert komhen.returncode != 0 and "no inquiries stored" in " ".join(komhen.stderr.split())
    else:
        assert komhen.returncode == 0, komhen.stderr
        written = sorted((tmp_path / "komhen").glob("komhen-*.csv"))
        assert written and all(assert_in_words(str(p), p.read_text(encoding="utf-8")) is None for p in written)

    preview = run(settings, "dashboards", "preview", "--out", str(tmp_path / "preview"), "--from",
                  f"{WEEK[0]}T00:00", "--to", f"{WEEK[1]}T23:59", timeout=300)
    assert preview.returncode == 0, preview.stderr
    assert_in_words(f"dashboards preview on {store}", preview.stdout, preview.stderr,
                    (tmp_path / "preview" / "index.html").read_text(encoding="utf-8"))


def test_the_check_itself_finds_a_nan() -> None:
    with pytest.raises(AssertionError, match="'nan'"):
        assert_in_words("a table", "gain_dkk nan")
    assert_in_words("words", "no inquiries in the period; information; Infinitely")  # not numbers
    assert subprocess  # the CLI runs as a real process (tests/pipeline/test_cli.run)

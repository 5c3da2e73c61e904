"""The `kanalpuls` command as an operator runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.ground.settings import Settings
from pipeline.worker.supervise import free_port, kanalpuls_command, settings_environment

QUEUE_LOG = "\n".join([
    "1763971200|1763971200.1|pas|NONE|ENTERQUEUE||22334455|1",
    "1763971205|1763971200.1|pas|SIP/2001|CONNECT|5|1763971200.9|2",
    "1763971260|1763971200.1|pas|SIP/2001|COMPLETEAGENT|5|55|1",
    "1763971261|NONE|pas|SIP/2001|PAUSE|",
    "garbage line",
]) + "\n"


def run(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kanalpuls_command(*args), env=settings_environment(settings), capture_output=True,
                          text=True, timeout=timeout, cwd=settings.var_dir.parent)


def isolated(tmp_path: Path) -> Settings:
    """Embedded everything under tmp_path, with no broker listening on the configured port."""
    settings = Settings(var_dir=tmp_path / "var")
    return settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={"bootstrap": None, "embedded_port": free_port()}),
        "store": settings.store.model_copy(update={"url": None, "path": tmp_path / "var" / "chdb"}),
        "worker": settings.worker.model_copy(update={"web_port": free_port()}),
    })


def test_dry_run_prints_events_and_rejections_without_a_broker(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(QUEUE_LOG)
    done = run(isolated(tmp_path), "ingest", "asterisk_queue_log", str(log), "--dry-run")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["stage"] for e in events] == ["arrived", "answered", "closed"]
    assert {e["task"] for e in events} == {"85.06.00"}
    assert "22334455" not in done.stdout
    assert done.stderr.count(f"{log}:5: ") == 1  # each rejection once, not again as a log warning
    assert "3 events, 1 skipped (housekeeping PAUSE 1), 1 rejected" in " ".join(done.stderr.split())


def test_a_run_that_rejected_every_record_exits_non_zero_saying_why(tmp_path: Path) -> None:
    log = tmp_path / "tickets.csv"  # a ticket export fed to the phone connector
    log.write_text("ticket;service;site;issued_at\nA1;Pas;Rådhuset;2026-03-02 09:00:00\n")
    done = run(isolated(tmp_path), "ingest", "asterisk_queue_log", str(log), "--dry-run")
    assert done.returncode == 1
    assert "every one of its 2 records was rejected" in " ".join(done.stderr.split())


def test_a_corrupt_file_in_a_run_file_is_reported_and_the_other_connectors_go_on(tmp_path: Path) -> None:
    import gzip

    whole = gzip.compress(QUEUE_LOG.encode() * 50)
    (tmp_path / "broken.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "tickets.csv").write_text("ticket;service;site;issued_at;called_at;finished_at;counter;outcome\n"
                                          "A1;Pas;Rådhuset;2026-03-02 09:00:00;2026-03-02 09:05:00;"
                                          "2026-03-02 09:10:00;3;served\n")
    run_file = tmp_path / "run.yaml"
    run_file.write_text(f"""connectors:
  - {{kind: asterisk_queue_log, paths: ["{tmp_path}/broken.gz"], follow: false, config: {{system: pbx}}}}
  - {{kind: ticket_export, paths: ["{tmp_path}/tickets.csv"], follow: false, config: {{system: nummer}}}}
""")
    settings = isolated(tmp_path)
    from pipeline.worker.broker import EmbeddedBroker

    with EmbeddedBroker(settings.kafka.embedded_port):
        settings = settings.model_copy(update={
            "kafka": settings.kafka.model_copy(update={"bootstrap": f"127.0.0.1:{settings.kafka.embedded_port}"}),
            "connectors": settings.connectors.model_copy(update={"confirm": "broker"}),
            "privacy": settings.privacy.model_copy(update={"contact_key_secret": "cli-test-secret-0123456789"}),
        })
        subprocess.run(kanalpuls_command("topics"), env=settings_environment(settings), check=True,
                       capture_output=True, timeout=60)
        done = run(settings, "run", "--config", str(run_file))
    text = " ".join(done.stderr.split())
    assert done.returncode == 1, text
    assert f"{tmp_path}/broken.gz" in text and "could not be read" in text
    assert "ticket_export/nummer: 1 file(s), 2 records: 3 events" in text


def test_ingest_without_a_reachable_broker_fails_with_what_to_do(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(QUEUE_LOG)
    done = run(isolated(tmp_path), "ingest", "asterisk_queue_log", str(log))
    assert done.returncode == 75  # EX_TEMPFAIL: try again once a broker runs
    assert "no Kafka broker answers" in done.stderr and "kanalpuls broker" in done.stderr


def test_unknown_connector_kind_lists_the_known_ones(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(QUEUE_LOG)
    done = run(isolated(tmp_path), "ingest", "fax_machine", str(log), "--dry-run")
    assert done.returncode == 2
    assert "asterisk_queue_log" in done.stderr and "ticket_export" in done.stderr


def test_store_init_is_idempotent_and_query_prints_a_table(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    for _ in range(2):
        done = run(settings, "store", "init")
        assert done.returncode == 0, done.stderr
        assert "001_inquiry_events.sql" in done.stderr
    done = run(settings, "query", "SELECT name FROM system.tables WHERE database = 'kanalpuls' ORDER BY name")
    assert done.returncode == 0, done.stderr
    assert [name in done.stdout for name in ("inquiry_events", "inquiry_minute", "inquiry_minute_mv")] == [True] * 3


def test_query_with_bad_sql_exits_non_zero_with_clickhouses_message(tmp_path: Path) -> None:
    done = run(isolated(tmp_path), "query", "SELEC 1")
    assert done.returncode == 2
    assert "Syntax error" in done.stderr


def test_cli_is_the_installed_console_script() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "kanalpuls"), "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("broker", "worker", "ingest", "simulate", "demo", "query", "store", "topics"):
        assert command in done.stdout


def test_ingest_into_a_configured_kafka_refuses_the_public_demo_secret(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(QUEUE_LOG)
    settings = isolated(tmp_path)
    settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(
        update={"bootstrap": f"127.0.0.1:{free_port()}"})})
    done = run(settings, "ingest", "asterisk_queue_log", str(log))
    assert done.returncode == 2
    assert "CONTACT_KEY_SECRET" in done.stderr and "demo secret" in done.stderr


def test_run_check_lists_what_each_connector_would_read_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "queue_log").write_text(QUEUE_LOG)
    config = tmp_path / "kanalpuls.yaml"
    config.write_text(json.dumps({"connectors": [
        {"kind": "asterisk_queue_log", "paths": [str(tmp_path / "queue_log*")], "config": {"system": "pbx1"}},
        {"kind": "ticket_export", "paths": [str(tmp_path / "exports" / "*.csv")]},
    ]}))
    result = run(isolated(tmp_path), "run", "--config", str(config), "--check")
    assert result.returncode == 0, result.stderr
    assert "asterisk_queue_log/pbx1 (follow): 1 file(s) now" in result.stdout
    assert str(tmp_path / "queue_log") in result.stdout
    assert "ticket_export/tickets (follow): 0 file(s) now" in result.stdout
    assert "2 connector(s), valid" in result.stdout


def test_run_check_names_the_entry_with_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "kanalpuls.yaml"
    config.write_text(json.dumps({"connectors": [
        {"kind": "web_access_log", "paths": [str(tmp_path / "x.log")], "config": {"format": "xml"}}]}))
    result = run(isolated(tmp_path), "run", "--config", str(config), "--check")
    assert result.returncode != 0
    assert "connector 1 (web_access_log)" in result.stderr and "format" in result.stderr


def test_kpi_prints_the_views_sql_resolving_a_named_baseline(tmp_path: Path) -> None:
    result = run(isolated(tmp_path), "kpi", "channel_shift", "--from", "2026-11-23", "--baseline", "rolling_4_weeks",
                 "--sql")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "SELECT * FROM kanalpuls.kpi_channel_shift(from_day = '2026-11-23', to_day = '2026-11-29', "
        "base_from = '2026-10-26', base_to = '2026-11-22', baseline_name = '')")


def test_kpi_without_the_baseline_it_needs_says_so(tmp_path: Path) -> None:
    result = run(isolated(tmp_path), "kpi", "realised_gain", "--from", "2026-11-23")
    assert result.returncode != 0
    assert "pass --baseline" in result.stderr


def test_kpi_runs_on_an_initialised_store(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    result = run(settings, "kpi", "walk_in", "--from", "2026-11-23", "--to", "2026-11-29", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "tickets" in result.stdout and "no_shows" in result.stdout


def test_targets_on_a_store_without_data_say_no_data(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    result = run(settings, "targets", "--on", "2026-11-29")
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "esbjerg_walk_ins" in said and "ingen vurdering" in said and "Mål pr. 2026-11-29" in said
    assert "importér den optælling med" in said and "kanalpuls baseline import" in said
    english = run(settings.model_copy(update={"language": "en"}), "targets", "--on", "2026-11-29")
    said = " ".join(english.stdout.split())
    assert "no verdict" in said and "import that count with" in said


def test_every_record_rejected_but_a_blank_line_still_exits_non_zero(tmp_path: Path) -> None:
    log = tmp_path / "tickets.csv"
    log.write_text("ticket;service;site;issued_at\nA1;Pas;Rådhuset;2026-03-02 09:00:00\n\n")
    done = run(isolated(tmp_path), "ingest", "asterisk_queue_log", str(log), "--dry-run")
    assert done.returncode == 1, done.stderr


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    env = settings_environment(settings) | {"KANALPULS_HTTP__PORT": "abc"}
    done = subprocess.run(kanalpuls_command("query", "SELECT 1"), env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "KANALPULS_HTTP__PORT" in done.stderr and "Traceback" not in done.stderr


def test_a_baseline_without_data_is_an_error_saying_what_to_import(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    done = run(settings, "kpi", "channel_shift", "--from", "2026-11-23", "--baseline", "rolling_4_weeks")
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "baseline rolling_4_weeks (2026-10-26 – 2026-11-22) holds no inbound inquiries" in said
    assert "kanalpuls baseline import FILE --name NAME" in said and "nan" not in done.stdout + said


def test_baseline_import_then_list_and_compare_with_it(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    week = tmp_path / "taelleuge_2025.csv"
    week.write_text("KLE-nr.;Opgave;Telefon;Personligt fremmøde;Digital selvbetjening\n"
                    "05.13.00;Pas;120;60;40\n27.12.00;Boligstøtte;10;;10\nI alt;;130;60;50\n", encoding="utf-8")
    early = run(settings, "baseline", "import", str(week), "--name", "komhen_2025")
    assert early.returncode == 2 and "run `kanalpuls store init` first" in " ".join(early.stderr.split())
    assert "Traceback" not in early.stderr
    assert run(settings, "store", "init").returncode == 0
    done = run(settings, "baseline", "import", str(week), "--name", "komhen_2025")
    assert done.returncode == 0, done.stderr
    assert "baseline komhen_2025: 2 tasks, 240 inquiries (240 inbound) over 7 days" in " ".join(done.stderr.split())
    listed = run(settings, "baseline", "list")
    assert listed.returncode == 0 and "komhen_2025" in listed.stdout and "rolling_4_weeks" in listed.stdout
    assert str(tmp_path) not in listed.stdout  # the file's name, not the folder it sat in
    sql = run(settings, "kpi", "realised_gain", "--from", "2026-11-23", "--baseline", "komhen_2025", "--sql")
    assert sql.returncode == 0, sql.stderr
    assert "baseline_name = 'komhen_2025'" in sql.stdout
    for bad, message in ((["--name", "rolling_4_weeks"], "is a baseline of the steering file"),
                         (["--name", "Bad Name"], "lower-case letters"),):
        refused = run(settings, "baseline", "import", str(week), *bad)
        assert refused.returncode == 2 and message in " ".join(refused.stderr.split())
    nope = run(settings, "kpi", "channel_shift", "--baseline", "komhen_2052")
    assert nope.returncode == 2 and "choose one of counting_week_2026, komhen_2025" in " ".join(nope.stderr.split())


def test_kpi_help_and_a_wrong_name_list_every_kpi(tmp_path: Path) -> None:
    from pipeline.measures.kpis import KPIS

    settings = isolated(tmp_path)
    helped = run(settings, "kpi", "--help")
    assert helped.returncode == 0 and all(f"{name}:" in helped.stdout for name in KPIS)
    wrong = run(settings, "kpi", "costs")
    assert wrong.returncode == 2
    assert all(f"'{name}'" in " ".join(wrong.stderr.split()) for name in ("cost", "channel_shift", "komhen_week"))


def test_an_unknown_channel_task_site_or_queue_is_refused_naming_the_known(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    typo = run(settings, "kpi", "demand", "--channel", "emial")
    assert typo.returncode == 2
    assert "ukendt kanal 'emial': kendte er chat (Chat), digital_post (Digital Post), email (E-mail)" in " ".join(
        typo.stderr.split())
    for name in ("telefon", "Personligt  fremmøde", "PHONE"):  # the names the tables show work as well as codes
        assert run(settings, "kpi", "demand", "--channel", name).returncode == 0, name
    for option, value, kpi in (("--task", "99.99.99", "volume"), ("--site", "Nowhere", "walk_in"),
                               ("--queue", "nope", "phone")):
        refused = run(settings, "kpi", kpi, option, value)
        assert refused.returncode == 2 and f"'{value}'" in refused.stderr, refused.stderr
    assert "cost har ingen task" in run(settings, "kpi", "cost", "--task", "85.02.00").stderr
    english = run(settings.model_copy(update={"language": "en"}), "kpi", "demand", "--channel", "emial")
    assert "unknown channel 'emial': known are chat" in " ".join(english.stderr.split())


@pytest.mark.parametrize(("arguments", "message"), [
    (["--from", "9999-12-31"], "--from 9999-12-31: choose a day from 2000 to 2099"),
    (["--from", "0001-01-03"], "--from 0001-01-03: choose a day from 2000 to 2099"),
    (["--from", "2026-13-01"], "--from '2026-13-01' is not a date like 2026-11-23"),
    (["--from", "2026-11-23", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-23"),
])
def test_a_day_that_is_no_date_is_refused_naming_the_option(arguments: list[str], message: str,
                                                              tmp_path: Path) -> None:
    refused = run(isolated(tmp_path), "kpi", "volume", *arguments)
    assert refused.returncode == 2 and message in " ".join(refused.stderr.split()), refused.stderr
    assert "Traceback" not in refused.stderr


def test_kpi_as_csv_and_json_on_an_empty_store(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    as_json = run(settings, "kpi", "cost", "--from", "2026-11-23", "--format", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    as_csv = run(settings, "kpi", "cost", "--from", "2026-11-23", "--format", "csv")
    assert as_csv.stdout == '"channel","inquiries","price_dkk","cost_dkk"\n'
    table = run(settings, "kpi", "cost", "--from", "2026-11-23")
    assert table.returncode == 0 and "ingen henvendelser i 2026-11-23 – 2026-11-29" in table.stderr

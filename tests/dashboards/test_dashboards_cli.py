"""`kanalpuls dashboards build | preview | push` as an operator runs them: a real process,
the store reached the way every command reaches it (pipeline/store_client.run_query)."""

from __future__ import annotations

import re
from pathlib import Path

from dashboards.boards import BOARDS, JSON_DIR, board_file
from pipeline.worker.supervise import free_port
from tests.pipeline.test_cli import isolated, run


def test_build_writes_the_committed_json(tmp_path: Path) -> None:
    done = run(isolated(tmp_path), "dashboards", "build", "--out", str(tmp_path / "json"))
    assert done.returncode == 0, done.stderr
    for board in BOARDS:
        assert (tmp_path / "json" / board_file(board)).read_bytes() == (JSON_DIR / board_file(board)).read_bytes()


def test_preview_on_a_store_without_data_draws_every_panel_and_names_the_empty_ones(tmp_path: Path) -> None:
    settings = isolated(tmp_path)
    assert run(settings, "store", "init").returncode == 0
    done = run(settings, "dashboards", "preview", "--out", str(tmp_path / "preview"),
               "--from", "2026-03-09T00:00", "--to", "2026-03-12T11:30")
    assert done.returncode == 0, done.stderr
    index = (tmp_path / "preview" / "index.html").read_text(encoding="utf-8")
    images = re.findall(r"<img src='([^']+)'", index)
    assert len(images) == sum(not p.is_prometheus for b in BOARDS for p in b.panels)
    assert all((tmp_path / "preview" / image).read_bytes().startswith(b"\x89PNG") for image in images)
    assert "no data in the range for" in " ".join(done.stderr.split())  # rich wraps at 120 columns


def test_preview_with_the_range_the_wrong_way_round_says_so(tmp_path: Path) -> None:
    done = run(isolated(tmp_path), "dashboards", "preview", "--out", str(tmp_path / "p"),
               "--from", "2026-03-12", "--to", "2026-03-09")
    assert done.returncode == 2 and "is not before --to" in done.stderr


def test_push_to_a_grafana_that_does_not_answer_fails_with_the_address(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("glsa_test\n")
    url = f"http://127.0.0.1:{free_port()}"
    done = run(isolated(tmp_path), "dashboards", "push", "--url", url, "--token-file", str(token), timeout=60)
    assert done.returncode == 2, done.stderr
    assert url in done.stderr and BOARDS[0].uid in done.stderr

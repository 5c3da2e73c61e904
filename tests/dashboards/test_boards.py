"""Every board's JSON as Grafana will load it: committed files equal what the code generates,
panel ids are unique, panels sit inside the 24-column grid without overlapping, every data
source is the provisioned one, and every variable a query uses is defined on the board."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboards.boards import (
    BOARDS,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    GRID_COLUMNS,
    JSON_DIR,
    PROMETHEUS_UID,
    board_file,
    board_json,
    render,
)
from dashboards.macros import variables_used

# Grafana's own variables, available on every board
BUILT_IN = {"__interval", "__interval_ms", "__range", "__rate_interval", "__from", "__to", "__dashboard"}


def problems(board: dict[str, Any]) -> list[str]:
    """What Grafana would show wrongly or not at all on this board."""
    found: list[str] = []
    ids = [p["id"] for p in board["panels"]]
    if len(ids) != len(set(ids)):
        found.append(f"duplicate panel ids {ids}")
    cells: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        g = panel["gridPos"]
        if g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > GRID_COLUMNS or g["h"] < 1 or g["y"] < 0:
            found.append(f"panel '{panel['title']}' is outside the 24-column grid: {g}")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    found.append(f"panel '{panel['title']}' overlaps '{cells[(x, y)]}' at {x},{y}")
                    break
                cells[(x, y)] = panel["title"]
            else:
                continue
            break
    defined = {v["name"] for v in board["templating"]["list"]}
    sources = [v["datasource"] for v in board["templating"]["list"] if v["type"] == "query"]
    texts = [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    for panel in board["panels"]:
        sources += [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        texts += [t.get("rawSql") or t.get("expr", "") for t in panel["targets"]]
    for source in sources:
        if source["type"] == DATASOURCE_TYPE and source["uid"] != DATASOURCE_UID:
            found.append(f"ClickHouse data source uid {source['uid']}, provisioning has {DATASOURCE_UID}")
        elif source["type"] == "prometheus" and source["uid"] != PROMETHEUS_UID:
            found.append(f"Prometheus data source uid {source['uid']}, provisioning has {PROMETHEUS_UID}")
        elif source["type"] not in (DATASOURCE_TYPE, "prometheus"):
            found.append(f"unknown data source type {source['type']}")
    for text in texts:
        for name in variables_used(text) - defined - BUILT_IN:
            found.append(f"variable ${name} is used but not defined")
    return found


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.uid)
def test_committed_json_is_what_the_code_generates(board) -> None:
    path = JSON_DIR / board_file(board)
    assert path.read_text(encoding="utf-8") == render(board), \
        f"{path} is stale: run `kanalpuls dashboards build` and commit dashboards/json/"


def test_no_stray_json_beside_the_generated_boards() -> None:
    assert {p.name for p in JSON_DIR.glob("*.json")} == {board_file(b) for b in BOARDS}


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.uid)
def test_board_has_unique_ids_a_valid_grid_the_provisioned_uids_and_defined_variables(board) -> None:
    assert problems(json.loads(render(board))) == []


def test_every_board_has_the_five_dimension_variables_as_clickhouse_multi_value_queries() -> None:
    for board in BOARDS:
        variables = {v["name"]: v for v in board_json(board)["templating"]["list"]}
        for name in ("municipality", "department", "site", "task", "channel"):
            assert variables[name]["type"] == "query" and variables[name]["multi"] and variables[name]["includeAll"]
            assert variables[name]["datasource"] == {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}


def test_the_checks_catch_an_overlap_a_wide_panel_a_duplicate_id_a_foreign_uid_and_an_undefined_variable() -> None:
    board = board_json(BOARDS[0])
    first, second = board["panels"][0], board["panels"][1]
    second["gridPos"] = dict(first["gridPos"])
    first["gridPos"]["w"] = 30
    second["id"] = first["id"]
    second["targets"][0]["datasource"] = {"type": DATASOURCE_TYPE, "uid": "someone-elses"}
    second["targets"][0]["rawSql"] += " AND queue IN (${queue:singlequote})"
    found = "\n".join(problems(board))
    for expected in ("duplicate panel ids", "outside the 24-column grid", "overlaps",
                     "uid someone-elses", "$queue is used but not defined"):
        assert expected in found


def test_every_text_a_board_shows_is_in_danish_and_english() -> None:
    """Titles, descriptions and no-data words are in the message catalogue; the English text
    is the key, so a board with a text missing from it would show English to Danish users."""
    from pipeline.ground.messages import TRANSLATIONS_DA

    texts = {b.title for b in BOARDS} | {t for b in BOARDS for p in b.panels for t in (p.title, p.description,
                                                                                      p.no_value) if t}
    assert sorted(texts - set(TRANSLATIONS_DA)) == []
    danish, english = board_json(BOARDS[1]), board_json(BOARDS[1], "en")
    assert (danish["title"], english["title"]) == ("Kanalskift", "Channel shift")
    overrides = {o["matcher"]["options"]: o["properties"][0]["value"] for o in danish["panels"][4]["fieldConfig"]["overrides"]}
    assert overrides["cost_dkk"] == "omkostning"

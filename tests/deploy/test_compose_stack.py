"""The whole production stack, when a Docker engine answers: `docker compose up` from
docker-compose.yml with a throwaway .env, two simulated days of phone calls ingested
through the image, then Grafana's API must list the provisioned boards and answer a
panel's query through the read-only ClickHouse data source with rows. Without an engine
(as on the development machine, see BRIEF.md) it is skipped: the only skip in tests/deploy."""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from pipeline.worker.supervise import free_port
from tests.conftest import docker_engine_answers

ROOT = Path(__file__).resolve().parents[2]
CLICKHOUSE_UID = "kanalpuls-clickhouse"

pytestmark = pytest.mark.skipif(not docker_engine_answers(), reason="no Docker engine answers")


def env_file(tmp_path: Path, grafana_port: int) -> Path:
    """.env.example with every value made real: random secrets, empty log folders."""
    values = {"GRAFANA_PORT": str(grafana_port), "HTTP_INGEST_PORT": str(free_port())}
    lines = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z0-9_]+)=", line)
        if not match:
            continue
        name = match.group(1)
        if name.endswith("_DIR"):
            folder = tmp_path / "logs" / name.lower()
            folder.mkdir(parents=True)
            values[name] = str(folder)
        else:
            values[name] = secrets.token_hex(16)
    lines += [f"{name}={value}" for name, value in values.items()]
    path = tmp_path / "stack.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def grafana(url: str, password: str, path: str, body: dict | None = None):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None,
                                     method="POST" if body else "GET")
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for(what: str, check, timeout: float):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = exc
        time.sleep(3)
    pytest.fail(f"{what} not within {timeout:.0f}s (last error: {last})")


def rollup_panel() -> tuple[dict, str]:
    """(board, SQL) of the first panel that reads a rollup, from the generated boards."""
    for board_file in sorted((ROOT / "dashboards" / "json").glob("*.json")):
        board = json.loads(board_file.read_text(encoding="utf-8"))
        for panel in board.get("panels", []):
            for target in panel.get("targets", []):
                if re.search(r"inquiry_(minute|hour)\b", target.get("rawSql", "")):
                    return board, target["rawSql"]
    pytest.fail("no board panel reads inquiry_minute or inquiry_hour")


def ds_query(url: str, password: str, sql: str) -> list[list]:
    """Columns of the answer Grafana's ClickHouse data source gives for `sql`, over 30 days."""
    answer = grafana(url, password, "/api/ds/query", {
        "from": "now-30d", "to": "now",
        "queries": [{"refId": "A", "datasource": {"uid": CLICKHOUSE_UID, "type": "grafana-clickhouse-datasource"},
                     "rawSql": sql, "format": 1, "queryType": "table", "editorType": "sql"}],
    })["results"]["A"]
    assert "error" not in answer, answer["error"]
    return [column for frame in answer.get("frames", []) for column in frame["data"]["values"][:1]]


def panel_sql(url: str, password: str) -> str:
    """The panel's SQL with its template variables set the way Grafana's front end sets
    them before the request (variable queries run through the same data source, "All"
    is every value); the plugin's macros are left to the plugin."""
    from dashboards.macros import expand_variables

    board, sql = rollup_panel()
    values: dict[str, list[str]] = {}
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            values[variable["name"]] = [str(v) for column in ds_query(url, password, variable["query"]) for v in column]
        else:
            current = variable.get("current", {}).get("value", "")
            values[variable["name"]] = current if isinstance(current, list) else [str(current)]
    return expand_variables(sql, values)


def test_stack_comes_up_and_grafana_shows_boards_with_data(tmp_path: Path) -> None:
    port = free_port()
    env = env_file(tmp_path, port)
    password = dict(line.split("=", 1) for line in env.read_text().splitlines())["GRAFANA_ADMIN_PASSWORD"]
    compose = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(env),
               "-p", f"kanalpuls-test-{uuid.uuid4().hex[:6]}"]
    sim = tmp_path / "sim"
    subprocess.run([str(Path(sys.executable).parent / "kanalpuls"), "simulate", "--out", str(sim), "--days", "2"], check=True, cwd=ROOT)
    try:
        subprocess.run([*compose, "up", "-d", "--build"], check=True, timeout=1800)
        url = f"http://127.0.0.1:{port}"
        wait_for("grafana healthy", lambda: grafana(url, password, "/api/health")["database"] == "ok", 600)

        queue_logs = sorted(sim.glob("queue_log-*.gz")) + [sim / "queue_log"]
        mounts = [arg for f in queue_logs for arg in ("-v", f"{f}:/sim/{f.name}:ro")]
        subprocess.run([*compose, "run", "--rm", *mounts, "topics", "ingest", "asterisk_queue_log",
                        *[f"/sim/{f.name}" for f in queue_logs]], check=True, timeout=600)

        boards = wait_for("boards listed", lambda: grafana(url, password, "/api/search?type=dash-db"), 120)
        on_disk = {json.loads(p.read_text())["uid"] for p in (ROOT / "dashboards" / "json").glob("*.json")}
        assert on_disk <= {board["uid"] for board in boards}

        def rows() -> int:
            return sum(len(column) for column in ds_query(url, password, panel_sql(url, password)))

        assert wait_for("a panel query with rows", rows, 300) > 0
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], check=False, timeout=600)

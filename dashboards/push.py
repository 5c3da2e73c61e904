"""Upload the boards to a running Grafana through its HTTP API (grafana-client), for a
Grafana that is not provisioned from deploy/grafana/. Each board is saved by uid with
overwrite, so pushing again replaces it; the data source uid in the boards must exist there."""

from __future__ import annotations

from typing import Any, Protocol

from dashboards.boards import BOARDS, Board, board_json
from pipeline.ground.errors import TerminalError
from pipeline.ground.messages import Language


class PushError(TerminalError):
    """Grafana refused or did not answer; the message says which board and why."""


class DashboardApi(Protocol):
    def update_dashboard(self, dashboard: dict[str, Any]) -> Any: ...


def push_boards(dashboards: DashboardApi, folder_uid: str | None = None,
                boards: tuple[Board, ...] = BOARDS, language: Language = "da") -> list[str]:
    """Save every board; returns the URL path Grafana gives each."""
    urls = []
    for board in boards:
        payload: dict[str, Any] = {"dashboard": board_json(board, language), "overwrite": True,
                                   "message": "kanalpuls dashboards push"}
        if folder_uid:
            payload["folderUid"] = folder_uid
        try:
            answer = dashboards.update_dashboard(payload)
        except Exception as exc:  # grafana-client raises its own classes and niquests' connection errors
            raise PushError(f"board {board.uid} ('{board.title}'): {exc}") from exc
        urls.append(str((answer or {}).get("url", board.uid)))
    return urls

"""Checkpoints: how far a source has read and had confirmed, in one JSON file per source,
replaced atomically, readable by its owner only. The file connectors' positions per file are
here; a polled source (IMAP) keeps its own positions in the same kind of file."""

from __future__ import annotations

import glob
import json
import logging
import os
import zlib
from pathlib import Path

from connectors.files import Position, fingerprint, holds
from pipeline.ground.directories import private_directory
from pipeline.ground.errors import TerminalError
from pipeline.ground.settings import Settings

logger = logging.getLogger(__name__)


class CheckpointFileError(TerminalError):
    """A checkpoint file that cannot be read: the operator decides whether to read everything again."""


def checkpoint_file(settings: Settings, kind: str, system: str) -> Path:
    """Where the source of `kind` reading `system` keeps its positions: one file each, so two
    sources never overwrite each other's (`kanalpuls run` refuses two with the same pair)."""
    return settings.connectors.checkpoint_dir / f"{kind}-{system}.json"


def read_checkpoint_file(path: Path, section: str, counts: tuple[str, ...],
                         texts: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    """The positions saved under `section` ({} when the source never saved any), each holding
    the whole numbers `counts` (0 or more) and optionally the strings `texts`, nothing else."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        positions = data.get(section, {})
        if not isinstance(positions, dict):
            raise ValueError(f"'{section}' is not a map of positions")
        for name, position in positions.items():
            if not (isinstance(position, dict) and set(counts) <= set(position) <= set(counts) | set(texts)
                    and all(type(position[key]) is int and position[key] >= 0 for key in counts)
                    and all(isinstance(position.get(key, ""), str) for key in texts)):
                raise ValueError(f"the position of {name[:200]!r} is not {', '.join(counts)} as whole numbers "
                                 f"from 0{''.join(f' and {key} as text' for key in texts)}")
        return positions
    except (OSError, ValueError, AttributeError) as exc:
        raise CheckpointFileError(
            f"checkpoint file {path} is unreadable ({exc}): delete it to read everything again (event ids are "
            "stable, so what was read before is dropped downstream as duplicates)") from exc


def write_checkpoint_file(path: Path, section: str, positions: dict[str, dict[str, object]]) -> None:
    """Replace the file atomically, synced first: a crash leaves the old positions or the new, never half."""
    try:
        private_directory(path.parent)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({section: positions}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise CheckpointFileError(f"cannot write checkpoint file {path} ({exc.strerror}): check "
                                  "KANALPULS_CONNECTORS__CHECKPOINT_DIR is a directory this user may write") from exc


class Checkpoints:
    """Read positions per file, in one JSON file per connector, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        saved = read_checkpoint_file(path, "files", ("inode", "offset", "line"), ("fingerprint",))
        self.positions = {name: Position(**pos) for name, pos in saved.items()}  # type: ignore[arg-type]

    def start(self, file: Path) -> Position:
        """Where to resume `file`: its saved position if it is still the same file; the
        position saved under another name if this file is where that content went (renamed,
        compressed or copied away by log rotation while the connector was down); else the start."""
        inode = file.stat().st_ino
        saved = self.positions.get(str(file))
        if saved and saved.inode == inode and holds(file, saved):
            return saved
        moved = self._moved_to(file)
        if moved is not None:
            name, position = moved
            logger.info("%s holds the content checkpointed as %s (rotated while the connector was down): "
                        "resuming it at line %d", file, name, position.line)
            return Position(inode, position.offset, position.line, position.fingerprint)
        if saved:
            logger.warning("%s is not the file the checkpoint was taken on (rotated, truncated or replaced): "
                           "reading it from the start", file)
        return Position(inode=inode, offset=0, line=0)

    def rotated_away(self, file: Path) -> list[Path]:
        """Rotated siblings of `file` (file.1, file.1.gz, file-20261123.gz, ...) that hold the
        content checkpointed under `file`'s name, which `file` itself no longer holds: the
        lines between the last checkpoint and the rotation are still to be read there."""
        saved = self.positions.get(str(file))
        if not saved or saved.offset == 0 or (file.exists() and file.stat().st_ino == saved.inode
                                              and holds(file, saved)):
            return []
        siblings = sorted(p for p in file.parent.glob(f"{glob.escape(file.name)}[.-]*") if p.is_file())
        return [p for p in siblings if str(p) not in self.positions and holds(p, saved)][:1]

    def _moved_to(self, file: Path) -> tuple[str, Position] | None:
        """A position saved under another name whose file no longer holds it, but `file` does."""
        for name, position in self.positions.items():
            if name == str(file) or position.offset == 0:
                continue
            there = Path(name)
            if there.exists() and there.stat().st_ino == position.inode and holds(there, position):
                continue  # still where it was read: `file` is at most a copy of it
            if holds(file, position):
                return name, position
        return None

    def save(self, file: Path, position: Position) -> None:
        """Record `position` (its fingerprint taken from the open file, see Head.fingerprint)."""
        if not position.fingerprint:
            try:
                position = Position(position.inode, position.offset, position.line, fingerprint(file, position.offset))
            except (OSError, EOFError, zlib.error):
                pass  # unreadable now: without a fingerprint the file is read again from its start, never skipped
        self.positions[str(file)] = position
        write_checkpoint_file(self.path, "files", {name: vars(pos) for name, pos in self.positions.items()})

"""Checkpoints of a file connector: how far each file is read and confirmed, in one JSON file per
source, replaced atomically, readable by its owner only."""


from __future__ import annotations

import glob
import json
import logging
import os
import zlib
from pathlib import Path

from connectors.files import Position, fingerprint, holds
from pipeline.ground.directories import private_directory

logger = logging.getLogger(__name__)



class Checkpoints:
    """Read positions per file, in one JSON file per connector, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.positions: dict[str, Position] = {}
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.positions = {name: Position(**pos) for name, pos in data.get("files", {}).items()}

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
        private_directory(self.path.parent)
        tmp = self.path.with_suffix(".tmp")
        payload = {"files": {name: vars(pos) for name, pos in self.positions.items()}}
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

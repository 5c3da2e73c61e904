"""A private directory: what kanalpuls writes (checkpoints, the embedded store) is readable by its owner only."""

from __future__ import annotations

import os
from pathlib import Path


def private_directory(path: Path) -> Path:
    """Create `path` readable by its owner only (checkpoints name the files read; the
    embedded store holds every event): 0700, and tightened if this user made it looser."""
    for missing in [*reversed([p for p in path.parents if not p.exists()]), path]:
        missing.mkdir(exist_ok=True, mode=0o700)  # parents made here are private too (var/ above var/chdb)
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            path.chmod(0o700)
    except OSError:
        pass
    return path

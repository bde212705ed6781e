"""What the mirror tests compare before and after: every file's size, mtime and mode."""

from __future__ import annotations

from pathlib import Path


def files_state(folder: Path) -> dict[str, tuple[int, int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
            for p in folder.rglob("*")}

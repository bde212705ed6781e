"""A session folder's files: what an export packs, and what the decision record pins by
sha256 so that, once decided, no byte of the session can change unnoticed."""

from __future__ import annotations

from pathlib import Path

from cockpit.session.integrity import file_sha256
from cockpit.session.layout import EVENTS, SNAPSHOT
from cockpit.session.lock import HOLDER, LOCK

# Written before the decision event and pinned by it on their own (decision.json/.md), or
# checked in their own way (the chain, the fold), or no evidence at all (who drives it now).
PINNED_ELSEWHERE = {EVENTS, SNAPSHOT, LOCK, HOLDER, "evidence/decision.json",
                    "evidence/decision.md"}


def session_files(folder: Path) -> list[Path]:
    """The session's files, sorted: all but its lock, who holds it and half-written
    temporaries."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_dir() or path.is_symlink() or relative.as_posix() in (LOCK, HOLDER):
            continue
        if path.name.startswith(".") and path.name.endswith((".tmp", ".capturing")):
            continue
        found.append(relative)
    return sorted(found, key=lambda p: p.as_posix())


def inventory(folder: Path, running: str | None = None) -> dict[str, str]:
    """Every file of the session the decision pins (name -> sha256); a run still going
    (a halted step being stopped) is left out: its files are still being written."""
    still = f"steps/{running}." if running else None
    return {name: file_sha256(folder / relative) for relative in session_files(folder)
            if (name := relative.as_posix()) not in PINNED_ELSEWHERE
            and not (still and name.startswith(still))}

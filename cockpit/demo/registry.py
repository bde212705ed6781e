"""This user's rehearsal worlds that may be running: one small file per world in a private
folder of the user's state (`$XDG_STATE_HOME/cockpit/worlds`, else
`~/.local/state/cockpit/worlds`, 0700), so `cockpit demo --worlds` can list them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from cockpit.demo.private import private_folder
from cockpit.session.safefs import write_private


def registry_folder() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "cockpit" / "worlds"


def _entry(workspace: Path) -> Path:
    key = hashlib.sha256(os.fsencode(workspace)).hexdigest()[:20]
    return registry_folder() / f"{key}.json"


def remember(workspace: Path) -> None:
    """Note a world as running (again); best effort: a registry that cannot be written never
    stops a rehearsal — the watchdog stops the world all the same."""
    with contextlib.suppress(OSError):
        private_folder(registry_folder())
        write_private(_entry(workspace), json.dumps({"workspace": str(workspace)}).encode())


def forget(workspace: Path) -> None:
    with contextlib.suppress(OSError):
        _entry(workspace).unlink()


def remembered() -> list[Path]:
    """The workspaces of the worlds noted as running, oldest note first."""
    try:
        folder = private_folder(registry_folder())
    except OSError:
        return []
    dated = []
    for entry in folder.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            workspace = Path(json.loads(entry.read_text(encoding="utf-8"))["workspace"])
            dated.append((entry.stat().st_mtime, str(workspace), workspace))
    return [workspace for *_, workspace in sorted(dated)]

"""Whether a session belongs to a rehearsal world: told from its files alone, so that
`resume` of any session asks it without loading the world's machinery."""

from __future__ import annotations

from pathlib import Path


def world_of(workdir: Path) -> Path | None:
    """The rehearsal world a session's working directory belongs to, if any."""
    workspace = workdir.parent
    return workspace if (workspace / "world.json").exists() else None

"""The revisions an `alembic upgrade` step is expected to run, worked out as it starts:
from the database's current revision (read-only) along the lineage to the step's target —
so the screens can count them off and flag one the path did not hold."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cockpit.probes.alembic_probes import current_revisions, script_directory, upgrade_path
from cockpit.runbook.commands import alembic_words


def expected_upgrade(command: str, workdir: Path, env: Mapping[str, str]) -> list[str] | None:
    """None for a command that is no Alembic upgrade; [] when the path cannot be known
    (the database unreachable, the project unreadable, several current heads) — the step
    runs all the same, its revisions counted without a total."""
    words = alembic_words(command)
    if not words or words[0] != "upgrade":
        return None
    target = next((w for w in words[1:] if not w.startswith("-")), "heads")
    if ":" in target or "--sql" in words:  # offline, or from a given start: nothing to count
        return None
    try:
        current = current_revisions(env)
        if len(current) > 1:
            return []
        path = upgrade_path(workdir, current[0] if current else "base")
        if target not in ("head", "heads"):
            script = script_directory(workdir)
            wanted = {r.revision for r in script.iterate_revisions(target, "base")}
            path = [r for r in path if r in wanted]
    except Exception:  # never a reason for the step not to start: counted without a total
        return []
    return path

"""The revisions an `alembic upgrade` step is expected to run, worked out as it starts:
from the database's current revision (read-only) along the lineage to the step's target —
so the screens can count them off and flag one the path did not hold. The start is recorded
too: a later session (the cutover a rehearsal proves) works out its own path from it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cockpit.probes.alembic_probes import alembic_walk, current_revisions, script_directory
from cockpit.runbook.alembic_config import AlembicConfig, command_config
from cockpit.runbook.commands import alembic_words


def upgrade_target(command: str) -> str | None:
    """The revision an `alembic upgrade` command goes to; None for any other command, and
    for an offline one or one from a given start (nothing runs there to count)."""
    words = alembic_words(command)
    if not words or words[0] != "upgrade" or "--sql" in words:
        return None
    target = next((w for w in words[1:] if not w.startswith("-")), "heads")
    return None if ":" in target else target


def path_from(target: str, workdir: Path, start: list[str],
              config: AlembicConfig | None = None) -> list[str]:
    """The revisions from the database's revisions `start` (several heads too: a branch run
    part way) to `target`, in order, in the lineage `config` (the step's `-c`) reads."""
    # as `alembic upgrade` walks it: partial ids, `branch@head` and `+N` included
    return alembic_walk(script_directory(workdir, config), "upgrade", target, start)


def expected_upgrade(command: str, workdir: Path, env: Mapping[str, str]
                     ) -> tuple[list[str], list[str] | None] | None:
    """(path, start) of an upgrade step; None for a command that is no Alembic upgrade;
    ([], None) when the path cannot be known (the database unreachable, the project
    unreadable) — the step runs all the same, its revisions counted without a total."""
    target = upgrade_target(command)
    if target is None:
        return None
    start: list[str] | None = None
    try:
        start = current_revisions(env)
        return path_from(target, workdir, start, command_config(command, env)), start
    except Exception:  # never a reason for the step not to start: counted without a total
        return [], start

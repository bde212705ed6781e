"""What `cockpit init` learns about a team's Alembic project, by Alembic's own API: its heads,
and — when a DSN is given — the database's current revision, the upgrade path from there
and the tables that path leaves created. Read-only: nothing is written to the database."""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.probes.alembic_probes import current_revisions, script_directory, upgrade_path
from cockpit.probes.db import ProbeUnreachable, connect, rows
from cockpit.runbook.alembic_config import alembic_table
from cockpit.runbook.starter import ProjectFacts


def project_facts(project: Path, runbook_dir: Path, dsn_env: str,
                  env: Mapping[str, str]) -> tuple[ProjectFacts, list[str]]:
    """The project's facts and notes on what could not be learned."""
    notes: list[str] = []
    if not (project / "alembic.ini").is_file() and not alembic_table(project / "pyproject.toml"):
        raise CockpitError(f"{project}: no alembic.ini here; give the folder of your Alembic "
                           "project (where alembic.ini, or pyproject.toml with [tool.alembic], "
                           "is): cockpit init PATH")
    try:
        script = script_directory(project.resolve())
        heads = sorted(script.get_heads())
        revisions = {rev.revision: rev for rev in script.walk_revisions()}
    except Exception as exc:  # Alembic's own errors name the file and the problem
        raise CockpitError(f"{project}: Alembic cannot read the project: "
                           f"{type(exc).__name__}: {exc}") from None
    if not heads:
        raise CockpitError(f"{project}: the project has no revisions yet; a cutover needs one")
    dsn = env.get(dsn_env) or None
    current: list[str] | None = None
    existing: set[str] = set()
    if dsn:
        try:
            current = current_revisions({"DATABASE_URL": dsn})
            existing = existing_tables({"DATABASE_URL": dsn})
        except ProbeUnreachable as exc:
            notes.append(f"{dsn_env}: the database was not reached ({exc})")
    else:
        notes.append(f"{dsn_env} is not set: the runbook's DSN, current revision and upgrade "
                     "path are left for you to fill in")
    path = upgrade_path(project.resolve(), current[0] if current else "base") \
        if current is not None else None
    tables: set[str] = set()
    for revision in path if path is not None else reversed(list(revisions)):
        created, dropped = upgrade_tables(Path(revisions[revision].path))
        for name in sorted(created & existing - tables):  # the upgrade would stop there
            notes.append(f"revision {revision} creates table {name}, which the database "
                         "already has: the upgrade would fail on it (DuplicateTable)")
        tables = (tables | created) - dropped
    tables -= existing  # a check of tables already there would pass whatever ran
    workdir = os.path.relpath(project.resolve(), runbook_dir.resolve())
    facts = ProjectFacts(
        name=project.resolve().name, workdir=workdir, heads=heads, dsn_env=dsn_env, dsn=dsn,
        current=current, path=path, tables=sorted(tables), git=_in_git(project))
    return facts, notes


def existing_tables(env: Mapping[str, str]) -> set[str]:
    """The tables of the database's current schema (read-only)."""
    with connect(env) as conn:
        return {row["name"] for row in rows(conn, "SELECT tablename AS name FROM pg_tables "
                                                  "WHERE schemaname = current_schema()")}


def upgrade_tables(module: Path) -> tuple[set[str], set[str]]:
    """(created, dropped): the tables a revision's `upgrade()` names in `op.create_table` and
    `op.drop_table` with a literal name — its `downgrade()` is not read."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return set(), set()
    upgrade = next((node for node in tree.body if isinstance(node, ast.FunctionDef)
                    and node.name == "upgrade"), None)
    found: dict[str, set[str]] = {"create_table": set(), "drop_table": set()}
    for node in ast.walk(upgrade) if upgrade is not None else []:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in found and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found[node.func.attr].add(node.args[0].value)
    return found["create_table"], found["drop_table"]


def _in_git(project: Path) -> bool:
    try:
        done = subprocess.run(["git", "-C", str(project), "rev-parse", "--is-inside-work-tree"],
                              capture_output=True, text=True, timeout=10)
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"

"""The outside tools the risk gate runs: Alembic, rendering each revision's offline SQL as
the operator's own `alembic upgrade --sql` would, and squawk, linting it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cockpit.probes.db import ProbeUnreachable
from cockpit.probes.sqlrisk import RevisionSQL, one_transaction, split_revisions
from cockpit.runbook.squawk_rules import squawk_binary

# squawk rules left out: the cockpit sets lock_timeout/statement_timeout on the step
# (PGOPTIONS), and an Alembic revision runs once (alembic_version), so IF NOT EXISTS is moot
EXCLUDED_RULES = ("require-timeout-settings", "require-lock-timeout",
                  "require-statement-timeout", "prefer-robust-stmts")
_RENDER_TIMEOUT_S = 120


def render_offline(workdir: Path, start: str, target: str,
                   env: Mapping[str, str], expected: Sequence[str],
                   options: Sequence[str] = ()
                   ) -> tuple[list[RevisionSQL], dict[str, str], bool | None]:
    """Each revision's offline SQL, the revisions that could not be rendered (with why),
    and whether the upgrade runs as one transaction (None: nothing rendered to tell). A
    revision whose upgrade fails offline (it reads data through op.get_bind()) keeps what it
    rendered before failing, and rendering goes on after it."""
    parts: dict[str, RevisionSQL] = {}
    failed: dict[str, str] = {}
    begin = start
    modes: list[bool | None] = []
    for _ in range(len(expected) + 1):
        done = subprocess.run(
            [sys.executable, "-m", "alembic", *options, "upgrade", f"{begin}:{target}",
             "--sql"],
            cwd=workdir, env=dict(env), capture_output=True, text=True,
            timeout=_RENDER_TIMEOUT_S)
        found = split_revisions(done.stdout)
        modes.append(one_transaction(done.stdout))
        for part in found:  # a failing revision's statements so far are analysed too
            parts.setdefault(part.revision, part)
        if done.returncode == 0:
            break
        why = _last_line(done.stderr)
        if not found:  # nothing rendered: the environment itself fails offline
            for revision in expected:
                if revision not in parts:
                    failed.setdefault(revision, why)
            break
        failed[found[-1].revision] = why
        begin = found[-1].revision
    ordered = [parts[r] for r in expected if r in parts]
    ordered += [p for r, p in parts.items() if r not in expected]  # flagged as unexpected
    told = [mode for mode in modes if mode is not None]
    return ordered, failed, (all(told) if told else None)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def squawk_findings(parts: Sequence[RevisionSQL], wrapped: bool, pg_version: str | None,
                    excluded: Sequence[str] = EXCLUDED_RULES) -> dict[str, list[dict[str, Any]]]:
    """squawk's findings per revision, its lines made 1-based in the revision's own SQL.
    `wrapped`: the upgrade runs in one transaction, so each part is linted inside one."""
    binary = squawk_binary()
    if binary is None:
        raise ProbeUnreachable("squawk is not installed (the squawk-cli package)")
    found: dict[str, list[dict[str, Any]]] = {part.revision: [] for part in parts}
    with tempfile.TemporaryDirectory(prefix="cockpit-risk-") as tmp:
        files: dict[str, str] = {}
        for index, part in enumerate(parts):
            path = Path(tmp) / f"{index:04d}.sql"
            path.write_text(f"BEGIN;\n{part.sql}\nCOMMIT;\n" if wrapped else part.sql)
            files[str(path)] = part.revision
        if not files:
            return found
        args = [binary, "--reporter", "json", f"--exclude={','.join(excluded)}"]
        if pg_version and (number := re.match(r"\d+(?:\.\d+)?", pg_version)):
            args.append(f"--pg-version={number[0]}")  # "17beta1", "18devel": the number
        done = subprocess.run([*args, *files], capture_output=True, text=True,
                              timeout=_RENDER_TIMEOUT_S)
        try:  # 0: nothing found, 1: findings; anything else is squawk failing
            if done.returncode not in (0, 1):
                raise ValueError(_last_line(done.stderr))
            reported = json.loads(done.stdout or "[]")
        except ValueError as exc:
            raise ProbeUnreachable(f"squawk gave no report (exit {done.returncode}): "
                                   f"{exc}") from None
    for item in reported:
        revision = files.get(item.get("file", ""))
        if revision is None:
            continue
        line = int(item.get("line", 0)) + 1 - (1 if wrapped else 0)  # squawk counts from 0
        found[revision].append({**item, "line": line})
    return found


def squawk_version() -> str | None:
    binary = squawk_binary()
    if binary is None:
        return None
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip().removeprefix("squawk ") or None

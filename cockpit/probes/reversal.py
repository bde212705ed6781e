"""What undoing each revision of an upgrade would take — the facts a DBA's rollback decision
needs after a halt: whether its downgrade exists and what it does (its offline SQL, as
`alembic downgrade --sql` renders it), and whether the upgrade removes or overwrites data
that no downgrade brings back. The risk report gives it per revision."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pglast.parser import ParseError

from cockpit.probes.sqlrisk import Statement, statements

# `-- Running downgrade 70a79686336c -> 0023, 0009b`: Alembic's comment before each one
_MARKER = re.compile(r"^-- Running downgrade (?P<rev>\S+) -> ?(?P<down>.*?)\s*$", re.MULTILINE)
_BOOKKEEPING = re.compile(r"\balembic_version\b", re.IGNORECASE)
_RENDER_TIMEOUT_S = 120
# statements whose effect on data no downgrade can bring back, and how to say it
_LOSSES = (
    (re.compile(r"^DROP TABLE\b", re.IGNORECASE), "drops a table"),
    (re.compile(r"^ALTER TABLE\b.*\bDROP (?:COLUMN\b|(?!CONSTRAINT\b|DEFAULT\b|NOT\b)\w+)",
                re.IGNORECASE), "drops a column"),
    (re.compile(r"^TRUNCATE\b", re.IGNORECASE), "truncates a table"),
    (re.compile(r"^DELETE\b", re.IGNORECASE), "deletes rows"),
    (re.compile(r"^UPDATE\b", re.IGNORECASE), "overwrites values"),
    (re.compile(r"^ALTER TABLE\b.*\bTYPE\b", re.IGNORECASE), "changes a column's type"),
)


def render_downgrades(workdir: Path, start: str, path: Sequence[str], env: Mapping[str, str],
                      below_of: Mapping[str, str], options: Sequence[str] = ()
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """Each revision's downgrade SQL from the path's end back to `start`, and the revisions
    whose downgrade fails offline (with why). One rendering of the whole range; when it
    fails, each revision it did not render is rendered on its own (`below_of`: each
    revision's down revisions, as the upgrade's SQL names them), so one revision without a
    downgrade does not hide the others'."""
    parts: dict[str, str] = {}
    failed: dict[str, str] = {}
    ok, said = _render(workdir, f"{path[-1]}:{start}", env, options, parts)
    if ok:
        return parts, failed
    for revision in reversed(path):
        if revision in parts:
            continue
        below = [d.strip() for d in below_of.get(revision, "").split(",") if d.strip()]
        one, why = _render(workdir, f"{revision}:{below[0] if below else 'base'}", env,
                           options, parts)
        if not one:
            parts.pop(revision, None)
            failed[revision] = why or said
    return parts, failed


def _render(workdir: Path, span: str, env: Mapping[str, str], options: Sequence[str],
            parts: dict[str, str]) -> tuple[bool, str]:
    """`alembic downgrade SPAN --sql`: each complete part it wrote added to `parts`
    (a failing run's last part is cut short: left out); (ok, the error's last line)."""
    done = subprocess.run([sys.executable, "-m", "alembic", *options, "downgrade", span,
                           "--sql"], cwd=workdir, env=dict(env), capture_output=True,
                          text=True, timeout=_RENDER_TIMEOUT_S)
    marks = list(_MARKER.finditer(done.stdout))
    complete = marks if done.returncode == 0 else marks[:-1]
    for index, mark in enumerate(complete):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(done.stdout)
        parts.setdefault(mark["rev"], done.stdout[mark.end():end])
    return done.returncode == 0, "" if done.returncode == 0 else _last_line(done.stderr)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _doing(sql: str) -> list[str]:
    """The statements of a downgrade's SQL that do something (Alembic's bookkeeping and
    transaction edges left out), one line each — read by pglast, as the risk gate reads
    the upgrade's; SQL it refuses is given whole, on one line."""
    try:
        found = statements(sql)
    except ParseError:
        text = " ".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
        return [" ".join(text.split())] if text.strip() else []
    return [s.text for s in found
            if s.kind != "TransactionStmt" and not _BOOKKEEPING.search(s.text)]


def losses(upgrade: Sequence[Statement] | str | None) -> list[str]:
    """What the upgrade does to data that a downgrade cannot bring back."""
    if upgrade is None or isinstance(upgrade, str):
        return []
    said = []
    for stmt in upgrade:
        if _BOOKKEEPING.search(stmt.text):
            continue  # Alembic's own version row
        for pattern, what in _LOSSES:
            if pattern.search(stmt.text) and what not in said:
                said.append(what)
    return said


def reversal(path: Sequence[str], downgrades: Mapping[str, str], failed: Mapping[str, str],
             upgrades: Mapping[str, Sequence[Statement] | str]) -> list[dict[str, object]]:
    """Per revision: its downgrade's statements (None: none could be rendered), and a line
    that says what undoing it takes."""
    found: list[dict[str, object]] = []
    for revision in path:
        lost = losses(upgrades.get(revision))
        if revision in failed:
            downgrade: list[str] | None = None
            said = f"no downgrade offline ({failed[revision]})"
        elif revision not in downgrades:
            downgrade, said = None, "its downgrade was not rendered"
        else:
            downgrade = _doing(downgrades[revision])
            said = (f"its downgrade runs {len(downgrade)} statement(s): "
                    + "; ".join(s[:80] for s in downgrade[:3])
                    + (" …" if len(downgrade) > 3 else "")) if downgrade else \
                "its downgrade does nothing"
        if lost:
            said += f"; the upgrade {', '.join(lost)}: its downgrade cannot bring that back"
        found.append({"revision": revision, "downgrade": downgrade, "data_loss": lost,
                      "said": said})
    return found

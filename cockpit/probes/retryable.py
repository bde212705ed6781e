"""Whether an Alembic revision may be run again after a lock timeout: read from its offline
SQL, as the risk gate reads it. A revision whose SQL commits part way (an autocommit block —
`CREATE INDEX CONCURRENTLY` and its like) can leave a change behind when it fails after the
commit, and a run again would meet it; it and every revision after it on the path are not
retryable. The risk report says this per revision before GO; the engine asks it again when
a run ends on its lock timeout."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cockpit.probes.sqlrisk import RevisionSQL, statements

# Alembic's own line as each revision begins: "Running upgrade 0001 -> 0002, message"
_RUNNING = re.compile(r"Running upgrade [^\n]*?-> ([^\s,]+)")


@dataclass(frozen=True)
class Retryable:
    revision: str
    retryable: bool
    why: str


def retryability(parts: Sequence[RevisionSQL], failed: Mapping[str, str],
                 path: Sequence[str]) -> list[Retryable]:
    """Each revision of `path`, in order: retryable while no revision up to it can leave a
    partial change. A revision whose SQL could not be rendered or parsed cannot be told,
    and counts as one that can."""
    sql = {part.revision: part.sql for part in parts}
    found: list[Retryable] = []
    first: str | None = None  # the first revision that can leave a partial change
    for revision in path:
        if first is not None:
            found.append(Retryable(revision, False, f"{revision}: it runs after {first}, "
                                                    "which can leave a partial change"))
            continue
        cause = _partial_cause(revision, sql.get(revision), failed.get(revision))
        if cause is not None:
            first = revision
        found.append(Retryable(revision, cause is None, cause or (
            "no autocommit block up to here: a lock timeout rolls it back whole")))
    return found


def _partial_cause(revision: str, sql: str | None, failure: str | None) -> str | None:
    if sql is None or failure is not None:  # a part rendered before a failure is not all
        return (f"{revision}: its offline SQL could not be rendered "
                f"({failure or 'Alembic wrote no part for it'}), so a partial change "
                "cannot be ruled out")
    try:
        read = statements(sql)
    except Exception as exc:  # pglast's ParseError, whatever its form: not told
        return f"{revision}: its SQL does not parse ({exc}), so a partial change cannot be " \
               "ruled out"
    for index, stmt in enumerate(read):
        if "transaction-commit" in stmt.flags and index + 1 < len(read):
            after = read[index + 1]
            return (f"{revision}: an autocommit block (line {after.line}: "
                    f"{after.text[:80]}) commits part way, so a failure after it can leave a "
                    "change behind")
    return None


def last_revision_run(log: str) -> str | None:
    """The revision an upgrade's log shows running last (Alembic logs each as it begins):
    the one a lock timeout stopped. None: the log names none."""
    found = _RUNNING.findall(log)
    return found[-1] if found else None


def partial_possible(workdir: Path, options: Sequence[str], env: Mapping[str, str],
                     start: Sequence[str], path: Sequence[str], failing: str | None
                     ) -> str | None:
    """Why a run of `path` from `start` that stopped at `failing` (None: not known, so the
    whole path counts) could have left a partial change; None if it could not."""
    from cockpit.probes.risktools import render_offline  # Alembic, as a subprocess

    if len(start) > 1:
        return "the database has several revisions, so the offline SQL cannot be rendered"
    upto = list(path[:path.index(failing) + 1]) if failing in path else list(path)
    if not upto:
        return "the upgrade's path is not known, so a partial change cannot be ruled out"
    begin = start[0] if start else "base"
    try:  # the whole path, as the upgrade walks it (a branch's revision need not be an
        # ancestor of the failing one), judged up to the failing one
        parts, failed, _one = render_offline(workdir, begin, path[-1], env, path, options)
    except Exception as exc:  # a render that cannot run: not told, so not retried
        return f"the offline SQL could not be rendered ({exc})"
    for item in retryability(parts, failed, upto):
        if not item.retryable:
            return item.why
    return None

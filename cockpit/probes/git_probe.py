"""The backend repository's HEAD is the commit (or tag) that passed the clone rehearsal, and
the working tree holds nothing uncommitted that would run instead."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit.probes.registry import ProbeContext, ProbeResult, register
from cockpit.runbook.paths import resolve


def _git(repo: str, *args: str) -> str:
    done = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout.strip()


def git_head(repo: Path) -> str | None:
    """The repository's HEAD commit; None when it is no repository (or git is missing)."""
    try:
        return _git(str(repo), "rev-parse", "HEAD")
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return None


def git_dirty(repo: Path) -> bool:
    """Whether tracked files differ from HEAD (what would run is not the commit)."""
    try:
        return bool(_git(str(repo), "status", "--porcelain", "--untracked-files=no"))
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False


@register("git.commit_matches")
def probe_commit_matches(ctx: ProbeContext, expected: Any,
                         args: Mapping[str, Any]) -> ProbeResult:
    repo = str(resolve(ctx.workdir, str(args.get("repo", "."))))
    try:
        head = _git(repo, "rev-parse", "HEAD")
        tags = _git(repo, "tag", "--points-at", "HEAD").split()
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return ProbeResult(False, None, f"cannot read the repository at {repo}: {exc}")
    wanted = str(expected or "").strip()
    matches = bool(wanted) and (wanted in tags or (len(wanted) >= 7 and head.startswith(wanted)))
    observed = {"head": head, "tags": tags, "dirty": bool(dirty)}
    if dirty:
        return ProbeResult(False, observed, "the working tree has uncommitted changes")
    detail = (f"HEAD {head[:12]} ({', '.join(tags) or 'no tag'})"
              + ("" if matches else f" is not {wanted!r}"))
    return ProbeResult(matches, observed, detail)

"""A `per_revision` step's run, planned as it starts: the revisions of its path from where the
database stands, each with the approved command's target changed to it, up to the first hold
the operator has not let it past. The plan goes to a file the step's command (revisions.py)
reads; refused — nothing started — when the path cannot be known or the command's target
cannot be changed, since a step that ran whole instead would leave a halt's aftermath
other than the runbook says."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from cockpit.engine.core import ActionRefused
from cockpit.runbook.commands import with_target
from cockpit.runbook.model import CommandStep
from cockpit.runbook.targets import command_targets
from cockpit.session.runfiles import RunFiles
from cockpit.session.state import StepState


@dataclass(frozen=True)
class RevisionPlan:
    command: str  # what the supervisor runs: the plan's runner
    revisions: list[str]
    stop_before: str | None


def python_command(*args: str) -> str:
    """This interpreter running `args`, as one line for the step's shell (cmd.exe on
    Windows, sh elsewhere)."""
    words = [sys.executable, *args]
    return subprocess.list2cmdline(words) if os.name == "nt" else shlex.join(words)


def plan_run(step: CommandStep, path: list[str] | None, so_far: StepState | None,
             files: RunFiles) -> RevisionPlan:
    """The run's plan, written beside its spec. `path`: the revisions from the database's
    current one to the target, as worked out at the start (None or []: not known)."""
    if not path:
        raise ActionRefused(f"step '{step.id}' runs one revision at a time, and its path "
                            "could not be worked out (the database's revision unreadable, "
                            "or nothing left to upgrade): nothing was started")
    found = command_targets(step.command)
    target = found[1][0] if found and found[1] else None
    released = so_far.released if so_far else []
    committed = len(so_far.committed) if so_far else 0
    done = set(so_far.committed if so_far else []) | set(released)
    for hold in step.holds:  # a hold the path does not hold would silently never hold
        if hold not in path and hold not in done:
            raise ActionRefused(f"step '{step.id}': hold_before {hold} is not on this "
                                f"upgrade's path ({', '.join(path)}): already applied, or not "
                                "on the way to the target, so it cannot hold; fix the "
                                "runbook (nothing was started)")
    revisions: list[dict[str, Any]] = []
    stop_before: dict[str, Any] | None = None
    for index, revision in enumerate(path, start=committed + 1):
        command = with_target(step.command, target, revision) if target else None
        if command is None:
            raise ActionRefused(f"step '{step.id}': its upgrade target cannot be changed "
                                f"to one revision in `{step.command}`; nothing was started")
        item = {"rev": revision, "command": command, "index": index,
                "of": committed + len(path)}
        if revision in step.holds and revision not in released:
            stop_before = item
            break
        revisions.append(item)
    files.revisions.write_text(json.dumps({
        "revisions": revisions, "stop_before": stop_before, "pause": str(files.pause),
        "result": str(files.revisions_done)}), encoding="utf-8")
    return RevisionPlan(python_command("-m", "cockpit.engine.revisions", str(files.revisions)),
                        [r["rev"] for r in revisions],
                        stop_before["rev"] if stop_before else None)


def run_result(files: RunFiles) -> dict[str, Any]:
    """What the plan's runner did (nothing, if it never wrote: a run stopped before its
    first revision ended)."""
    try:
        found = json.loads(files.revisions_done.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"done": []} if files.revisions.exists() else {}
    return found if isinstance(found, dict) else {}

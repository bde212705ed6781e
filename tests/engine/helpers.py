"""Runbooks of ordinary shell commands, and ways to run the real `cockpit` on them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

HEAD = """
format = 1
id = "shell-rehearsal"
title = "Shell rehearsal"
production = {production}

[gates]
heading = "Gates"
items = [
  {{ kind = "attestation", id = "signoff", text = "Sign-off received" }},
  {{ kind = "attestation_file", id = "freeze", text = "Freeze attested (`freeze.log`)", path = "freeze.log" }},
]
"""

TAIL = """
[halt]
heading = "Halt-and-Contain"
items = [
  { kind = "halt", id = "h-stop", action = "stop", text = "Stop execution immediately" },
  { kind = "halt", id = "h-preserve", action = "preserve", text = "Preserve all logs" },
  { kind = "halt", id = "h-blocker", action = "record_blocker", text = "Record blocker + root cause" },
  { kind = "halt", id = "h-escalate", action = "escalate", text = "Escalate to governance" },
  { kind = "halt", id = "h-no-more", action = "no_further_commands", text = "Do not continue" },
]

[decision]
heading = "Decision"
items = [
  { kind = "field", id = "status", label = "Status", allowed = ["PASS", "BLOCKER"], role = "status" },
  { kind = "field", id = "errors", label = "Errors", role = "errors" },
  { kind = "field", id = "root_cause", label = "Root-cause classification", role = "root_cause" },
]

[[abort_rules]]
id = "duplicate-table"
label = "`DuplicateTable`"
patterns = ['\\bDuplicateTable\\b', 'relation "[^"]+" already exists']
"""

# Each step appends its id to ran.txt, so a test can count how often each one ran.
ORDINARY = [
    ("hello", "echo hello; echo hello >> ran.txt"),
    ("count", "for i in 1 2 3; do echo tick $i; sleep 0.1; done; echo count >> ran.txt"),
    ("last", "echo last >> ran.txt; echo done"),
]


def phase(phase_id: str, steps: list[tuple[str, str]], extra: str = "",
          confirm: str | None = None, read_only: bool = False) -> str:
    """A phase of command steps; `confirm`: the word each asks for, or `read_only` (a
    production runbook needs one or the other on every command)."""
    lines = [f'[[phases]]\nid = "{phase_id}"\nheading = "Phase {phase_id}"\nsteps = [']
    asked = f', confirm = "{confirm}"' if confirm else ", read_only = true" if read_only else ""
    for step_id, command in steps:
        escaped = command.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  {{ kind = "command", id = "{step_id}", command = "{escaped}", '
                     f'log = "logs/{step_id}.log"{asked} }},')
    if extra:
        lines.append(extra)
    lines.append("]")
    return "\n".join(lines) + "\n"


def write_world(tmp_path: Path, phases: list[str], production: bool = False) -> Path:
    """A working directory with the freeze attestation, and the runbook in it."""
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("write freeze in force\n")
    text = HEAD.format(production=str(production).lower()) + "\n".join(phases) + TAIL
    path = world / "runbook.toml"
    path.write_text(text)
    return path


def ordinary_world(tmp_path: Path, steps: list[tuple[str, str]] | None = None) -> Path:
    return write_world(tmp_path, [phase("P0", steps or ORDINARY)])


def cockpit(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def ran(world: Path) -> list[str]:
    path = world / "ran.txt"
    return path.read_text().split() if path.exists() else []

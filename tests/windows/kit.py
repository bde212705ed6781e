"""Runbooks whose steps are the same text under cmd.exe and sh (`python -c "..."`), and the
database the Windows step is given: the tests in this folder run on Linux in the suite and on
the Windows interpreter under Wine in `.ci/run`'s last step (docs/windows.md)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.engine.helpers import TAIL
from tests.run import cockpit

WINDOWS = os.name == "nt"
# The Linux side's PostgreSQL 15 over TLS, for the Windows step: .ci/wine/serve.py starts it.
DSN_VARIABLE = "COCKPIT_WINDOWS_DSN"

def py(code: str) -> str:
    """A step command running `code` with the steps' Python: one text for cmd.exe and sh
    (`code` uses single quotes only)."""
    assert '"' not in code and "%" not in code and "$" not in code
    return f'python -c "{code}"'


def runbook(folder: Path, steps: list[tuple[str, str]], extra: str = "",
            gates: str = "", setup: str = "") -> Path:
    """`runbook.toml` in `folder` (made), with `freeze.log` beside it for its file gate: one
    phase of `steps` (id, command), each step's extra TOML fields in `extra` by id."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "freeze.log").write_bytes(b"write freeze in force\n")
    lines = ['format = 1', 'id = "windows-rehearsal"', 'title = "Windows rehearsal"',
             "production = false", "", "[gates]", 'heading = "Gates"', "items = [",
             '  { kind = "attestation", id = "signoff", text = "Sign-off received" },',
             '  { kind = "attestation_file", id = "freeze", text = "Freeze attested '
             '(`freeze.log`)", path = "freeze.log", must_contain = "write freeze" },',
             gates, "]", setup, "", "[[phases]]", 'id = "P0"', 'heading = "Phase P0"',
             "steps = ["]
    for step_id, command in steps:
        more = extra if extra.startswith(f"{step_id}:") else ""
        fields = more.split(":", 1)[1] if more else ""
        lines.append(f"  {{ kind = \"command\", id = \"{step_id}\", command = "
                     f"{json.dumps(command)}, log = \"logs/{step_id}.log\"{fields} }},")
    lines += ["]", TAIL]  # halt, decision and abort rule, as the engine's tests have them
    path = folder / "runbook.toml"
    path.write_bytes("\n".join(lines).encode("utf-8"))
    return path


def run(path: Path, session: Path, *more: str, timeout: float = 240,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return cockpit("run", str(path), "--headless", "--assume-yes", "--session", str(session),
                   *more, timeout=timeout, env=env)


def events(session: Path) -> list[dict[str, object]]:
    raw = (session / "events.jsonl").read_bytes()
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def copy_tree(source: Path, target: Path, skip: tuple[str, ...] = ()) -> int:
    """Every file under `source` copied below `target` (folders made), but the names in
    `skip`; how many. Not shutil.copytree: Wine 8 lacks CopyFile2, which copy2 calls."""
    count = 0
    for path in source.rglob("*"):
        if path.is_file() and path.name not in skip:
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())
            count += 1
    return count

"""Headless on day one: every revision an upgrade runs gets its line, however fast they come,
and Ctrl-C says that the step goes on under its supervisor and how to take it up again."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from tests.engine.helpers import ORDINARY, cockpit, phase, ran, write_world
from tests.run import as_a_terminal_starts_it, start_cockpit
from tests.waiting import wait_until, within

# Four revisions at once, as a fast Alembic prints them: one poll sees them all.
FAKE_ALEMBIC = """#!/bin/sh
for r in 1 2 3 4; do
  echo "INFO  [alembic.runtime.migration] Running upgrade r$((r-1)) -> r$r, step $r"
done
"""


def test_headless_prints_every_revision_of_an_upgrade(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("upgrade", "./alembic upgrade head")])])
    fake = runbook.parent / "alembic"
    fake.write_text(FAKE_ALEMBIC)
    fake.chmod(0o755)
    result = cockpit("run", str(runbook), "--headless", "--assume-yes",
                     "--session", str(tmp_path / "s"), env={"DATABASE_URL": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    told = [line for line in result.stdout.splitlines() if line.startswith("[upgrade] ──")]
    assert [re.search(r"revision (\d+)", line)[1] for line in told] == ["1", "2", "3", "4"], \
        result.stdout  # type: ignore[index]
    assert [line.split(": ", 1)[1].split()[0] for line in told] == ["r1", "r2", "r3", "r4"]


def _wait_for(proc: subprocess.Popen[str], lines: list[str], needle: str, timeout: float) -> None:
    stdout = proc.stdout
    assert stdout is not None

    def printed() -> bool:  # a line at a time: readline itself waits for the next
        line = stdout.readline()
        assert line, f"{needle!r} never printed: {lines}"
        lines.append(line.rstrip("\n"))
        return needle in line

    wait_until(printed, f"{needle!r} printed: {lines}", timeout, every_s=0)


def _interrupted_run(tmp_path: Path) -> tuple[Path, Path, str, int]:
    """A headless run Ctrl-C'd while its first step runs: (world, session, what it printed,
    its exit code)."""
    slow = "echo slow-start; sleep 2; echo slow >> ran.txt"
    runbook = write_world(tmp_path, [phase("P0", [("slow", slow), ORDINARY[2]])])
    session = tmp_path / "s"
    # its own process group, as a terminal's foreground job: Ctrl-C signals the whole group
    proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                         str(session), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, preexec_fn=as_a_terminal_starts_it)
    lines: list[str] = []
    try:
        _wait_for(proc, lines, "[slow] slow-start", 60)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return runbook.parent, session, "\n".join(lines) + "\n" + out + err, proc.returncode


def _step_ended(world: Path) -> bool:
    within(lambda: "slow" in ran(world), deadline_s=30, every_s=0.1)
    return ran(world) == ["slow"]


def test_headless_ctrl_c_says_the_step_goes_on_and_prints_the_resume_command(
        tmp_path: Path) -> None:
    world, session, said, code = _interrupted_run(tmp_path)
    assert code == 130, said
    assert "interrupted: step slow goes on under its supervisor" in said, said
    assert f"to take the session up again: cockpit resume {session} --headless --assume-yes" \
        in said, said
    assert _step_ended(world)  # it did go on, with no cockpit


@pytest.mark.slow
def test_the_resume_command_printed_at_ctrl_c_takes_the_run_to_pass(tmp_path: Path) -> None:
    world, _session, said, _code = _interrupted_run(tmp_path)
    resume = said.split("to take the session up again: ", 1)[1].splitlines()[0]
    assert _step_ended(world)
    again = cockpit(*shlex.split(resume)[1:])
    assert again.returncode == 0, again.stdout + again.stderr
    assert ran(world) == ["slow", "last"] and "DECISION: PASS" in again.stdout

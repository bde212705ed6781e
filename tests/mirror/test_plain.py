"""The plain mirror beside a running operator: every event and every output line, in order,
and nothing written to the session."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO
from tests.engine.helpers import HOSTILE_SHOWN, assert_inert, phase, run_hostile, write_world
from tests.run import COCKPIT, cockpit, start_cockpit
from tests.waiting import LineReader

STEPS = [(f"s{i}", f"for n in $(seq 1 30); do echo s{i} line $n; sleep 0.01; done")
         for i in range(3)]



def test_plain_mirror_prints_every_event_and_line_in_order(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:2]), phase("P1", STEPS[2:])])
    session = tmp_path / "s"
    mirror = start_cockpit("mirror", str(session), "--plain", "--from-start", "--wait", "60",
                           stdout=subprocess.PIPE)
    operator = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session))
    assert operator.returncode == 0, operator.stdout + operator.stderr
    out, _ = mirror.communicate(timeout=30)
    assert mirror.returncode == 0
    lines = out.splitlines()
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    printed = [line for line in lines if not line.startswith("[")]
    assert [line.split()[2] for line in printed] == [e["type"] for e in events]
    for step, _ in STEPS:
        shown = [line for line in lines if line.startswith(f"[{step}] ")]
        assert shown == [f"[{step}] {step} line {n}" for n in range(1, 31)]
        finished = next(i for i, line in enumerate(lines)
                        if " step_finished " in line and re.search(rf" step={step}\b", line))
        assert max(i for i, line in enumerate(lines) if line.startswith(f"[{step}] ")) < finished


def test_plain_mirror_into_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:1])])
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
                   text=False).returncode == 0
    mirror = shlex.join([*COCKPIT, "mirror", str(session), "--plain",
                         "--from-start"])
    piped = subprocess.run(f"{mirror} | head -2; exit ${{PIPESTATUS[0]}}", shell=True,
                           executable="bash",
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == "" and len(piped.stdout.splitlines()) == 2


def test_plain_mirror_says_when_the_operator_closed_an_unfinished_session(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:1])])
    (runbook.parent / "freeze.log").unlink()  # a gate stays open: the operator stops, NO-GO
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
                   text=False).returncode == 3
    mirror = start_cockpit("mirror", str(session), "--plain", stdout=subprocess.PIPE)
    reader = LineReader(mirror.stdout)
    reader.wait_for("-- operator's cockpit is CLOSED — waiting for resume")
    mirror.terminate()
    mirror.wait(10)
    reader.text()


def test_a_folder_that_is_not_a_session_is_refused_at_once(tmp_path: Path) -> None:
    for folder, said in ((tmp_path / "nope", "no such folder"),
                         (tmp_path, "not a session folder (no events.jsonl)")):
        started = time.monotonic()
        done = cockpit("mirror", str(folder), "--plain", timeout=30)
        assert done.returncode == 1 and f"{folder}: {said}" in done.stderr
        assert "Traceback" not in done.stderr and time.monotonic() - started < 10


def test_step_output_escape_sequences_are_inert_in_the_plain_mirror(tmp_path: Path) -> None:
    """Invariant 11: `mirror --plain` shows the step's lines, its `last_line=` and the halt's
    line as caret text; the log keeps the bytes as printed (run_hostile checks)."""
    _run, session = run_hostile(tmp_path)
    done = cockpit("mirror", str(session), "--plain", "--from-start", timeout=60, text=False)
    assert done.returncode == 0, done.stderr
    lines = assert_inert(done.stdout, "mirror --plain stdout").splitlines()
    assert [line for line in lines if line.startswith("[hostile] ")] == \
        [f"[hostile] {line}" for line in HOSTILE_SHOWN]
    finished = next(line for line in lines if " step_finished " in line)
    assert f"last_line={HOSTILE_SHOWN[-1]}" in finished
    assert f"line={HOSTILE_SHOWN[-1]}" in next(line for line in lines if " halted " in line)

"""A step stays inside its bounds whatever happens to its supervisor or its children: its
`timeout` is enforced from outside the supervisor too, and processes it leaves behind in its
process group are named, stopped and fail it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

from cockpit.evidence.verify import verify_session
from tests.engine.helpers import cockpit, phase, ran, write_world
from tests.run import start_cockpit
from tests.waiting import wait_until


def _events(session: Path) -> list[dict]:
    lines = (session / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (its parent has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_stopped_supervisor_cannot_escape_its_steps_timeout(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [
        ("slow", "echo begun; sleep 600"), ("after", "echo after >> ran.txt")])])
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/slow.log" }', 'log = "logs/slow.log", timeout = "1s" }'))
    session = tmp_path / "s"
    started = time.monotonic()
    operator = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                             str(session), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run_record, log = session / "steps" / "slow.1.run.json", session / "steps" / "slow.1.log"
    wait_until(lambda: run_record.exists() and log.exists() and log.read_bytes(),
               "the step's first output", 30)
    pids = json.loads(run_record.read_text())
    os.kill(pids["supervisor_pid"], signal.SIGSTOP)  # it will never act on its timeout
    try:
        out, err = operator.communicate(timeout=90)
    finally:
        if operator.poll() is None:
            operator.kill()
        if not _gone(pids["supervisor_pid"]):
            os.kill(pids["supervisor_pid"], signal.SIGKILL)
    took = time.monotonic() - started
    assert operator.returncode == 2, out + err
    assert took < 60, took  # the timeout (1 s) and the outside grace, not the 600 s sleep
    assert _gone(pids["supervisor_pid"]) and _gone(pids["child_pid"])
    finished = next(e for e in _events(session) if e["type"] == "step_finished")["data"]
    assert finished["ok"] is False and finished["abort"]["rule"] == "timeout"
    assert "supervisor" in finished["abort"]["line"]  # said: enforced from outside it
    halted = next(e for e in _events(session) if e["type"] == "halted")["data"]
    assert halted["reason"] == "step slow reached its timeout (1s)"
    record = json.loads((session / "steps" / "slow.1.exit.json").read_text())
    ran_s = (datetime.fromisoformat(record["ended_at"].replace("Z", "+00:00"))
             - datetime.fromisoformat(pids["started_at"].replace("Z", "+00:00")))
    assert ran_s.total_seconds() < 15, record  # 1 s, the 2 s grace, the stop: not 600 s
    assert log.read_bytes() == b"begun\n" and record["bytes"] == 6 and record["lines"] == 1
    assert record["last_line"] == "begun"
    assert record["sha256"] == finished["sha256"]
    assert ran(runbook.parent) == []
    assert verify_session(session).problems == []


def test_processes_a_step_leaves_in_its_group_are_listed_stopped_and_fail_it(
        tmp_path: Path) -> None:
    # one left holding the step's output, one that let go of it; then the main child exits
    command = "sleep 301 & sleep 302 >/dev/null 2>&1 & echo started"
    runbook = write_world(tmp_path, [phase("P0", [
        ("spawner", command), ("after", "echo after >> ran.txt")])])
    session = tmp_path / "s"
    started = time.monotonic()
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert time.monotonic() - started < 20
    record = json.loads((session / "steps" / "spawner.1.exit.json").read_text())
    left = record["leftover"]
    commands = sorted(p["command"] for p in left)
    assert commands == ["sleep 301", "sleep 302"], left
    assert all(_gone(p["pid"]) for p in left)
    assert record["exit_code"] == 0  # the main child ended well; what it left did not
    finished = next(e for e in _events(session) if e["type"] == "step_finished")["data"]
    assert finished["ok"] is False
    assert "sleep 301" in finished["detail"] and "sleep 302" in finished["detail"], \
        finished["detail"]
    assert ran(runbook.parent) == []
    assert f"pid {left[0]['pid']}" in done.stdout  # said where the operator sees it

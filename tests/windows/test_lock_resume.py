"""Two cockpits on one session (the lock: msvcrt on Windows), the cockpit killed mid-step
(TerminateProcess, as `taskkill /F` does) while its detached supervisor runs on, `status`
calling the lock stale, and `resume --take-over` re-attaching to the step and ending PASS."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until
from tests.windows.kit import events, py, runbook

# Waits for go.txt in its working directory, so the test decides when it ends.
WAIT = py("import os, time; print('waiting', flush=True); "
          "[time.sleep(0.1) for _ in iter(lambda: os.path.exists('go.txt'), True)]; "
          "print('went')")


def test_a_killed_cockpit_is_refused_to_a_second_then_resumed_to_pass(tmp_path: Path) -> None:
    world = tmp_path / "world"
    path = runbook(world, [("wait", WAIT), ("after", py("print('after')"))])
    session = tmp_path / "session"
    first = start_cockpit("run", str(path), "--headless", "--assume-yes", "--session",
                          str(session), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        log = session / "steps" / "wait.1.log"
        wait_until(lambda: log.exists() and b"waiting" in log.read_bytes(),
                   "the step started", 90, 0.2)
        # A second cockpit on the same session is refused while the first holds it.
        second = cockpit("resume", str(session), "--headless", "--assume-yes", timeout=120)
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"pid {first.pid}" in second.stderr and "one operator at a time" in second.stderr
        first.kill()  # TerminateProcess: no clean-up runs, as with taskkill /F
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=30)
    status = cockpit("status", str(session))
    assert "STALE" in status.stdout, status.stdout + status.stderr
    (world / "go.txt").write_bytes(b"go\n")
    resumed = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over",
                      timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    ran = [e["data"]["run"] for e in events(session) if e["type"] == "step_finished"]
    assert ran == ["wait.1", "after.1"], ran  # re-attached: the step was not run again
    assert (session / "steps" / "wait.1.log").read_bytes().split() == [b"waiting", b"went"]
    decided = [e["data"] for e in events(session) if e["type"] == "decision_recorded"]
    assert decided[-1]["fields"]["status"] == "PASS"
    verified = cockpit("verify", str(session))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_step_past_its_timeout_is_stopped_and_the_run_halts(tmp_path: Path) -> None:
    path = runbook(tmp_path / "world",
                   [("sleepy", py("import time; print('sleeping', flush=True); time.sleep(300)")),
                    ("never", py("print('never')"))],
                   extra='sleepy:, timeout = "3s"')
    session = tmp_path / "session"
    began = time.monotonic()
    done = cockpit("run", str(path), "--headless", "--assume-yes", "--session", str(session),
                   timeout=240)
    took = time.monotonic() - began
    assert done.returncode == 2, done.stdout + done.stderr  # halted
    assert took < 60, took  # the supervisor stopped it, not the cockpit's 30 s backstop
    record = json.loads((session / "steps" / "sleepy.1.exit.json").read_text(encoding="utf-8"))
    assert record["abort"]["rule"] == "timeout" and record["ended_at"], record
    assert record.get("ended_by") is None and record["supervisor_pid"], record
    err = session / "steps" / "sleepy.1.err"
    assert not err.exists() or not err.read_bytes().strip(), err.read_text(errors="replace")
    assert not (session / "steps" / "never.1.log").exists()
    assert "sleeping" in (session / "steps" / "sleepy.1.log").read_text(encoding="utf-8")

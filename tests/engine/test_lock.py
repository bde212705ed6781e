"""One writer per session: a second operator is refused by name; a dead holder's lock is
taken over only on request, and the takeover is an event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.engine.helpers import (
    cockpit,
    lock_free,
    lock_holder,
    ordinary_world,
    phase,
    ran,
    write_world,
)
from tests.run import as_a_terminal_starts_it, start_cockpit
from tests.waiting import wait_until


def _stopped_session(tmp_path: Path) -> Path:
    """A session halted at an open gate (exit 3), so it can be resumed."""
    runbook = write_world(tmp_path, [phase("P0", [("a", "echo a")])])
    (runbook.parent / "freeze.log").unlink()
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(session)).returncode == 3
    return session




def test_second_operator_is_refused_naming_the_first(tmp_path: Path) -> None:
    session = _stopped_session(tmp_path)
    holder = lock_holder(session)
    try:
        result = cockpit("resume", str(session), "--headless", "--assume-yes")
        assert result.returncode == 3
        assert f"pid {holder.pid}" in result.stderr and "driven by" in result.stderr
        # even with --take-over: the holder is alive
        forced = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
        assert forced.returncode == 3 and f"pid {holder.pid}" in forced.stderr
    finally:
        holder.kill()
        holder.wait()


def test_dead_holders_lock_is_taken_over_only_with_the_flag(tmp_path: Path) -> None:
    session = _stopped_session(tmp_path)
    holder = lock_holder(session)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    wait_until(lambda: lock_free(session), "the dead holder's lock to be let go")
    refused = cockpit("resume", str(session), "--headless", "--assume-yes")
    assert refused.returncode == 3 and "--take-over" in refused.stderr
    assert f"pid {holder.pid}" in refused.stderr
    taken = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
    assert taken.returncode == 3  # still NO-GO (the freeze file is missing), but it ran
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    takeover = [e for e in events if e["type"] == "lock_taken_over"]
    assert len(takeover) == 1 and takeover[0]["data"]["previous"]["pid"] == holder.pid


def test_clean_exit_leaves_no_stale_lock(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(session)).returncode == 0
    assert cockpit("resume", str(session), "--headless").returncode == 0


def test_a_hang_up_mid_step_ends_a_headless_cockpit_at_once_and_resume_needs_no_take_over(
        tmp_path: Path) -> None:
    """The terminal goes away while a step runs: the cockpit ends (129) at its next look at
    the step, releasing the lock; the step goes on under its supervisor; resume finishes it."""
    runbook = ordinary_world(tmp_path, [("slow", "echo started; sleep 3; echo slow >> ran.txt"),
                                        ("after", "echo after >> ran.txt")])
    session = tmp_path / "s"
    proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                         str(session), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=as_a_terminal_starts_it)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("[slow] started"):
            break
    sent = time.monotonic()
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(10) == 129
    assert time.monotonic() - sent < 1.5  # at its next look, not the hard way (2 s and more)
    assert not (session / "holder.json").exists()
    assert ran(runbook.parent) == []  # the step still runs, on its own
    resumed = cockpit("resume", str(session), "--headless", "--assume-yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ran(runbook.parent) == ["slow", "after"]  # each once

"""How a hang-up ends a cockpit process, each rule with a real SIGHUP sent to a small program
built on `cockpit.engine.hangup`: at once inside a block of our own, at the next safe point
otherwise, through the app's exit in a screen — and, should none of these end it, the hard
way within seconds, its cleanups (the lock, the world) run first. `nohup` is obeyed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.session.lock import SessionLock
from tests.conftest import REPO
from tests.run import as_a_terminal_starts_it

PROGRAM = """
import sys, time
from pathlib import Path
from cockpit.engine import hangup

done = Path(sys.argv[2])
hangup.install()
if sys.argv[1] == "stuck-cleanup":  # runs last, and never ends (a lock the main thread holds)
    hangup.add_cleanup(lambda: time.sleep(60))
if sys.argv[1] == "lock-held":
    from cockpit.session.lock import SessionLock, release_if_mine
    SessionLock.acquire(done.parent / "session")
    hangup.add_cleanup(lambda: release_if_mine(done.parent / "session"))
hangup.add_cleanup(lambda: done.write_text("cleaned up"))

class StuckApp:  # a screen whose exit never ends it (a terminal gone while it started)
    def exit(self):
        done.with_suffix(".exit").write_text("asked")

def ready():
    print("ready", flush=True)

try:
    if sys.argv[1] == "interruptible":
        with hangup.interruptible():
            ready()
            time.sleep(60)
    elif sys.argv[1] in ("engine-busy", "stuck-cleanup", "lock-held"):
        ready()
        time.sleep(60)  # no safe point reached: the hard way
    elif sys.argv[1] == "safe-point":
        ready()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            hangup.check()
    elif sys.argv[1] == "stuck-screen":
        with hangup.screen(StuckApp()):
            ready()
            time.sleep(60)
except hangup.HangUp:
    done.write_text("raised")
    sys.exit(hangup.EXIT_HANGUP)
sys.exit(0)
"""


def _hang_up(case: str, tmp_path: Path, ignore: bool = False,
             wait_s: float = 10) -> tuple[int, float, str]:
    done = tmp_path / "done"
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, case, str(done)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
                            if ignore else as_a_terminal_starts_it)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGHUP)
    try:
        code = proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -1, time.monotonic() - sent, ""
    text = done.read_text() if done.exists() else ""
    return code, time.monotonic() - sent, text


def test_a_hang_up_in_a_block_of_our_own_is_raised_there_at_once(tmp_path: Path) -> None:
    code, seconds, done = _hang_up("interruptible", tmp_path)
    assert (code, done) == (129, "raised") and seconds < 1.5


def test_a_hang_up_while_the_engine_writes_waits_for_the_next_safe_point(
        tmp_path: Path) -> None:
    code, seconds, done = _hang_up("safe-point", tmp_path)
    assert (code, done) == (129, "raised") and seconds < 1.5


@pytest.mark.parametrize("case", ["engine-busy", "stuck-screen", "stuck-cleanup"])
def test_a_cockpit_that_does_not_end_is_ended_the_hard_way_after_its_cleanups(
        tmp_path: Path, case: str) -> None:
    code, seconds, done = _hang_up(case, tmp_path)
    assert code == 129 and done == "cleaned up"
    assert 1.5 < seconds < 5
    if case == "stuck-screen":
        assert (tmp_path / "done.exit").read_text() == "asked"  # it was asked first


def test_a_cockpit_ended_the_hard_way_leaves_a_lock_resume_takes_without_take_over(
        tmp_path: Path) -> None:
    (tmp_path / "session").mkdir()
    code, _seconds, done = _hang_up("lock-held", tmp_path)
    assert code == 129 and done == "cleaned up"
    assert not (tmp_path / "session" / "holder.json").exists()
    SessionLock.acquire(tmp_path / "session").release()  # no --take-over needed


def test_nohup_is_obeyed(tmp_path: Path) -> None:
    # Longer than any grace the cockpit gives itself before ending the hard way.
    code, _seconds, done = _hang_up("interruptible", tmp_path, ignore=True, wait_s=4)
    assert code == -1 and done == ""  # still running when the test gave up on it

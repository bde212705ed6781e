"""Invariant 7 on the real rehearsal: `cockpit demo --headless` killed — its whole process
group, SIGKILL — at over a hundred moments of one run: after each of its events, and at
several delays just after each `step_started`. The supervisors live on (their own
sessions), so a step that was running finishes; every time, `resume --take-over --headless`
brings the session to PASS and `verify` is green, and no step ran twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.run import cockpit, start_cockpit
from tests.waiting import let_time_pass, wait_until

pytestmark = pytest.mark.slow
DELAYS_AFTER_START = (0.005, 0.02, 0.06, 0.15, 0.3)  # seconds after a step_started


@dataclass(frozen=True)
class KillPoint:
    after_events: int  # kill once this many events are written ...
    delay: float = 0.0  # ... and this long after that (for step_started moments)

    def __str__(self) -> str:
        return f"after event {self.after_events}" + (f" +{self.delay * 1000:.0f} ms"
                                                     if self.delay else "")


def _events(session: Path) -> list[dict]:
    try:
        text = (session / "events.jsonl").read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def _demo(base: Path) -> subprocess.Popen[bytes]:
    return start_cockpit("demo", "--headless", "--session", str(base / "s"), "--workspace",
                         str(base / "w"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)  # a group of its own, killed whole


def _workspace() -> Path:
    # Not pytest's tmp_path: a private folder would move each world's database elsewhere.
    base = Path(tempfile.mkdtemp(prefix="cockpit-crash-"))
    base.chmod(0o755)
    return base


def _crash_once(point: KillPoint) -> dict:
    base = _workspace()
    try:
        proc = _demo(base)

        def reached() -> bool:
            assert proc.poll() is None, f"{point}: ended early"
            return len(_events(base / "s")) >= point.after_events

        wait_until(reached, f"{point}: its events", 300, every_s=0.002)
        let_time_pass(point.delay)  # the kill's moment past that event
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before = _events(base / "s")
        started = {e["data"]["run"] for e in before if e["type"] == "step_started"}
        finished = {e["data"]["run"] for e in before if e["type"] == "step_finished"}
        resumed = cockpit("resume", str(base / "s"), "--take-over", "--headless", timeout=600)
        assert resumed.returncode == 0, f"{point}: {resumed.stdout[-3000:]}{resumed.stderr}"
        assert resumed.stdout.splitlines()[-1] == "DECISION: PASS", point
        checked = cockpit("verify", str(base / "s"), timeout=600)
        assert checked.returncode == 0, f"{point}: {checked.stderr}"
        events = _events(base / "s")
        runs = [e["data"]["step"] for e in events if e["type"] == "step_finished"]
        assert len(runs) == len(set(runs)), f"{point}: a step finished twice: {runs}"
        return {"point": str(point), "during_step": bool(started - finished),
                "not_started": sum(e["type"] == "step_not_started" for e in events),
                "waited": "waiting for step" in resumed.stdout}
    finally:
        subprocess.run([sys.executable, "-c", STOP, str(base / "w")], cwd=REPO,
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


# The world's database outlives a killed cockpit by design; a test run must not leave it.
STOP = """
import sys
from pathlib import Path
from cockpit.demo.world import World
try:
    World.open(Path(sys.argv[1])).stop()
except Exception:
    pass
"""


def _kill_points() -> list[KillPoint]:
    """From one uninterrupted run: its events, and where its steps started."""
    base = _workspace()
    try:
        assert _demo(base).wait(300) == 0
        events = _events(base / "s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    points = [KillPoint(n) for n in range(1, len(events))]
    starts = [i + 1 for i, e in enumerate(events) if e["type"] == "step_started"]
    points += [KillPoint(n, delay) for n in starts for delay in DELAYS_AFTER_START]
    return points


def test_the_demo_killed_at_over_a_hundred_moments_resumes_to_pass(
        capsys: pytest.CaptureFixture[str]) -> None:
    points = _kill_points()
    assert len(points) >= 100
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(_crash_once, points))
    during = sum(o["during_step"] for o in outcomes)
    just_after = sum(1 for p in points if p.delay)
    with capsys.disabled():
        print(f"\ncrash test: {len(outcomes)} kill points ({len(points) - just_after} after "
              f"each event, {just_after} at 5-300 ms after a step_started); {during} landed "
              f"during a running step; {sum(o['not_started'] > 0 for o in outcomes)} left a "
              f"step never started; {sum(o['waited'] for o in outcomes)} resumes waited for a "
              f"running step; all {len(outcomes)} resumed to PASS with verify green")
    assert during >= 20

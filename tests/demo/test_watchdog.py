"""Worlds are watched: a world nobody uses any more (its cockpit killed, never resumed) is
stopped by the watchdog started with it, once its idle time has passed; `cockpit demo
--worlds` lists this user's running worlds, and `--stop WORKSPACE` stops one — not while a
step runs there, unless forced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.demo.world import World
from tests.demo.conftest import world_processes
from tests.engine.helpers import phase, write_world
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until

IDLE_S = 8  # long enough to list the world before it is stopped


@pytest.fixture
def state_home(tmp_path: Path) -> dict[str, str]:
    """The cockpit's registry in a folder of this test's own (not the user's real one)."""
    home = tmp_path / "state"
    return {**os.environ, "XDG_STATE_HOME": str(home)}


@pytest.mark.slow  # a world built, then its idle time waited out
def test_an_orphaned_world_is_stopped_by_its_watchdog_and_listed_until_then(
        open_tmp: Path, state_home: dict[str, str]) -> None:
    session, workspace = open_tmp / "s", open_tmp / "w"
    demo = start_cockpit("demo", "--headless", "--idle-stop", str(IDLE_S), "--session",
                         str(session), "--workspace", str(workspace), env=state_home,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                         inherit=False)
    try:
        assert demo.stdout is not None
        assert demo.stdout.readline().startswith("session: "), "the demo did not start"
        os.killpg(demo.pid, signal.SIGKILL)  # killed, and never resumed
        demo.wait()
        killed = time.monotonic()
        info = json.loads((workspace / "world.json").read_text())
        listed = cockpit("demo", "--worlds", env=state_home)
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.splitlines()
        assert header.split()[:4] == ["WORKSPACE", "PORT", "PID", "IDLE"]
        assert row.split()[:2] == [str(workspace), str(info["port"])]
        assert world_processes(workspace), "the world was not running"
        wait_until(lambda: not world_processes(workspace),
                   "the watchdog to stop the orphaned world", deadline_s=90)
        assert time.monotonic() - killed >= IDLE_S - 1  # not before its idle time
        listed = cockpit("demo", "--worlds", env=state_home)
        assert listed.stdout.strip() == "no rehearsal world of yours is running"
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        World.load(workspace).stop()


@pytest.mark.slow  # a world built for it
def test_a_world_whose_folder_is_removed_by_hand_is_stopped_by_its_watchdog(
        open_tmp: Path) -> None:
    world = World.build(open_tmp / "w", idle_stop=60)  # not idle for long enough to stop
    world.leave()
    assert world_processes(world.workspace)
    subprocess.run(["rm", "-rf", str(world.workspace)], check=True)
    wait_until(lambda: not world_processes(world.workspace),
               "the watchdog to stop what the removed world ran", deadline_s=30)


@pytest.fixture(scope="module")
def quiet_world() -> Iterator[World]:
    """A world this test process built and no longer uses (as a cockpit that closed while a
    step of its ran): only what the tests do with it keeps it in use."""
    base = Path(tempfile.mkdtemp(prefix="cockpit-test-open-"))
    base.chmod(0o755)
    world = World.build(base / "world")
    world.leave()
    try:
        yield world
    finally:
        world.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.slow  # a world built, and a step of 15 s
def test_stop_is_refused_while_a_step_runs_there_unless_forced(
        quiet_world: World, tmp_path: Path, state_home: dict[str, str]) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("slow", "sleep 15; echo slept")])])
    session = tmp_path / "s"
    run = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                        str(session), env=state_home, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, inherit=False)
    try:
        wait_until(lambda: (session / "events.jsonl").exists(), "the session to start")
        quiet_world.attach(session)  # a session over the world, as a demo's is
        wait_until(lambda: '"step_started"' in (session / "events.jsonl").read_text(),
                   "the step to start")
        refused = cockpit("demo", "--stop", str(quiet_world.workspace), env=state_home)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "not stopped: a step is running there" in refused.stderr
        assert "--force" in refused.stderr
        assert quiet_world.cluster.running()
        forced = cockpit("demo", "--stop", str(quiet_world.workspace), "--force",
                         env=state_home)
        assert forced.returncode == 0, forced.stderr
        assert "stopped the rehearsal world" in forced.stdout
        assert not quiet_world.cluster.running()
        assert not world_processes(quiet_world.workspace)
    finally:
        assert run.wait(60) == 0, run.stderr
    quiet_world.ensure_running()  # as resume does: all of it up again
    assert quiet_world.cluster.running() and world_processes(quiet_world.workspace)


def test_a_bad_idle_time_is_refused_before_anything_is_made(
        open_tmp: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from cockpit.cli import main

    where = ["--session", str(open_tmp / "s"), "--workspace", str(open_tmp / "w")]
    monkeypatch.setenv("COCKPIT_DEMO_IDLE_STOP", "ten minutes")
    assert main(["demo", "--headless", *where]) == 1
    err = capsys.readouterr().err
    assert "COCKPIT_DEMO_IDLE_STOP='ten minutes': not a number of seconds" in err
    assert "Traceback" not in err
    monkeypatch.delenv("COCKPIT_DEMO_IDLE_STOP")
    assert main(["demo", "--headless", "--idle-stop", "-5", *where]) == 1
    assert "--idle-stop: -5.0 is no number of seconds" in capsys.readouterr().err
    assert sorted(p.name for p in open_tmp.iterdir()) == []

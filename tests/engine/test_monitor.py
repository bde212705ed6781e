"""The engine owns a step's life: once launched, the controller's step monitor records its
end, the halt its abort rule calls for, and — in a resumed cockpit — the end of a step an
earlier cockpit launched. No screen and no headless loop is there; nothing calls `poll`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from cockpit.engine.controller import Controller
from tests.conftest import REPO
from tests.engine.helpers import HOSTILE_WATCH, phase, write_world
from tests.waiting import wait_until


def _opened(tmp_path: Path, steps: list[tuple[str, str]], extra: str = "") -> Controller:
    runbook = write_world(tmp_path, [phase("P0", steps, extra)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []
    return ctl


def test_a_step_s_end_is_recorded_by_the_controller_alone(tmp_path: Path) -> None:
    ctl = _opened(tmp_path, [("work", "echo one; sleep 0.3; echo two")])
    try:
        ctl.run_step("work")
        assert ctl.monitor.running
        wait_until(lambda: ctl.state.steps["work"].status != "running", "work's end recorded")
        step = ctl.state.steps["work"]
        assert (step.status, step.exit_code, step.lines) == ("passed", 0, 2)
        assert ctl.running() is None
    finally:
        ctl.close()
    assert not ctl.monitor.running  # closed: nothing is written once the lock is let go


def test_an_abort_match_halts_the_session_with_no_screen(tmp_path: Path) -> None:
    ctl = _opened(tmp_path, [("migrate", "echo starting; echo 'ERROR: DuplicateTable'; "
                                         "sleep 30")], HOSTILE_WATCH)
    try:
        ctl.run_step("migrate")
        # the halt and its automatic items: one turn of the monitor's, recorded in order
        wait_until(lambda: "h-no-more" in ctl.state.halt_items, "the abort rule's halt", 20)
        halt = ctl.state.halt
        assert (halt.by, halt.rule, halt.step) == ("abort_rule", "duplicate-table", "migrate")
        assert "DuplicateTable" in (halt.line or "")
        step = ctl.state.steps["migrate"]
        assert step.status == "failed" and step.abort is not None
        # the automatic halt items are done with it, as the operator's screen showed them
        assert {"h-stop", "h-preserve"} <= set(ctl.state.halt_items)
    finally:
        ctl.close()


def _events(session: Path) -> list[dict]:
    path = session / "events.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def test_a_resumed_cockpit_with_no_screen_records_the_end_of_a_step_it_did_not_start(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("slow", "echo begun; sleep 1.5; echo end")])])
    session = tmp_path / "s"
    first = subprocess.Popen([sys.executable, "-m", "cockpit", "run", str(runbook),
                              "--headless", "--assume-yes", "--session", str(session)],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = session / "steps" / "slow.1.log"
        wait_until(lambda: log.exists() and "begun" in log.read_text(), "the step to run", 60)
    finally:
        first.send_signal(signal.SIGKILL)  # the cockpit dies; the step's supervisor goes on
        first.wait()
    assert not any(e["type"] == "step_finished" for e in _events(session))
    ctl = Controller.resume(session, take_over=True, env={}, halt_hooks=[])  # it was killed
    try:
        wait_until(lambda: ctl.state.steps["slow"].status != "running",
                   "the resumed cockpit to record the step's end", 30)
        step = ctl.state.steps["slow"]
        assert (step.status, step.lines) == ("passed", 2)
        assert [e["type"] for e in _events(session)].count("step_finished") == 1
    finally:
        ctl.close()


def test_no_monitor_watches_before_the_first_step_or_in_a_signing_only_opening(
        tmp_path: Path) -> None:
    ctl = _opened(tmp_path, [("work", "echo one")])
    try:
        ctl.run_step("work")
        wait_until(lambda: ctl.running() is None, "work's end recorded")
    finally:
        ctl.close()
    signing = Controller.for_signatures(ctl.folder)  # attach-signature: no step, no watch
    try:
        assert not signing.monitor.running
    finally:
        signing.close()

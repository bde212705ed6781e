"""A read-only step that hangs is cancelled (SIGINT, then TERM, then KILL) and run again;
the cutover goes on. A step that changes the database is stopped only by halt-and-contain."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.errors import CockpitError
from cockpit.session import rules
from cockpit.session.clock import system_clock
from tests.engine.helpers import phase, write_world
from tests.waiting import finish_running, wait_until

# Hangs the first time (printing a line first), answers at once the second.
HANGS_ONCE = "if [ -e tried ]; then echo preflight ok; else touch tried; echo waiting; sleep 60; fi"
# Takes SIGINT as "done": exits 0 with half its output — still not a pass.
SHRUGS = "trap 'echo interrupted; exit 0' INT; echo started; while true; do sleep 0.1; done"


def _controller(tmp_path: Path, steps: list[tuple[str, str]], read_only: bool,
                extra: str = "") -> Controller:
    runbook = write_world(tmp_path, [phase("P0", steps, read_only=read_only, extra=extra)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []
    return ctl


def _started(ctl: Controller, step_id: str, line: str) -> None:
    log = ctl.folder / str(ctl.state.steps[step_id].log)
    wait_until(lambda: log.exists() and line in log.read_text(), f"{step_id} to print {line!r}")


def test_a_hung_read_only_step_is_cancelled_then_run_again(tmp_path: Path) -> None:
    ctl = _controller(tmp_path, [("preflight", HANGS_ONCE), ("after", "echo after")], True)
    try:
        ctl.run_step("preflight")
        _started(ctl, "preflight", "waiting")
        assert rules.verb_allowed(ctl.runbook, ctl.state, "cancel", system_clock())
        ctl.cancel_step("preflight")
        assert not rules.verb_allowed(ctl.runbook, ctl.state, "cancel", system_clock())
        finish_running(ctl)
        step = ctl.state.steps["preflight"]
        assert (step.status, step.detail) == ("cancelled", "cancelled by the operator")
        assert step.exit_code != 0 and ctl.state.halt is None
        assert rules.next_step(ctl.runbook, ctl.state).step.id == "preflight"  # again
        ctl.run_step("preflight")
        finish_running(ctl)
        assert ctl.state.steps["preflight"].status == "passed"
        assert ctl.state.steps["preflight"].attempts == 2
        ctl.run_step("after")
        finish_running(ctl)
        assert rules.all_phases_complete(ctl.runbook, ctl.state)
        runs = [e.data["run"] for e in ctl.store.events if e.type == "step_finished"]
        assert runs == ["preflight.1", "preflight.2", "after.1"]  # the cancelled log kept
    finally:
        ctl.close()


def test_a_step_that_exits_0_when_interrupted_is_still_cancelled(tmp_path: Path) -> None:
    ctl = _controller(tmp_path, [("shrugs", SHRUGS)], True)
    try:
        ctl.run_step("shrugs")
        _started(ctl, "shrugs", "started")
        ctl.cancel_step("shrugs")
        finish_running(ctl)
        step = ctl.state.steps["shrugs"]
        assert step.exit_code == 0 and step.status == "cancelled"
        finished = [e for e in ctl.store.events if e.type == "step_finished"][-1]
        assert finished.data["ok"] is False
    finally:
        ctl.close()


def test_a_changing_step_is_not_cancelled_but_halted(tmp_path: Path) -> None:
    ctl = _controller(tmp_path, [("upgrade", "echo started; sleep 60")], False)
    try:
        ctl.run_step("upgrade")
        _started(ctl, "upgrade", "started")
        assert not rules.verb_allowed(ctl.runbook, ctl.state, "cancel", system_clock())
        with pytest.raises(CockpitError, match="stopped only by halt-and-contain"):
            ctl.cancel_step("upgrade")
        assert ctl.state.running_step() == "upgrade"
        ctl.halt("test over")
        finish_running(ctl)
    finally:
        ctl.close()


def test_an_abort_match_after_the_signal_is_a_failure_and_halts(tmp_path: Path) -> None:
    """What the step prints on its way out is still watched: a match is not 'cancelled'."""
    loud = ("trap 'echo psycopg.errors.DuplicateTable: relation x already exists; exit 1' INT; "
            "echo started; while true; do sleep 0.1; done")
    watch = '  { kind = "abort_watch", id = "w", text = "Abort on:", rules = ["duplicate-table"] },'
    ctl = _controller(tmp_path, [("loud", loud)], True, extra=watch)
    try:
        ctl.run_step("loud")
        _started(ctl, "loud", "started")
        ctl.cancel_step("loud")
        finish_running(ctl)
        assert ctl.state.steps["loud"].status == "failed"
        assert ctl.state.halt is not None and ctl.state.halt.rule == "duplicate-table"
    finally:
        ctl.close()


def test_after_a_halt_the_running_step_is_not_cancelled(tmp_path: Path) -> None:
    ctl = _controller(tmp_path, [("look", "echo started; sleep 60")], True)
    try:
        ctl.run_step("look")
        _started(ctl, "look", "started")
        ctl.halt("operator saw something")
        assert not rules.verb_allowed(ctl.runbook, ctl.state, "cancel", system_clock())
        with pytest.raises(CockpitError, match="halted"):
            ctl.cancel_step("look")
        finish_running(ctl)
        assert ctl.state.steps["look"].status == "failed"
    finally:
        ctl.close()

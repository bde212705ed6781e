"""DESIGN's invariants 1-3 through the controller: gates first, order, halt is final,
the approved runbook is the one that runs, interrupted steps are never silently re-run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psutil
import pytest

from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.engine.headless import Answers, Headless
from cockpit.engine.launcher import find_supervisor
from cockpit.engine.opening import RunbookChanged
from cockpit.session.runfiles import RunFiles
from tests.engine.helpers import ORDINARY, cockpit, phase, ran, write_world
from tests.waiting import finish_running, wait_until, within

MIXED = [phase("P0", ORDINARY[:2], '  { kind = "manual", id = "looked", text = "Looked" },'),
         phase("P1", [("migrate", "echo migrate >> ran.txt; sleep 2; echo migrated"),
                      ("after", "echo after >> ran.txt")])]


def _start(tmp_path: Path, phases=None, **kw) -> Controller:
    runbook = write_world(tmp_path, phases or MIXED, **kw)
    return Controller.start(runbook, folder=tmp_path / "s", operator="op", env=dict(os.environ))


def _open(ctl: Controller) -> None:
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []


def test_no_step_runs_while_a_gate_is_open(tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    with pytest.raises(ActionRefused, match="gates are open: gate signoff, gate freeze"):
        ctl.run_step("hello")
    ctl.attest_gate("signoff", "GOV-1")
    with pytest.raises(ActionRefused, match="gate freeze"):
        ctl.run_step("hello")
    assert "step_started" not in [e.type for e in ctl.store.events]
    assert ran(tmp_path / "world") == []
    ctl.close()


def test_phases_and_steps_run_in_order(tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    _open(ctl)
    for early in ("count", "looked", "migrate"):
        with pytest.raises(ActionRefused, match="out of order: the next step is 'hello'"):
            ctl.run_step(early) if early != "looked" else ctl.confirm_manual(early)
    ctl.run_step("hello")
    with pytest.raises(ActionRefused, match="still running"):
        ctl.run_step("count")
    finish_running(ctl)
    ctl.run_step("count")
    finish_running(ctl)
    with pytest.raises(ActionRefused, match="next step is 'looked'"):
        ctl.run_step("migrate")
    ctl.confirm_manual("looked", "fine")
    ctl.run_step("migrate")
    finish_running(ctl)
    assert ran(tmp_path / "world") == ["hello", "count", "migrate"]
    ctl.close()


def test_failed_step_stops_its_phase(tmp_path: Path) -> None:
    ctl = _start(tmp_path, [phase("P0", [("bad", "exit 4"), ("next", "echo next >> ran.txt")])])
    _open(ctl)
    ctl.run_step("bad")
    finish_running(ctl)
    assert ctl.state.steps["bad"].status == "failed"
    with pytest.raises(ActionRefused, match="next step is 'bad'"):
        ctl.run_step("next")
    with pytest.raises(ActionRefused, match="not idempotent"):
        ctl.run_step("bad")
    ctl.close()


def test_halt_blocks_every_command_path(tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    _open(ctl)
    ctl.run_step("hello")
    finish_running(ctl)
    ctl.halt("operator saw replication lag", by="operator")
    for attempt in (lambda: ctl.run_step("count"), lambda: ctl.evaluate_check("count"),
                    lambda: ctl.confirm_manual("looked"), lambda: ctl.run_step("migrate"),
                    lambda: ctl.run_step("hello"), lambda: ctl.evaluate_gates(),
                    lambda: ctl.attest_gate("signoff", "again")):
        with pytest.raises(ActionRefused, match="halted"):
            attempt()
    automatic = sorted(ctl.state.halt_items)
    assert automatic == ["h-no-more", "h-preserve", "h-stop"]
    ctl.close()
    # headless, resumed: nothing runs; the session ends BLOCKER once classified
    resumed = Controller.resume(tmp_path / "s", operator="op2", env=dict(os.environ))
    lines: list[str] = []
    answers = Answers(decision={"root_cause": "replication lag on the primary"},
                      halt={"h-escalate": "INC-7"})
    assert Headless(resumed, answers, True, lines.append).drive() == 2
    resumed.close()
    assert ran(tmp_path / "world") == ["hello"]
    # and the command line: resume after the end still runs nothing
    again = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes")
    assert again.returncode == 2 and ran(tmp_path / "world") == ["hello"]


def test_halt_while_a_step_runs_stops_it(tmp_path: Path) -> None:
    ctl = _start(tmp_path, [phase("P0", [("long", "echo start; sleep 30; echo end >> ran.txt")])])
    _open(ctl)
    ctl.run_step("long")
    log = ctl.folder / "steps" / "long.1.log"
    wait_until(lambda: log.exists() and b"start" in log.read_bytes(), "the step to start")
    ctl.halt("stop now")
    finish_running(ctl, deadline_s=15)
    assert ctl.state.steps["long"].status == "failed" and ran(tmp_path / "world") == []
    ctl.close()


def test_resume_refuses_a_changed_runbook(tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    ctl.close()
    runbook = tmp_path / "world" / "runbook.toml"
    runbook.write_text(runbook.read_text().replace("Sign-off received", "Sign-off maybe"))
    with pytest.raises(RunbookChanged, match="changed since the session started"):
        Controller.resume(tmp_path / "s", env=dict(os.environ))
    result = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes")
    assert result.returncode == 3 and "changed since the session started" in result.stderr
    # a change that leaves the transcript alone is still a change of the approved file
    runbook.write_text(runbook.read_text().replace("Sign-off maybe", "Sign-off received") + "#\n")
    assert cockpit("resume", str(tmp_path / "s"), "--headless").returncode == 3


def _kill_supervisor(ctl: Controller, step: str) -> None:
    run = ctl.state.steps[step].run
    files = RunFiles(ctl.folder / "steps", run)
    within(files.started.exists, deadline_s=10)
    proc = find_supervisor(files)
    child = json.loads(files.started.read_text())["child_pid"]
    # the supervisor first: killed after its child, it may still write the child's end
    # (an exit record of a killed command: a failure, not an interruption)
    proc.kill()
    psutil.wait_procs([proc], timeout=5)
    os.killpg(child, signal.SIGKILL)  # the migration's process group


def test_interrupted_step_is_never_rerun_silently(tmp_path: Path) -> None:
    steps = [("once", "echo once >> ran.txt; sleep 30"), ("next", "echo next >> ran.txt")]
    ctl = _start(tmp_path, [phase("P0", steps)])
    _open(ctl)
    ctl.run_step("once")
    _kill_supervisor(ctl, "once")
    ctl.close()
    resumed = Controller.resume(tmp_path / "s", env=dict(os.environ))
    assert resumed.state.steps["once"].status == "interrupted"
    with pytest.raises(ActionRefused, match="not idempotent"):
        resumed.run_step("once")
    with pytest.raises(ActionRefused, match="next step is 'once'"):
        resumed.run_step("next")
    resumed.resolve_interrupted("once", "passed", "checked by hand: the marker is there")
    resumed.run_step("next")
    finish_running(resumed)
    assert ran(tmp_path / "world") == ["once", "next"]
    resumed.close()


def test_idempotent_interrupted_step_may_run_again_and_keeps_the_old_log(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("heads", "echo heads >> ran.txt; sleep 30")])])
    runbook.write_text(runbook.read_text().replace('log = "logs/heads.log" }',
                                                   'log = "logs/heads.log", idempotent = true }'))
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ))
    _open(ctl)
    ctl.run_step("heads")
    _kill_supervisor(ctl, "heads")
    ctl.close()
    resumed = Controller.resume(tmp_path / "s", env=dict(os.environ))
    assert resumed.state.steps["heads"].status == "interrupted"
    resumed.run_step("heads")
    # The first run's published copy moved into the session, never renamed beside it.
    kept = tmp_path / "s" / "displaced" / "heads.2" / "heads.log"
    assert kept.read_text() == (tmp_path / "s" / "steps" / "heads.1.log").read_text()
    assert any(e.type == "log_displaced" for e in resumed.store.events)
    resumed.halt("enough")
    finish_running(resumed)
    resumed.close()
    assert sorted(p.name for p in (tmp_path / "world" / "logs").iterdir()) == ["heads.log"]


def test_decision_fails_closed(tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    with pytest.raises(ActionRefused, match="PASS is impossible"):
        ctl.record_decision({"status": "PASS"})
    with pytest.raises(ActionRefused, match="BLOCKER needs the errors"):
        ctl.record_decision({"status": "BLOCKER", "errors": "none"})
    with pytest.raises(ActionRefused, match="root-cause"):
        ctl.record_decision({"status": "BLOCKER", "errors": "replica lag"})
    with pytest.raises(ActionRefused, match="must be PASS or BLOCKER"):
        ctl.record_decision({"status": "MAYBE"})
    ctl.record_decision({"status": "BLOCKER", "errors": "window missed",
                         "root_cause": "change window closed"})
    assert ctl.state.decision is not None and ctl.state.decision.status == "BLOCKER"
    with pytest.raises(ActionRefused, match="already recorded"):
        ctl.record_decision({"status": "BLOCKER", "errors": "x", "root_cause": "y"})
    ctl.close()


def test_abort_rule_halts_through_the_controller(tmp_path: Path) -> None:
    watch = '  { kind = "abort_watch", id = "watch", text = "Abort on:", rules = ["duplicate-table"] },'
    steps = [("up", "echo 'ERROR:  relation \"t\" already exists'; sleep 20; echo up >> ran.txt"),
             ("later", "echo later >> ran.txt")]
    seen: list[str] = []

    def capture_locks(ctl: Controller) -> dict:
        seen.append(ctl.state.halt.rule)
        return {"pg_locks": [], "note": "test hook"}

    runbook = write_world(tmp_path, [phase("P0", steps, watch)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ),
                           halt_hooks=[capture_locks])
    _open(ctl)
    ctl.run_step("up")
    finish_running(ctl, deadline_s=10)
    assert ctl.state.halt is not None and ctl.state.halt.rule == "duplicate-table"
    assert seen == ["duplicate-table"]
    diagnostics = ctl.state.diagnostics[0]
    assert json.loads((ctl.folder / (diagnostics.file or "")).read_text())["capture_locks"]["note"]
    with pytest.raises(ActionRefused, match="halted"):
        ctl.run_step("later")
    ctl.close()
    assert ran(tmp_path / "world") == []


def test_resume_reattaches_to_a_step_still_running(tmp_path: Path) -> None:
    steps = [("slow", "echo slow >> ran.txt; sleep 1.5; echo finished")]
    ctl = _start(tmp_path, [phase("P0", steps)])
    _open(ctl)
    ctl.run_step("slow")
    ctl.close()  # the cockpit goes away; the supervisor does not
    resumed = Controller.resume(tmp_path / "s", env=dict(os.environ))
    assert resumed.reconcile() == "reattached"
    assert resumed.state.steps["slow"].status == "running"
    finish_running(resumed)
    assert resumed.state.steps["slow"].status == "passed"
    assert (tmp_path / "world" / "logs" / "slow.log").read_text() == "finished\n"
    assert ran(tmp_path / "world") == ["slow"]
    resumed.close()

"""What the operator sees, as SVG snapshots (pytest-textual-snapshot). Deterministic: fixed
folders, operator and host, no clock, fixed terminal sizes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from tests.engine.helpers import phase, write_world
from tests.waiting import app_idle, finish_running, pause_until, wait_until

BASE = Path("/tmp/cockpit-snapshots")
WATCH = '  { kind = "abort_watch", id = "watch", text = "Abort on any of:", rules = ["duplicate-table"] },'
STREAM = "for n in $(seq 1 60); do echo \"INFO  [alembic] Running upgrade step $n\"; done; sleep 30"


@pytest.fixture(autouse=True)
def fixed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_OPERATOR", "operator")
    monkeypatch.setenv("COCKPIT_HOST", "rehearsal")


def _controller(name: str, phases: list[str]) -> Controller:
    root = BASE / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    runbook = write_world(root, phases)
    return Controller.start(runbook, folder=root / "session", env=dict(os.environ),
                            halt_hooks=[])


def _ready(ctl: Controller) -> None:
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()


def _wait(ctl: Controller) -> None:
    finish_running(ctl)


def test_gates_open_no_go(snap_compare) -> None:
    ctl = _controller("no-go", [phase("P0", [("hello", "echo hello")])])
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), terminal_size=(120, 40))
    finally:
        ctl.close()


def test_a_failed_gate_shows_its_reason(snap_compare) -> None:
    """Nothing done yet, so the Gates tab is up; the freeze file is missing: the reason is
    under the table in full, not beyond the pane's edge."""
    ctl = _controller("gate-failed", [phase("P0", [("hello", "echo hello")])])
    (BASE / "gate-failed" / "world" / "freeze.log").unlink()
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), terminal_size=(120, 40))
    finally:
        ctl.close()


def test_80x24(snap_compare) -> None:
    ctl = _controller("narrow", [phase("P0", [("hello", "echo hello")])])
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), terminal_size=(80, 24))
    finally:
        ctl.close()


def test_p3_running_with_streamed_output(snap_compare) -> None:
    ctl = _controller("running", [phase("P3", [("upgrade", STREAM)], WATCH)])
    _ready(ctl)
    ctl.run_step("upgrade")
    log = BASE / "running" / "world" / "logs" / "upgrade.log"
    app = CockpitApp(ctl, clock=False)

    async def streamed(pilot) -> None:
        await pause_until(pilot, lambda: log.exists() and log.read_text().count("\n") >= 60,
                          "the step to print 60 lines")
        # the pane may not be mounted yet on a loaded machine: wait for it too
        await pause_until(pilot, lambda: any(pane.line_count >= 60
                                             for pane in app.query("#output")),
                          "the pane to show them")
        await app_idle(pilot)

    try:
        assert snap_compare(app, terminal_size=(120, 40), run_before=streamed)
    finally:
        ctl.halt("snapshot taken")
        _wait(ctl)
        ctl.close()


def test_halted(snap_compare) -> None:
    ctl = _halted("halted")
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), terminal_size=(120, 40))
    finally:
        ctl.close()


def test_interrupted_step_on_resume(snap_compare) -> None:
    ctl = _controller("interrupted", [phase("P0", [("once", "echo once")])])
    _ready(ctl)
    # The supervisor claimed the run, and died with the cockpit before an exit record:
    # whether the command ran cannot be known.
    from cockpit.session.records import StepStarted

    ctl.append(StepStarted(step="once", phase="P0", run="once.1", command="echo once",
                           log=None, abort_rules=[]))
    (ctl.folder / "steps").mkdir(exist_ok=True)
    (ctl.folder / "steps" / "once.1.claim").write_text('{"supervisor_pid": 1}')
    ctl.close()
    resumed = Controller.resume(BASE / "interrupted" / "session", env=dict(os.environ),
                                halt_hooks=[])
    assert resumed.state.steps["once"].status == "interrupted"
    try:
        assert snap_compare(CockpitApp(resumed, clock=False), terminal_size=(120, 40))
    finally:
        resumed.close()


def test_decision_form_filled(snap_compare) -> None:
    ctl = _controller("decision", [phase("P0", [("hello", "echo hello")])])
    _ready(ctl)
    ctl.run_step("hello")
    _wait(ctl)
    ctl.seal_evidence()
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), press=["d"],
                            terminal_size=(120, 40))
    finally:
        ctl.close()


def _halted(name: str) -> Controller:
    # it ends by itself: the exit status (shown) does not depend on when a signal lands
    abort = "echo 'psycopg.errors.DuplicateTable: relation \"active_investments\" already exists'; exit 1"
    ctl = _controller(name, [phase("P3", [("upgrade", abort), ("after", "echo after")], WATCH)])
    _ready(ctl)
    ctl.run_step("upgrade")
    _wait(ctl)
    assert ctl.state.halt is not None
    return ctl


def test_halted_at_80x24_on_one_line(snap_compare) -> None:
    """A small screen: the halt banner on one line (h shows it whole), the panes visible."""
    ctl = _halted("halted-narrow")
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), terminal_size=(80, 24))
    finally:
        ctl.close()


def test_cancelled_step(snap_compare) -> None:
    """A read-only step cancelled by the operator: marked cancelled, next: run it again."""
    ctl = _controller("cancelled", [phase("P0", [("preflight", "echo waiting; exec sleep 60"),
                                                  ("after", "echo after")], read_only=True)])
    _ready(ctl)
    ctl.run_step("preflight")
    log = BASE / "cancelled" / "session" / "steps" / "preflight.1.log"
    wait_until(lambda: log.exists() and "waiting" in log.read_text(), "the step's first line")
    ctl.cancel_step("preflight")
    _wait(ctl)
    assert ctl.state.steps["preflight"].status == "cancelled"
    try:
        assert snap_compare(CockpitApp(ctl, clock=False), terminal_size=(120, 40))
    finally:
        ctl.close()


def test_mirror_at_80_columns(snap_compare) -> None:
    """The reviewer's mirror on a small terminal: its header fits."""
    ctl = _controller("mirror-narrow", [phase("P0", [("hello", "echo hello")])])
    _ready(ctl)
    from cockpit.mirror.source import MirrorSource
    from cockpit.tui.mirror_app import MirrorApp

    try:
        app = MirrorApp(MirrorSource(BASE / "mirror-narrow" / "session"), clock=False)
        assert snap_compare(app, terminal_size=(80, 24))
    finally:
        ctl.close()

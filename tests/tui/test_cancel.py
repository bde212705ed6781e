"""In the cockpit: a hung read-only step shows how long it has run and since its last line,
is cancelled with c, run again with r, and the session reaches PASS."""

from __future__ import annotations

from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens import TextScreen
from tests.engine.helpers import phase, write_world
from tests.engine.test_cancel import HANGS_ONCE
from tests.tui.test_operator import seal_and_decide, settle
from tests.waiting import pause_until


async def test_cancel_a_hung_read_only_step_and_run_it_again_to_pass(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("preflight", HANGS_ONCE)], read_only=True)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    app = CockpitApp(ctl)  # with its clock: the running row counts
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")  # the help: the flow, then the keys
            assert isinstance(app.screen, TextScreen)
            assert "The flow" in app.screen.text and "  c   Cancel step" in app.screen.text
            await pilot.press("escape")
            await pilot.press("r")
            await pause_until(pilot, lambda: "waiting" in _log(ctl), "the step's first line")
            table = app.query_one("#steps")
            strip = app.query_one("#running")
            await pause_until(pilot, lambda: "last output 0:00:0" in str(strip.render()),
                              "the running step's clocks")
            assert "◐ preflight · running 0:00:0" in str(strip.render())
            assert "running 0:00:0" in _row(table)  # the table's cell: the clock
            await pilot.press("c")
            await settle(pilot, app)
            assert ctl.state.steps["preflight"].status == "cancelled"
            assert ctl.state.halt is None
            await pilot.press("r")
            await settle(pilot, app)
            assert ctl.state.steps["preflight"].status == "passed"
            await seal_and_decide(pilot, app)
            assert ctl.state.decision is not None and ctl.state.decision.status == "PASS"
    finally:
        ctl.close()


def _log(ctl: Controller) -> str:
    step = ctl.state.steps.get("preflight")
    path = ctl.folder / str(step.log) if step and step.log else None
    return path.read_text() if path and path.exists() else ""


def _row(table) -> str:
    return " ".join(str(cell) for cell in table.get_row_at(0)) if table.row_count else ""

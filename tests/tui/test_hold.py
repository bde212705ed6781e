"""In the cockpit: a `per_revision` upgrade stops at its hold point — HELD in the header, the
revision's facts beside it — and goes on only when the operator types the revision's id;
the session then reaches PASS. Real Alembic, real PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens import AskText
from tests.engine.test_per_revision import LEAVES, project, revisions, version
from tests.tui.test_operator import seal_and_decide, settle, type_text
from tests.waiting import pause_until


async def test_a_hold_stops_the_upgrade_until_its_revision_is_typed(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster,
                           f', per_revision = true, hold_before = "r3", {LEAVES}', revisions())
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={**os.environ, **env},
                           halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    app = CockpitApp(ctl)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("r")
            await settle(pilot, app)
            assert ctl.state.steps["up"].status == "held"
            assert version(env["PG_TEST"]) == ["r2"]
            header = str(app.screen.query_one("SessionHeader").render())
            assert "⏸ HELD before r3 (3 of 5)" in header
            strip = str(app.screen.query_one("#running").render())
            assert "⏸ up HELD before r3 (3 of 5)" in strip
            assert "r3: no migration risk report in this session" in strip
            await pilot.press("r")  # the go-ahead: typed, and only the revision's id
            await pause_until(pilot, lambda: isinstance(app.screen, AskText), "the ask")
            assert isinstance(app.screen, AskText)
            assert "step up: committed through revision 2 of 5 (r2)" in app.screen.prompt
            assert "The upgrade goes on only when you type r3." in app.screen.prompt
            await type_text(pilot, "r4")
            assert isinstance(app.screen, AskText)  # a wrong id does not go on
            await pilot.press(*["backspace"] * 2)
            await type_text(pilot, "r3")
            await settle(pilot, app)
            assert ctl.state.steps["up"].status == "passed"
            assert version(env["PG_TEST"]) == ["r5"]
            await seal_and_decide(pilot, app)
            assert ctl.state.decision is not None and ctl.state.decision.status == "PASS"
    finally:
        ctl.close()

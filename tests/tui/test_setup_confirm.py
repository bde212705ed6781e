"""In the operator's screen a setup line the cockpit cannot check is confirmed with `a`, as a
manual item is ticked (an optional note): until then the gates stay closed and `r` runs
nothing (issue #27 item 3)."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.session import rules
from cockpit.tui.app import CockpitApp
from cockpit.tui.panes import GatePanel
from cockpit.tui.screens import AskText
from tests.engine.test_setup_confirmations import CLONE, _world
from tests.tui.test_operator import settle, type_text


async def test_a_setup_line_is_confirmed_with_a_before_go(tmp_path: Path) -> None:
    ctl = Controller.start(_world(tmp_path), folder=tmp_path / "s", env={**os.environ, **CLONE},
                           halt_hooks=[])
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("a")  # the attestation first
            assert isinstance(app.screen, AskText)
            await type_text(pilot, "GOV-1")
            await settle(pilot, app)
            await pilot.press("g")
            await settle(pilot, app)
            assert rules.open_gates(ctl.runbook, ctl.state) == ["setup dsn-line (unconfirmed)"]
            assert not app.operator.allowed("run_next")
            assert "Confirm setup" in str(app.query_one("#next").render())
            await pilot.press("r")  # refused: nothing runs
            await settle(pilot, app)
            assert ctl.state.steps == {}
            await pilot.press("a")
            assert isinstance(app.screen, AskText) and "ledger_prod" in app.screen.title_text
            await type_text(pilot, "seen")
            await settle(pilot, app)
            assert ctl.state.setup["dsn-line"].status == "confirmed"
            assert ctl.state.setup["dsn-line"].reference == "seen"
            assert rules.open_gates(ctl.runbook, ctl.state) == []
            assert app.operator.allowed("run_next")
            table = app.query_one(GatePanel)
            row = table.get_row("dsn-line")
            assert "confirmed" in str(row[0]) and "seen" in str(row[2])
    finally:
        ctl.close()

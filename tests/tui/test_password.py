"""A wrong database password is fixed in the cockpit, without quitting: the Gates pane says
why the DSN failed, `p` takes the password again (masked), the gates are checked again and
open; neither password reaches a file of the session."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from cockpit.demo.world import World
from cockpit.engine.controller import Controller
from cockpit.resources import bundled_runbook
from cockpit.session import rules
from cockpit.tui.app import CockpitApp
from cockpit.tui.panes import GateReasons
from cockpit.tui.screens import AskText
from tests.tui.test_operator import open_gates, settle, type_text

WRONG = "Not-the-pw-42"


async def test_a_wrong_password_is_entered_again_and_the_gates_open(tmp_path: Path) -> None:
    world = World.build(tmp_path / "w")
    env = {**world.env()}
    for name in ("DATABASE_URL", "PG_DSN"):
        assert quote(world.password, safe="") in env[name]
        env[name] = env[name].replace(quote(world.password, safe=""), WRONG)
    ctl = Controller.start(bundled_runbook("demo-cutover.toml"), folder=tmp_path / "s",
                           workdir=world.backend, override_workdir=True, env=env,
                           secrets=[WRONG], halt_hooks=[])
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert app.query_one("#tabs").active == "gates-tab"  # nothing done yet
            await pilot.press("g")
            await settle(pilot, app)
            assert ctl.state.setup["database-url"].status == "failed"
            why = str(app.query_one(GateReasons).render())
            assert 'authentication failed for user "netzadmin"' in why, why
            assert app.operator.allowed("password")
            await pilot.press("p")
            assert isinstance(app.screen, AskText) and app.screen.password
            await type_text(pilot, world.password)
            await settle(pilot, app)
            assert ctl.state.setup["database-url"].status == "passed"
            assert ctl.state.setup["pg-dsn"].status == "passed"
            # nothing failed any more (the demo's TLS terminator is noted, no failure)
            assert "✗" not in str(app.query_one(GateReasons).render())
            await open_gates(pilot, app)
            assert rules.open_gates(ctl.runbook, ctl.state) == []
            await pilot.press("r")  # the first step runs with the password entered
            await settle(pilot, app)
            assert app.query_one("#tabs").active == "phase-tab"
            first = ctl.runbook.phases[0].steps[0].id
            assert ctl.state.steps[first].status == "passed"
            assert not app.operator.allowed("password")  # a step has run: no longer
    finally:
        ctl.close()
        world.stop()
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert WRONG.encode() not in data and world.password.encode() not in data, path
    kinds = [line for line in (tmp_path / "s" / "events.jsonl").read_text().splitlines()
             if '"password_entered"' in line]
    assert len(kinds) == 1 and '"vars":["DATABASE_URL","PG_DSN"]' in kinds[0]

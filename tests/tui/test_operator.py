"""The operator's cockpit driven by keys only, on a real rehearsal world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot

from cockpit.demo.session import close_demo, open_demo
from cockpit.session import rules
from cockpit.tui.app import CockpitApp
from cockpit.tui.operator_screen import VERBS
from cockpit.tui.screens import AskText, DecisionForm
from tests.waiting import app_idle, pause_until

ANSWERS = {"governance-signoff": "GOV-7", "maintenance-window": "CHG-7",
           "clone-commit-match": "clone-pass"}


async def settle(pilot: Pilot, app: CockpitApp) -> None:
    """Until no verb is in flight and no step runs (the app polls on its own timer)."""
    await app.workers.wait_for_complete()
    await pause_until(pilot, lambda: not app.operator.busy and app.ctl.running() is None,
                      "the verb in flight and the running step to end")
    await app.workers.wait_for_complete()
    await app_idle(pilot)


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")


async def open_gates(pilot: Pilot, app: CockpitApp) -> None:
    for _ in ANSWERS:
        await pilot.press("a")
        assert isinstance(app.screen, AskText)
        gate = app.operator._attestable()
        await type_text(pilot, ANSWERS[gate.id])
        await settle(pilot, app)
    await pilot.press("g")
    await settle(pilot, app)
    assert rules.open_gates(app.ctl.runbook, app.ctl.state) == []


async def run_steps(pilot: Pilot, app: CockpitApp, until_phase: str | None = None) -> None:
    ctl = app.ctl
    while (upcoming := rules.next_step(ctl.runbook, ctl.state)) and ctl.state.halt is None:
        if upcoming.phase.id == until_phase:
            return
        await pilot.press("r")
        if isinstance(app.screen, AskText):
            await type_text(pilot, upcoming.step.confirm or "")
        await settle(pilot, app)
        if ctl.state.steps[upcoming.step.id].status == "failed":
            return


async def seal_and_decide(pilot: Pilot, app: CockpitApp) -> None:
    """s, then d and ctrl+s on the form as filled: the session closes with its decision."""
    await pilot.press("s")
    await settle(pilot, app)
    await pilot.press("d")
    assert isinstance(app.screen, DecisionForm)
    await pilot.press("ctrl+s")
    await settle(pilot, app)
    assert app.ctl.state.decision is not None


async def test_keys_alone_drive_the_demo_to_pass(tmp_path: Path) -> None:
    world, ctl = open_demo(None, tmp_path / "s", tmp_path / "w")
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("r")  # NO-GO: nothing may run yet
            await settle(pilot, app)
            assert not any(e.type == "step_started" for e in ctl.store.events)
            await open_gates(pilot, app)
            await run_steps(pilot, app)
            assert rules.all_phases_complete(ctl.runbook, ctl.state)
            output = app.query_one("#output")
            assert output.line_count > 0
            await seal_and_decide(pilot, app)
    finally:
        close_demo(world, ctl)
    record = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert record["fields"]["status"] == "PASS"
    assert record["fields"]["final_revision"] == "70a79686336c"
    assert (tmp_path / "s" / "evidence" / "checklist.md").exists()


# slow, for the fast step's budget (24 s: every key and palette command tried): invariant
# 2's fast tests are tests/engine/test_controller.py's (every command path after a halt)
@pytest.mark.slow
async def test_after_a_halt_no_key_and_no_palette_command_starts_anything(
        tmp_path: Path) -> None:
    world, ctl = open_demo("drift", tmp_path / "s", tmp_path / "w")
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await open_gates(pilot, app)
            await run_steps(pilot, app)  # P0's parity script fails: the phase stops
            failed = [k for k, s in ctl.state.steps.items() if s.status == "failed"]
            assert failed == ["prod_anchor_structural_parity_0019"]
            await pilot.press("x")
            await type_text(pilot, "drift in monthly_report_packs FK")
            await type_text(pilot, "HALT")
            await settle(pilot, app)
            assert ctl.state.halt is not None and app.has_class("-halted")
            started = sum(e.type == "step_started" for e in ctl.store.events)
            for verb in ("run_next", "gates", "attest", "resolve", "halt"):
                assert not app.operator.allowed(verb)
            keys = [b.key for b in app.operator.BINDINGS if b.action != "app.quit_cockpit"]
            for key in keys:
                await pilot.press(key)
                while app.screen is not app.screen_stack[0]:
                    await pilot.press("escape")
                await settle(pilot, app)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert not {VERBS[v][1] for v in ("run_next", "gates", "attest", "halt")} & set(titles)
            for command in app.get_system_commands(app.screen):
                if command.title in {label for _k, label in VERBS.values()}:
                    command.callback()
                    await app_idle(pilot)
                    while app.screen is not app.screen_stack[0]:
                        await pilot.press("escape")
                    await settle(pilot, app)
            assert sum(e.type == "step_started" for e in ctl.store.events) == started
            banner = str(app.query_one("#halt").render())
            assert "HALTED" in banner and "drift" in banner
    finally:
        close_demo(world, ctl)


async def test_a_crash_shows_no_password_or_dsn(tmp_path: Path, capfd) -> None:
    from cockpit.engine.controller import Controller
    from tests.engine.helpers import ordinary_world

    secret = "Sup3r-s3cret-pw"
    dsn = f"postgresql://ops:{secret}@db.internal/prod"
    runbook = ordinary_world(tmp_path)
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={"DATABASE_URL": dsn},
                           halt_hooks=[])

    def explode() -> None:
        connection_string = dsn  # a local the stock crash screen would print
        raise RuntimeError(f"cannot reach {connection_string}")

    app = CockpitApp(ctl, clock=False)
    app.operator.action_help = explode  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):  # the test driver re-raises; a terminal prints
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")
            await app_idle(pilot)
    ctl.close()
    shown = capfd.readouterr().err + " ".join(str(r) for r in app._exit_renderables)
    assert "internal error: RuntimeError: cannot reach" in shown
    assert secret not in shown and "connection_string" not in shown


async def test_text_with_brackets_is_shown_as_text_not_markup(tmp_path: Path) -> None:
    import os

    from cockpit.engine.controller import Controller
    from tests.engine.helpers import ordinary_world

    ctl = Controller.start(ordinary_world(tmp_path), folder=tmp_path / "s",
                           env=dict(os.environ), halt_hooks=[])
    ctl.halt("sqlalchemy said [SQL: ALTER TABLE facilities] and [/b] [red]boom", "operator")
    app = CockpitApp(ctl, clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app_idle(pilot)
        banner = app.query_one("#halt").render()
        assert "[SQL: ALTER TABLE facilities] and [/b] [red]boom" in str(banner)
    ctl.close()

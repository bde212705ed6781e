"""The decision form: the cursor starts in the first field still to fill; a pre-filled field
keeps its text when typed into; Esc on a changed form asks before discarding it."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens import DecisionForm
from tests.engine.helpers import ORDINARY, phase, write_world
from tests.tui.test_operator import settle
from tests.waiting import app_idle, finish_running


def every_step_done(tmp_path: Path) -> Controller:
    """A session whose gates are green and every step has run: the decision is next."""
    runbook = write_world(tmp_path, [phase("P0", ORDINARY)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    for step_id, _command in ORDINARY:
        ctl.run_step(step_id)
        finish_running(ctl)
    return ctl


async def test_the_form_focuses_what_is_left_and_keeps_what_was_filled(tmp_path: Path) -> None:
    ctl = every_step_done(tmp_path)
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await settle(pilot, app)
            assert ctl.state.evidence is not None
            await pilot.press("d")
            form = app.screen
            assert isinstance(form, DecisionForm)
            await app_idle(pilot)
            defaults = ctl.decision_defaults()
            empty = [i for i, f in enumerate(form.fields) if not defaults.get(f.id)]
            focused = app.focused
            assert focused is not None
            assert focused.id == (f"f-{empty[0]}" if empty else "f-0"), (focused.id, defaults)
            # a pre-filled text field: typing adds at its end, never replaces it
            index, field = next((i, f) for i, f in enumerate(form.fields)
                                if not f.allowed and defaults.get(f.id))
            box = form.query_one(f"#f-{index}", Input)
            box.focus()
            await app_idle(pilot)
            await pilot.press("!")
            assert box.value == defaults[field.id] + "!"
            await pilot.press("escape")  # changed: asks first
            assert app.screen is form
            assert "Esc again discards" in str(form.query_one("#dialog-error").render())
            await pilot.press("escape")
            assert app.screen is not form and ctl.state.decision is None
    finally:
        ctl.close()


async def test_a_message_of_the_form_is_scrolled_into_view_on_a_small_screen(
        tmp_path: Path) -> None:
    """At 80×24 the form is taller than the screen: Esc's question and a refusal from the
    engine are shown where the operator looks, not below the fold."""
    ctl = every_step_done(tmp_path)
    ctl.seal_evidence()
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("d")
            form = app.screen
            assert isinstance(form, DecisionForm)
            await app_idle(pilot)
            dialog = form.query_one("#dialog")
            error = form.query_one("#dialog-error")
            assert dialog.max_scroll_y > 0  # taller than the screen
            form.query_one("#f-1", Input).focus()  # near the top
            await app_idle(pilot)
            await pilot.press("!")
            await pilot.press("escape")
            await app_idle(pilot)
            await app_idle(pilot)
            assert "Esc again discards" in str(error.render())
            visible = dialog.content_region
            assert visible.contains_region(error.region), (visible, error.region)
    finally:
        ctl.close()


async def test_the_form_refuses_pass_naming_the_empty_required_fields(tmp_path: Path) -> None:
    """A runbook's sign-off fields (`required = true`) must be filled for a PASS: the form
    says which are empty and stays open; filled, the PASS is recorded (issue #27 item 7)."""
    runbook = write_world(tmp_path, [phase("P0", ORDINARY[:1])])
    runbook.write_text(runbook.read_text().replace(
        'role = "root_cause" },', 'role = "root_cause" },\n  { kind = "field", id = "risk", '
        'label = "Updated risk tier", role = "risk_tier", required = true },'))
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    ctl.run_step(ORDINARY[0][0])
    finish_running(ctl)
    ctl.seal_evidence()
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("d")
            form = app.screen
            assert isinstance(form, DecisionForm)
            await app_idle(pilot)
            index = next(i for i, f in enumerate(form.fields) if f.id == "risk")
            await pilot.press("ctrl+s")
            await settle(pilot, app)
            assert ctl.state.decision is None
            form = app.screen
            assert isinstance(form, DecisionForm)
            error = str(form.query_one("#dialog-error").render())
            assert "PASS needs the required fields filled: Updated risk tier" in error
            form.query_one(f"#f-{index}", Input).value = "low"
            await pilot.press("ctrl+s")
            await settle(pilot, app)
            assert ctl.state.decision is not None and ctl.state.decision.status == "PASS"
            assert ctl.state.decision.fields["risk"] == "low"
    finally:
        ctl.close()

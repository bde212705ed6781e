"""The rules' overview: the same answers as the rules asked one by one, worked out once per
state, and no longer held once the maintenance window opens or closes."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.session import rules
from cockpit.session.rules.verbs import VERB_RULES
from tests.engine.helpers import ordinary_world
from tests.waiting import finish_running

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


def _agrees(ctl: Controller, now: datetime) -> rules.Overview:
    runbook, state = ctl.runbook, ctl.state
    seen = rules.overview(runbook, state, now)
    for verb in VERB_RULES:
        assert seen.allows(verb) == rules.verb_allowed(runbook, state, verb, now), verb
    assert seen.next_action == rules.next_action(runbook, state, now)
    assert seen.upcoming == rules.next_step(runbook, state)
    assert list(seen.open_gates) == rules.open_gates(runbook, state)
    assert list(seen.failed_checks) == rules.failed_checks(runbook, state)
    assert seen.protocol_item == rules.open_protocol_item(runbook, state)
    assert seen.open_protocol_items == len(rules.open_protocol_items(runbook, state))
    if seen.upcoming is not None:
        assert seen.refusal == rules.refusal_to_run(runbook, state, seen.upcoming.step.id, now)
    assert seen.holds_for(state, now)
    return seen


def test_the_overview_answers_as_each_rule_does_through_a_session(tmp_path: Path) -> None:
    ctl = Controller.start(ordinary_world(tmp_path), folder=tmp_path / "s",
                           env=dict(os.environ), halt_hooks=[])
    try:
        seen = _agrees(ctl, NOW)  # gates open: attest is what comes next
        assert not seen.allows("run_next") and seen.allows("attest")
        assert seen.refusal is not None and seen.refusal.startswith("gates are open")
        ctl.attest_gate("signoff", "GOV-1")
        ctl.evaluate_gates()
        seen = _agrees(ctl, NOW)
        assert seen.allows("run_next") and seen.refusal is None
        assert not seen.holds_for(ctl.state.model_copy(update={"seq": ctl.state.seq + 1}),
                                  NOW)  # another state: worked out again
        ctl.run_step("hello")
        assert _agrees(ctl, NOW).allows("halt")
        finish_running(ctl)
        ctl.halt("test", "operator")
        seen = _agrees(ctl, NOW)
        assert seen.allowed == {"protocol", "seal"} and seen.next_action is not None \
            and seen.next_action.verb == "protocol"
    finally:
        ctl.close()


def test_the_overview_no_longer_holds_once_the_window_closes(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    runbook.write_text(runbook.read_text().replace(
        '{ kind = "attestation", id = "signoff", text = "Sign-off received" },',
        '{ kind = "attestation", id = "signoff", text = "Sign-off received" },\n'
        '  { kind = "attestation", id = "window", text = "Maintenance window active" },'))
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ), halt_hooks=[])
    now = datetime.now(UTC).replace(microsecond=0)
    opens, closes = now + timedelta(hours=1), now + timedelta(hours=2)
    try:
        ctl.attest_gate("signoff", "GOV-1")
        ctl.attest_gate("window", f"CHG-1 from {opens:%Y-%m-%dT%H:%M:%SZ} to "
                                  f"{closes:%Y-%m-%dT%H:%M:%SZ}")
        ctl.evaluate_gates()
        before = _agrees(ctl, now)
        assert before.window_state == "before" and before.valid_until == opens
        assert not before.allows("run_next")
        assert not before.holds_for(ctl.state, opens)  # the window opened: ask again
        during = _agrees(ctl, opens)
        assert during.allows("run_next") and during.valid_until == closes
        after = _agrees(ctl, closes)
        assert after.window_state == "closed" and after.valid_until is None
        assert after.refusal is not None and "window closed" in after.refusal
    finally:
        ctl.close()

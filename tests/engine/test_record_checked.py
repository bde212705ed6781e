"""The decision record says only what was checked (issue #27 item 7): a field filled from a
check that did not run says `not checked`, never `none`."""

from __future__ import annotations

from cockpit.evidence.decision import NOT_CHECKED, defaults
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from cockpit.session.state import HaltState, SessionState, StepState
from tests.engine.helpers import HEAD, phase

FIELDS = """
[decision]
heading = "Decision"
items = [
  { kind = "field", id = "status", label = "Status", allowed = ["PASS", "BLOCKER"], role = "status" },
  { kind = "field", id = "final_revision", label = "Final Revision", role = "final_revision" },
  { kind = "field", id = "heads_state", label = "Heads State", role = "heads_state" },
  { kind = "field", id = "errors", label = "Errors", role = "errors" },
  { kind = "field", id = "drift", label = "Drift detected", role = "drift" },
  { kind = "field", id = "root_cause", label = "Root-cause classification", role = "root_cause" },
]
"""
CHECKS = """  { kind = "check", id = "parity", text = "Parity", probe = "db.structural_parity", args = { reference = "snap.json" } },
  { kind = "check", id = "at-head", text = "At head `0002`", probe = "alembic.current_equals", expected = "0002" },
  { kind = "check", id = "one-head", text = "One head `0002`", probe = "alembic.single_head", expected = "0002" },"""


def _runbook(extra: str = "") -> Runbook:
    text = HEAD.format(production="false") + phase("P0", [("hello", "echo hello")], extra)
    return parse_runbook(text + FIELDS)


def test_fields_from_checks_that_never_ran_say_not_checked() -> None:
    runbook = _runbook()  # no drift, revision or heads check anywhere: every `init` runbook
    state = SessionState(steps={"hello": StepState(status="passed")})
    values = defaults(runbook, state)
    assert values["drift"] == NOT_CHECKED == "not checked"
    assert values["final_revision"] == values["heads_state"] == NOT_CHECKED
    assert values["errors"] == "none"  # the session watched every step it ran


def test_a_runbook_whose_checks_have_not_run_yet_says_not_checked_too() -> None:
    runbook = _runbook(CHECKS)
    state = SessionState(steps={"hello": StepState(status="passed")})
    values = defaults(runbook, state)
    assert values["drift"] == values["final_revision"] == values["heads_state"] == NOT_CHECKED


def test_checks_that_ran_fill_their_fields_with_what_they_saw() -> None:
    runbook = _runbook(CHECKS)
    state = SessionState(steps={
        "hello": StepState(status="passed"),
        "parity": StepState(status="passed", observed={"drift": [], "naming_only": []}),
        "at-head": StepState(status="passed", observed="0002"),
        "one-head": StepState(status="passed", observed="0002")})
    values = defaults(runbook, state)
    assert values["drift"] == "none"  # checked, and nothing differs
    assert values["final_revision"] == "0002" and values["heads_state"] == "single head 0002"


def test_a_session_that_watched_no_step_claims_no_errors_nor_drift_after_a_halt() -> None:
    runbook = _runbook()
    nothing_ran = defaults(runbook, SessionState())
    assert nothing_ran["errors"] == NOT_CHECKED
    halted = SessionState(halt=HaltState(reason="operator stop", by="operator",
                                         at="2026-12-05T00:00:00Z", actor="op@h"))
    values = defaults(runbook, halted)
    assert values["errors"].startswith("halted by operator")
    assert values["drift"] == NOT_CHECKED  # not blank, not `none`: nobody looked

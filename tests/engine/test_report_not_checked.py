"""The filled checklist ticks only what was checked: a drift check that could not look (no
rehearsal linked) lets the run go on, but its line stays unticked and says `not checked`
(found in review: it was ticked `[x] … passed`)."""

from __future__ import annotations

from cockpit.evidence.report import render_report
from cockpit.runbook.loader import parse_runbook
from cockpit.session.state import SessionState, StepState

RUNBOOK = """format = 1
id = "drift"
title = "Drift"
production = false

[[phases]]
id = "P0"
heading = "P0"
[[phases.steps]]
kind = "command"
id = "snap"
command = "cockpit snapshot DATABASE_URL"
log = "logs/snap.json"
read_only = true
[[phases.steps]]
kind = "check"
id = "as-rehearsed"
text = "Schema as the rehearsal found it"
probe = "db.structural_parity"
args = { rehearsal_step = "snap" }
[[phases.steps]]
kind = "check"
id = "width"
text = "Version width `64`"
probe = "alembic.version_width"
expected = 64
"""


def test_a_check_that_could_not_look_is_not_ticked_and_says_not_checked() -> None:
    runbook = parse_runbook(RUNBOOK.encode(), "drift.toml")
    said = "not checked (no rehearsal linked)"
    state = SessionState(steps={
        "as-rehearsed": StepState(status="passed", observed=said),
        "width": StepState(status="passed", observed=64)})
    report = render_report(runbook, state).splitlines()
    drift = next(line for line in report if "Schema as the rehearsal found it" in line)
    width = next(line for line in report if "Version width" in line)
    assert drift.startswith("- [ ] ") and " — not checked · " in drift, drift
    assert width.startswith("- [x] ") and " — passed · " in width, width


def test_the_screens_say_not_checked_too() -> None:
    from cockpit.session.rules import item_status
    from cockpit.tui.checklist import STATE_MARKS

    runbook = parse_runbook(RUNBOOK.encode(), "drift.toml")
    state = SessionState(steps={
        "as-rehearsed": StepState(status="passed", observed="not checked (no rehearsal linked)"),
        "width": StepState(status="passed", observed=64)})
    by_id = {i.id: i for p in runbook.phases for i in p.steps}
    assert item_status(runbook, state, by_id["as-rehearsed"]) == "not checked"
    assert item_status(runbook, state, by_id["width"]) == "passed"
    assert STATE_MARKS["not checked"].endswith("not checked")

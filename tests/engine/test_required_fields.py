"""Decision fields a runbook marks `required` (sign-off fields: the risk tier, the
authorization outcome, who approved) must be filled for a PASS (issue #27 item 7): the form
and headless refuse a PASS without them, naming each; a BLOCKER stays recordable with them
empty; the importer marks sign-off fields, and the reference runbook marks its two."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.evidence.decision import decision_fields, refusal
from cockpit.runbook.importer import import_checklist
from cockpit.runbook.loader import load_runbook, parse_runbook
from cockpit.runbook.render import render_markdown
from cockpit.session.state import GateState, HaltState, Sealed, SessionState, StepState
from tests.conftest import REFERENCE, REPO
from tests.engine.helpers import HEAD, ORDINARY, TAIL, cockpit, phase

REQUIRED = """
  { kind = "field", id = "risk", label = "Updated risk tier", role = "risk_tier", required = true },
  { kind = "field", id = "approver", label = "Approved by", required = true },
"""


def _text() -> str:
    tail = TAIL.replace('role = "root_cause" },', 'role = "root_cause" },' + REQUIRED)
    assert tail != TAIL
    return HEAD.format(production="false") + phase("P0", ORDINARY) + tail


def _world(tmp_path: Path) -> Path:
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("write freeze in force\n")
    path = world / "runbook.toml"
    path.write_text(_text())
    return path


def test_the_rules_refuse_pass_naming_each_empty_required_field() -> None:
    runbook = parse_runbook(_text())
    assert [f.id for f in decision_fields(runbook) if f.required] == ["risk", "approver"]
    done = SessionState(  # every other condition of a PASS holds
        gates={"signoff": GateState(status="passed"), "freeze": GateState(status="passed")},
        steps={step: StepState(status="passed") for step, _command in ORDINARY},
        evidence=Sealed(complete=True, at="2026-12-05T00:00:00Z", by="op@h"))
    values = {"status": "PASS", "risk": "", "approver": " "}
    assert refusal(runbook, done, values) == (
        "PASS needs the required fields filled: Updated risk tier, Approved by")
    assert refusal(runbook, done, {**values, "risk": "low", "approver": "R. Roe"}) is None
    halted = SessionState(halt=HaltState(reason="x failed", by="failure", step="x",
                                         at="2026-12-05T00:00:00Z", actor="op@h"))
    blocker = {"status": "BLOCKER", "errors": "x: exited 1", "root_cause": "defect"}
    assert refusal(runbook, halted, blocker) is None  # the sign-off fields may stay empty


def test_headless_refuses_pass_without_required_fields_and_resumes_with_them(
        tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    session = tmp_path / "s"
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n')
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(session))
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr
    assert "DECISION" not in done.stdout and "halted" not in done.stdout
    refused = next(line for line in done.stdout.splitlines() if line.startswith("REFUSED"))
    assert "Updated risk tier" in refused and "Approved by" in refused
    assert '[decision.PASS] risk_tier = "..."' in done.stdout
    assert '[decision.PASS] approver = "..."' in done.stdout
    assert not (session / "evidence" / "decision.json").exists()
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[decision.PASS]\nrisk_tier = "low"\n'
                       'approver = "R. Roe"\n')
    again = cockpit("resume", str(session), "--headless", "--answers", str(answers))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    record = json.loads((session / "evidence" / "decision.json").read_text())
    assert record["fields"]["status"] == "PASS"
    assert (record["fields"]["risk"], record["fields"]["approver"]) == ("low", "R. Roe")


def test_a_blocker_is_recorded_headless_with_required_fields_empty(tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    runbook.write_text(runbook.read_text().replace("echo hello; echo", "exit 4; echo"))
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    record = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert record["fields"]["status"] == "BLOCKER" and not record["fields"].get("approver")


SIGN_OFF = """# Release

## Steps
- [ ] `alembic upgrade head` -> `upgrade.log`

## Sign-off
- [ ] Status: PASS / BLOCKER
- [ ] Risk tier:
- [ ] Authorization outcome:
- [ ] Approved by:
- [ ] Signed off by:
- [ ] Checker:
- [ ] Operator:
- [ ] Incident commander:
- [ ] Notes:
"""


def test_the_importer_marks_sign_off_fields_required() -> None:
    runbook = import_checklist(SIGN_OFF, "release.md").runbook
    required = {f.label for f in decision_fields(runbook) if f.required}
    assert required == {"Risk tier", "Authorization outcome", "Approved by", "Signed off by",
                        "Checker"}
    assert render_markdown(runbook) == SIGN_OFF  # the transcript is untouched


def test_the_reference_marks_its_two_sign_off_fields_required() -> None:
    for runbook in (load_runbook(REPO / "runbooks" / "netz-prod-cutover.toml"),
                    import_checklist(REFERENCE.read_text(encoding="utf-8"),
                                     REFERENCE.name).runbook):
        assert {f.label.lower() for f in decision_fields(runbook) if f.required} == {
            "updated risk tier", "production cutover authorization outcome"}

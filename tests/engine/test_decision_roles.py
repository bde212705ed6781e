"""Decision fields are known by their role, never by their id: every session can record both
PASS and BLOCKER, whatever its checklist calls the fields — and a runbook that could not is
refused by `validate` before anyone runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.evidence.decision import decision_fields, refusal, status_field
from cockpit.runbook.importer import import_checklist
from cockpit.session.state import HaltState, SessionState
from tests.conftest import REFERENCE
from tests.engine.helpers import HEAD, ORDINARY, cockpit, phase, write_world

NO_DECISION_SECTION = HEAD.format(production="false") + phase("P0", [
    ("hello", "echo hello"), ("boom", "echo boom; exit 3")])


def test_the_imported_reference_knows_each_field_by_its_role() -> None:
    runbook = import_checklist(REFERENCE.read_text(encoding="utf-8"), REFERENCE.name).runbook
    roles = {f.role: f.id for f in decision_fields(runbook)}
    assert roles["root_cause"] == "root_cause_classification"
    assert roles["drift"] == "drift_detected"
    assert roles["status"] == "status" and roles["errors"] == "errors"
    assert not [f for f in decision_fields(runbook) if f.id.startswith("decision.")]
    # Halted on a failed step, with its fields filled by their imported ids: recordable.
    halted = SessionState(halt=HaltState(reason="x failed", by="failure", step="x",
                                         at="2026-11-29T00:00:00Z", actor="op@h"))
    values = {"status": "BLOCKER", "errors": "x: exited 1",
              "root_cause_classification": "migration defect"}
    assert refusal(runbook, halted, values) is None
    assert refusal(runbook, halted, {**values, "root_cause_classification": ""}) == (
        "BLOCKER needs a root-cause classification (Root-cause classification)")


@pytest.mark.parametrize(("fields", "place", "says"), [
    ('{ kind = "field", id = "s", label = "Status", allowed = ["PASS", "HOLD"], role = "status" }',
     "decision.items[0].allowed", "must allow BLOCKER"),
    ('{ kind = "field", id = "s", label = "Status", role = "status" }',
     "decision.items[0].allowed", "must allow PASS and BLOCKER"),
    ('{ kind = "field", id = "e", label = "Errors", role = "errors" },\n'
     '  { kind = "field", id = "f", label = "Failures", role = "errors" }',
     "decision.items[1].role", "role 'errors' is already given to field 'e'"),
    ('{ kind = "field", id = "decision.status", label = "Status" }',
     "decision.items[0].id", "the cockpit's own"),
])
def test_validate_refuses_a_decision_section_that_cannot_decide(
        tmp_path: Path, fields: str, place: str, says: str) -> None:
    text = (NO_DECISION_SECTION + '\n[decision]\nheading = "Decision"\nitems = [\n  '
            + fields + "\n]\n")
    path = tmp_path / "runbook.toml"
    path.write_text(text)
    done = cockpit("validate", str(path))
    assert done.returncode == 1
    assert f"{path}: {place}: " in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_runbook_without_decision_fields_still_records_a_blocker(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("freeze\n")
    runbook = world / "runbook.toml"
    runbook.write_text(NO_DECISION_SECTION)
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert done.stdout.splitlines()[-1] == "DECISION: BLOCKER"
    record = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert record["fields"]["decision.status"] == "BLOCKER"
    assert "boom: exited 3" in record["fields"]["decision.errors"]
    assert record["fields"]["decision.root_cause"].startswith("failed step or check: boom")
    markdown = (tmp_path / "s" / "evidence" / "decision.md").read_text()
    assert "- [x] Status (cockpit): BLOCKER" in markdown


def test_a_blocker_the_fields_refuse_is_recorded_with_a_note_saying_why(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY[:1])])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ))
    ctl.halt("the change window was withdrawn")  # an operator's halt: no root cause known
    status = status_field(ctl.runbook).id
    with pytest.raises(ActionRefused, match=r"root-cause classification.*or give a note"):
        ctl.record_decision({status: "BLOCKER"})
    with pytest.raises(ActionRefused, match="PASS is impossible"):
        ctl.record_decision({status: "PASS"}, note="a note never makes a PASS")
    record = ctl.record_decision({status: "BLOCKER"}, note="classified at the review board")
    ctl.close()
    assert record["recorded_with_note"] == {
        "refusal": "BLOCKER needs a root-cause classification (Root-cause classification)",
        "note": "classified at the review board"}
    assert ctl.state.decision is not None and ctl.state.decision.status == "BLOCKER"
    markdown = (tmp_path / "s" / "evidence" / "decision.md").read_text()
    assert "Recorded with a note (classified at the review board)" in markdown
    assert cockpit("verify", str(tmp_path / "s")).returncode == 0


def test_validate_notes_a_field_that_reads_like_a_role_but_has_none(tmp_path: Path) -> None:
    path = tmp_path / "runbook.toml"
    path.write_text(NO_DECISION_SECTION + '\n[decision]\nheading = "Decision"\nitems = [\n'
                    '  { kind = "field", id = "status", label = "Status", allowed = ["PASS", '
                    '"BLOCKER"] },\n  { kind = "field", id = "why", label = "Root cause" },\n]\n')
    done = cockpit("validate", str(path))
    assert done.returncode == 0
    notes = [line for line in done.stderr.splitlines() if "has no role" in line]
    assert len(notes) == 2
    assert 'decision.items[0].role' in notes[0] and 'role = "status"' in notes[0]
    assert 'decision.items[1].role' in notes[1] and 'role = "root_cause"' in notes[1]

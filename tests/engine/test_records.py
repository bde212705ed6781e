"""Typed events: a record per event kind, the same bytes as before records existed, and
sessions written before still verify and fold into the typed state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from cockpit.evidence.verify import verify_session
from cockpit.session import events as ev
from cockpit.session import records
from cockpit.session.events import canonical
from cockpit.session.state import Decision, SessionState, fold
from cockpit.session.store import read_event_log
from tests.conftest import REPO

# Written by the cockpit as it was before records (commit c6d4443): a step, a displaced
# log, an abort, diagnostics, the halt protocol, a resume, the seal and a BLOCKER decision.
BEFORE = REPO / "tests" / "fixtures" / "sessions" / "before-records"


def test_every_event_kind_has_its_record() -> None:
    kinds = {value for name, value in vars(ev).items() if name.isupper()
             and isinstance(value, str) and name != "GENESIS"}
    assert kinds == set(records.RECORDS)


def test_a_session_written_before_records_reads_the_same(tmp_path: Path) -> None:
    session = tmp_path / "s"
    shutil.copytree(BEFORE, session)
    events = read_event_log(session / "events.jsonl").events
    assert len(events) == 18
    for event in events:
        record = records.record_of(event)
        assert record is not None, event.type
        # the record writes exactly the data the event holds, so the same line and hash
        assert canonical(record.data()) == canonical(event.data), event.type
    state = fold(events)
    snapshot = SessionState.model_validate_json((session / "session.json").read_bytes())
    assert snapshot == state  # the old snapshot's dicts read into the typed records
    assert isinstance(state.decision, Decision) and state.decision.status == "BLOCKER"
    assert state.decision.json_ == "evidence/decision.json"
    assert state.displaced and state.displaced[0].from_.endswith("logs/hello.log")
    assert state.diagnostics[0].probes == ["locks"] and state.diagnostics[0].file
    result = verify_session(session)
    assert result.problems == [], result.problems


def test_a_record_refuses_a_wrong_or_missing_fact() -> None:
    with pytest.raises(ValidationError):
        records.StepFinished(step="s", run="s.1", exit_code=0, ok=True, bytes=1, lines=1,
                             sha256="0" * 64)  # no ended_at
    with pytest.raises(ValidationError):
        records.GateAttested(gate="g", reference=None)  # type: ignore[arg-type]
    given = records.DecisionRecorded(status="PASS", json_="evidence/decision.json",
                                     recorded_with_note=None)
    # exactly what was given, keys as the event has them ("json", not "json_")
    assert given.data() == {"status": "PASS", "json": "evidence/decision.json",
                            "recorded_with_note": None}

"""Sessions written by the cockpit before events were typed when read (main at 95fe85f, the
demo run headless): every event decodes into its record, the fold of those events is
the session's own session.json (model-equal, and equal as JSON values), and `cockpit verify` passes on a copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cockpit.evidence.verify import verify_session
from cockpit.session import records
from cockpit.session.events import canonical
from cockpit.session.state import SessionState, fold
from cockpit.session.store import read_event_log
from tests.conftest import REPO

SESSIONS = REPO / "tests" / "fixtures" / "sessions"
# the demo to its PASS; the demo with --fault missing-column: P3 halts, BLOCKER
WRITTEN_BEFORE = ["demo-pass", "demo-halt"]


@pytest.mark.parametrize("name", WRITTEN_BEFORE)
def test_a_session_written_before_typed_reads_folds_to_its_own_snapshot(
        name: str) -> None:
    folder = SESSIONS / name
    events = read_event_log(folder / "events.jsonl").events
    for event in events:
        record = records.record_of(event)
        assert record is not None, event.type
        assert event.type == record.KIND
        # what the record would write is the line's data as it stands: the same hash
        assert canonical(record.data()) == canonical(records.written(event)), event.seq
    # the snapshot as the live cockpit wrote it, event by event: the same model, and the
    # same JSON values (not bytes: the live state keeps a probe's keys in the order the probe
    # gave them, the log holds them sorted)
    folded = fold(events)
    written = (folder / "session.json").read_bytes()
    assert folded == SessionState.model_validate_json(written)
    # a part the state gained since (its empty default) is not in the older snapshot
    dumped, kept = json.loads(folded.model_dump_json()), json.loads(written)
    gained = {key for key in dumped.keys() - kept.keys() if dumped[key] in ([], {}, None)}
    # ... nor a step's part gained since (a retry, a revision at a time), at its default
    for sid, step in dumped["steps"].items():
        old = kept["steps"][sid]
        dumped["steps"][sid] = {k: v for k, v in step.items()
                                if k in old or v not in ([], {}, None, False)}
    assert {key: value for key, value in dumped.items() if key not in gained} == kept


@pytest.mark.parametrize("name", WRITTEN_BEFORE)
def test_a_session_written_before_typed_reads_still_verifies(name: str,
                                                              tmp_path: Path) -> None:
    session = tmp_path / name
    shutil.copytree(SESSIONS / name, session)
    result = verify_session(session)
    assert result.problems == [], result.problems
    assert result.summary.startswith(f"{len(read_event_log(session / 'events.jsonl').events)} "
                                     "events chained")

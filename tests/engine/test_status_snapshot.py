"""`status` reads session.json — the state the operator's cockpit wrote after its last
event — and the events after it, chained from the event it stands at; whenever the
snapshot is missing, unreadable, ahead of the log or off its chain, it folds the whole
log instead. Either way it shows the fold of the events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cockpit.session.reader import session_at
from cockpit.session.state import SessionState, fold
from cockpit.session.store import read_event_log
from tests.engine.helpers import cockpit, ordinary_world


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    runbook = ordinary_world(root)
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(root / "s")).returncode == 0
    return root / "s"


@pytest.fixture
def session(finished: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "s"))


def _whole(session: Path) -> SessionState:
    return fold(read_event_log(session / "events.jsonl").events)


def test_status_stands_on_the_snapshot_and_shows_the_fold(session: Path) -> None:
    view = session_at(session)
    assert view.source == "session.json" and view.state == _whole(session)
    shown = json.loads(cockpit("status", str(session), "--json").stdout)
    assert shown["derived"]["read_from"] == "session.json"
    assert shown["state"] == _whole(session).model_dump()
    assert "read from session.json; the whole chain: cockpit verify" in cockpit(
        "status", str(session)).stdout


def test_a_snapshot_one_event_behind_gets_the_last_event_folded_in(session: Path) -> None:
    """A crash between an event's fsync and the snapshot's replace leaves it one behind."""
    events = read_event_log(session / "events.jsonl").events
    behind = fold(events[:-1])
    (session / "session.json").write_text(behind.model_dump_json(indent=2))
    view = session_at(session)
    assert view.source == "session.json" and view.state == _whole(session)
    assert view.state.seq == events[-1].seq


def test_a_torn_last_line_is_reported_from_the_snapshot_too(session: Path) -> None:
    with open(session / "events.jsonl", "ab") as handle:
        handle.write(b'{"seq":99,"ts":"20')
    view = session_at(session)
    assert view.source == "session.json" and view.torn is not None
    assert view.torn.data == b'{"seq":99,"ts":"20'


@pytest.mark.parametrize("snapshot", [
    None,  # missing
    b"{not json",
    b'{"seq": "many"}',
])
def test_a_missing_or_unreadable_snapshot_falls_back_to_the_whole_log(
        session: Path, snapshot: bytes | None) -> None:
    if snapshot is None:
        (session / "session.json").unlink()
    else:
        (session / "session.json").write_bytes(snapshot)
    view = session_at(session)
    assert view.source == "events.jsonl" and view.state == _whole(session)


def test_a_snapshot_off_the_chain_or_ahead_falls_back_to_the_whole_log(session: Path) -> None:
    whole = _whole(session)
    for changed in (whole.model_copy(update={"last_hash": "e" * 64}),
                    whole.model_copy(update={"seq": whole.seq + 1}),
                    whole.model_copy(update={"seq": whole.seq - 1})):
        (session / "session.json").write_text(changed.model_dump_json())
        view = session_at(session)
        assert view.source == "events.jsonl" and view.state == whole


def test_an_event_after_the_snapshot_that_does_not_chain_falls_back_and_is_named(
        session: Path) -> None:
    """What follows the snapshot is chain-checked; damage there is the whole read's to
    name, with its line."""
    events = read_event_log(session / "events.jsonl").events
    (session / "session.json").write_text(fold(events[:-1]).model_dump_json())
    lines = (session / "events.jsonl").read_bytes().split(b"\n")
    lines[-2] = lines[-2].replace(b'"seq":', b'"seq":1', 1)
    (session / "events.jsonl").write_bytes(b"\n".join(lines))
    result = cockpit("status", str(session))
    assert result.returncode == 1
    assert f"line {len(events)}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("behind", [1, 5])
def test_verify_checks_a_snapshot_that_is_behind_the_log(session: Path, behind: int) -> None:
    """Status stands on a snapshot that is behind (a crash leaves it one behind): verify
    checks it against the fold of the events up to its own, so an altered one is named."""
    events = read_event_log(session / "events.jsonl").events
    honest = fold(events[:-behind])
    (session / "session.json").write_text(honest.model_dump_json(indent=2))
    assert cockpit("verify", str(session)).returncode == 0
    forged = honest.model_copy(update={"operator": "mallory"})
    (session / "session.json").write_text(forged.model_dump_json(indent=2))
    assert session_at(session).state.operator == "mallory"  # what status would show...
    result = cockpit("verify", str(session))  # ...and what verify says of it
    assert result.returncode == 1 and "session.json" in result.stderr
    assert "differs from the fold of the events" in result.stderr

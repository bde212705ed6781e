"""The event log: hash chain, fsync'd appends, torn tails, damage, and the fold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit.session.events import Actor
from cockpit.session.state import SessionState, fold
from cockpit.session.store import SessionDamaged, SessionStore, read_event_log
from tests.engine.helpers import cockpit, ordinary_world

ACTOR = Actor(name="op", host="box")


def _store(tmp_path: Path, n: int = 5) -> SessionStore:
    store = SessionStore.create(tmp_path / "s")
    for i in range(n):
        store.append(ACTOR, "gate_attested", {"gate": f"g{i}", "reference": f"REF-{i}"})
    return store


def test_events_chain_and_fold(tmp_path: Path) -> None:
    store = _store(tmp_path)
    log = read_event_log(store.path)
    assert [e.seq for e in log.events] == [1, 2, 3, 4, 5] and log.torn is None
    assert all(b.prev == a.hash for a, b in zip(log.events, log.events[1:], strict=False))
    state = fold(log.events)
    assert state.gates["g3"].reference == "REF-3" and state.seq == 5


def test_torn_last_line_is_ignored_then_set_aside_with_its_bytes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    whole = store.path.read_bytes()
    torn = b'{"seq":6,"ts":"2026-'
    store.path.write_bytes(whole + torn)
    log = read_event_log(store.path)
    assert len(log.events) == 5 and log.torn is not None and log.torn.data == torn
    reopened = SessionStore(store.folder)  # the writer sets it aside before appending
    reopened.append(ACTOR, "gate_attested", {"gate": "g5", "reference": "after"})
    aside = store.folder / f"events.torn-at-{len(whole)}.bin"
    assert aside.read_bytes() == torn
    events = read_event_log(store.path).events
    assert [e.type for e in events[5:]] == ["torn_tail_set_aside", "gate_attested"]
    assert events[5].data["bytes"] == len(torn)


@pytest.mark.parametrize("damage", ["flip", "drop", "garbage"])
def test_damage_is_rejected_naming_the_line_and_never_rewritten(tmp_path: Path,
                                                               damage: str) -> None:
    store = _store(tmp_path)
    lines = store.path.read_bytes().split(b"\n")
    if damage == "flip":
        lines[2] = lines[2].replace(b"REF-2", b"REF-X")
    elif damage == "drop":
        del lines[2]
    else:
        lines[2] = b"not json at all"
    store.path.write_bytes(b"\n".join(lines))
    before = store.path.read_bytes()
    with pytest.raises(SessionDamaged, match="line 3"):
        read_event_log(store.path)
    with pytest.raises(SessionDamaged):
        SessionStore(store.folder)
    assert store.path.read_bytes() == before


def test_snapshot_is_the_fold_of_the_events(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s")).returncode == 0
    snapshot = SessionState.model_validate_json((tmp_path / "s" / "session.json").read_bytes())
    rebuilt = fold(read_event_log(tmp_path / "s" / "events.jsonl").events)
    assert snapshot == rebuilt and snapshot.decision is not None and snapshot.decision.status == "PASS"


def test_tampering_with_a_log_or_an_event_makes_verify_name_it(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(session)).returncode == 0
    assert cockpit("verify", str(session)).returncode == 0
    # named as an operator types it, from the folder above (a relative name once made
    # verify look for each log under the folder twice)
    relative = cockpit("verify", "s", cwd=tmp_path)
    assert relative.returncode == 0 and "verify: ok" in relative.stdout, relative.stderr
    log = session / "steps" / "count.1.log"  # the session's copy: the evidence
    log.write_text(log.read_text().replace("tick 2", "tick 9"))
    result = cockpit("verify", str(session))
    assert result.returncode == 1 and f"log of count.1: {log}" in result.stderr
    log.write_text(log.read_text().replace("tick 9", "tick 2"))  # restored
    assert cockpit("verify", str(session)).returncode == 0
    published = runbook.parent / "logs" / "count.log"  # only a published copy: noted
    published.write_text(published.read_text().replace("tick 2", "tick 9"))
    result = cockpit("verify", str(session))
    assert result.returncode == 0 and f"{published} changed since" in result.stdout
    events = session / "events.jsonl"
    lines = events.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"step_finished"' in line)
    event = json.loads(lines[index])
    event["data"]["exit_code"] = 0 if event["data"]["exit_code"] else 1
    lines[index] = json.dumps(event)
    events.write_text("\n".join(lines) + "\n")
    result = cockpit("verify", str(session))
    assert result.returncode == 1 and f"line {index + 1}" in result.stderr
    assert "altered" in result.stderr


def test_a_line_is_judged_by_its_content_whatever_its_layout(tmp_path: Path) -> None:
    """The fast check hashes a line as written; a line laid out otherwise (spaces, another
    key order) is still judged by its content, and a data key named "hash" fools neither."""
    store = SessionStore.create(tmp_path / "s")
    store.append(ACTOR, "gate_attested", {"gate": "g", "hash": "f" * 64, "reference": "R"})
    store.append(ACTOR, "gate_attested", {"gate": "h", "reference": "S"})
    lines = store.path.read_bytes().splitlines()
    relaid = json.dumps(json.loads(lines[1]), indent=None, sort_keys=False).encode()
    store.path.write_bytes(lines[0] + b"\n" + relaid + b"\n")
    assert [e.data["gate"] for e in read_event_log(store.path).events] == ["g", "h"]
    altered = lines[0].replace(b'"reference":"R"', b'"reference":"X"')
    store.path.write_bytes(altered + b"\n" + lines[1] + b"\n")
    with pytest.raises(SessionDamaged, match="line 1: event 1 was altered"):
        read_event_log(store.path)


def test_a_line_holding_two_events_is_damage_not_a_shift(tmp_path: Path) -> None:
    """The whole log is parsed at once; a line with two JSON values must not shift every
    later event by one — it is named as damaged."""
    store = _store(tmp_path, 3)
    lines = store.path.read_bytes().splitlines()
    store.path.write_bytes(lines[0] + b"," + lines[1] + b"\n" + lines[2] + b"\n")
    with pytest.raises(SessionDamaged, match="line 1: not a valid event"):
        read_event_log(store.path)


@pytest.mark.parametrize(("good", "bad", "named"), [
    (b'"seq":3,', b'"seq":"3",', "seq"),  # a number written as text is not coerced
    (b'"seq":3,', b'"seq":true,', "seq"),
    (b'"actor":{"host":"box","name":"op"}', b'"actor":{"host":"box","name":"op","x":1}', "x"),
    (b'"type":"gate_attested"', b'"type":null', "type"),
])
def test_an_event_of_the_wrong_shape_is_named_with_its_field(tmp_path: Path, good: bytes,
                                                             bad: bytes, named: str) -> None:
    store = _store(tmp_path)
    lines = store.path.read_bytes().split(b"\n")
    assert good in lines[2]
    lines[2] = lines[2].replace(good, bad)
    store.path.write_bytes(b"\n".join(lines))
    with pytest.raises(SessionDamaged, match=f"line 3: not a valid event .*{named}"):
        read_event_log(store.path)

"""What both `verify` and `resume` ask of an event log before trusting it, beyond its chain
(read_event_log checks that): its snapshot agrees with the fold, and its tail is no whole
event (a crash tears an append short; a whole event without its newline was edited). One
copy, so resume never goes on from a log that verify rejects."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cockpit.session.events import Event
from cockpit.session.layout import EVENTS, SNAPSHOT
from cockpit.session.state import SessionState, fold
from cockpit.session.store import EventLog


def snapshot_problem(folder: Path, state: SessionState, events: list[Event]) -> str | None:
    """session.json is the fold of the events — or, after a crash, of the events up to
    its own (status stands on it, and folds the later ones in). None when it is, or absent."""
    try:
        snapshot = SessionState.model_validate_json((folder / SNAPSHOT).read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        return f"{folder / SNAPSHOT}: not a valid snapshot ({str(exc).splitlines()[0]})"
    if 0 <= snapshot.seq < state.seq:  # behind: the fold of the events up to its own
        state = fold(events[:snapshot.seq])
    if snapshot.seq == state.seq and snapshot != state:
        digest = hashlib.sha256((folder / SNAPSHOT).read_bytes()).hexdigest()[:16]
        return (f"{folder / SNAPSHOT} (sha256 {digest}…) differs from the fold of the "
                "events")
    if snapshot.seq > state.seq:
        return (f"{folder / SNAPSHOT} is ahead of the event log (seq {snapshot.seq} > "
                f"{state.seq})")
    return None


def edited_tail_problem(folder: Path, log: EventLog) -> str | None:
    """A "torn" tail that is a whole event, its newline missing or changed."""
    if log.torn is None or not whole_event(log.torn.data):
        return None
    return (f"{folder / EVENTS}: its last {len(log.torn.data)} bytes are a whole event without "
            "the newline every append writes: changed after writing")


def whole_event(data: bytes) -> bool:
    for candidate in (data, data[:-1]):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, dict) and {"seq", "hash", "prev"} <= parsed.keys():
            return True
    return False


def log_problems(folder: Path, log: EventLog, state: SessionState) -> list[str]:
    """What resume refuses, as verify words it: the snapshot and the edited tail (the chain
    was checked by the read that gave `log`)."""
    return [problem for problem in (snapshot_problem(folder, state, log.events),
                                    edited_tail_problem(folder, log)) if problem is not None]

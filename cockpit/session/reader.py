"""Read-only access to a session folder: what `status`, `report`, `verify` and the mirror
use. Takes no lock and creates nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from cockpit.session.events import Event
from cockpit.session.layout import EVENTS, RUNBOOK_COPY, SNAPSHOT
from cockpit.session.replace import read_replaced
from cockpit.session.state import SessionState, fold
from cockpit.session.store import TornTail, read_event_log, read_events_after


@dataclass(frozen=True)
class SessionAt:
    """Where a session stands (for `status`): its state, runbook and torn tail."""

    folder: Path
    state: SessionState
    runbook: Runbook
    torn: TornTail | None
    source: str  # what the state was read from: the snapshot, or the whole event log


@dataclass(frozen=True)
class SessionSnapshot(SessionAt):
    """A session as read once, whole (for `report`, `export`); the screens follow a live
    one through a SessionView instead (view.py)."""

    events: list[Event]


def open_session(folder: Path) -> SessionSnapshot:
    log = read_event_log(session_events(folder))
    return SessionSnapshot(folder, fold(log.events), session_runbook(folder), log.torn, EVENTS,
                           log.events)


def session_at(folder: Path) -> SessionAt:
    """The state as the operator's cockpit last wrote it down (session.json, for fast
    status) with the events after it folded in, each chained from the event it stands at
    (after a crash it is one behind); the whole log folded instead when the snapshot is
    missing, unreadable or not on the log's chain. Checking the whole chain is `verify`'s."""
    events = session_events(folder)
    try:
        snapshot = SessionState.model_validate_json(read_replaced(folder / SNAPSHOT))
    except (OSError, ValueError):
        snapshot = None
    if snapshot is not None and snapshot.seq > 0:
        log = read_events_after(events, snapshot.seq, snapshot.last_hash)
        if log is not None:
            return SessionAt(folder, fold(log.events, base=snapshot), session_runbook(folder),
                             log.torn, SNAPSHOT)
    whole = open_session(folder)
    return SessionAt(whole.folder, whole.state, whole.runbook, whole.torn, whole.source)


def session_events(folder: Path) -> Path:
    if not (folder / EVENTS).exists():
        raise CockpitError(f"{folder}: not a session folder (no {EVENTS})")
    return folder / EVENTS


def session_runbook(folder: Path) -> Runbook:
    """The runbook as the session copied it at its start."""
    try:
        return parse_runbook((folder / RUNBOOK_COPY).read_bytes(), str(folder / RUNBOOK_COPY))
    except FileNotFoundError:
        raise CockpitError(f"{folder}: the session's copy of its runbook is missing") from None

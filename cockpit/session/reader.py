"""Read-only access to a session folder: what `status`, `report`, `verify` and the mirror
use. Takes no lock and creates nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from cockpit.session.events import Event
from cockpit.session.layout import EVENTS, RUNBOOK_COPY
from cockpit.session.state import SessionState, fold
from cockpit.session.store import TornTail, read_event_log


@dataclass(frozen=True)
class SessionSnapshot:
    """A session as read once, whole (for `status`, `report`, `export`); the screens follow
    a live one through a SessionView instead (view.py)."""

    folder: Path
    events: list[Event]
    state: SessionState
    runbook: Runbook
    torn: TornTail | None


def open_session(folder: Path) -> SessionSnapshot:
    log = read_event_log(session_events(folder))
    return SessionSnapshot(folder, log.events, fold(log.events), session_runbook(folder), log.torn)


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

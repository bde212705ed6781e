"""Read-only access to a session folder: what `status`, `report`, `verify` and the mirror
use. Takes no lock and creates nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from cockpit.session.events import Event
from cockpit.session.state import SessionState, fold
from cockpit.session.store import EVENTS, TornTail, read_event_log

RUNBOOK_COPY = "runbook.toml"


@dataclass(frozen=True)
class SessionView:
    folder: Path
    events: list[Event]
    state: SessionState
    runbook: Runbook
    torn: TornTail | None


def open_session(folder: Path) -> SessionView:
    if not (folder / EVENTS).exists():
        raise CockpitError(f"{folder}: not a session folder (no {EVENTS})")
    log = read_event_log(folder / EVENTS)
    state = fold(log.events)
    try:
        runbook = parse_runbook((folder / RUNBOOK_COPY).read_bytes(), str(folder / RUNBOOK_COPY))
    except FileNotFoundError:
        raise CockpitError(f"{folder}: the session's copy of its runbook is missing") from None
    return SessionView(folder, log.events, state, runbook, log.torn)

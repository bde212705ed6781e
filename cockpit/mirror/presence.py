"""Is the operator's cockpit alive? Read from the session's lock file, which the mirror
only reads (it never takes the lock)."""

from __future__ import annotations

from pathlib import Path

from cockpit.session.lock import holder_alive


def operator_present(folder: Path) -> bool | None:
    """True or False for a holder on this machine; None when nobody holds the session or
    the holder is on another host (its pid means nothing here)."""
    return holder_alive(folder)


WATCHING = "watching"


def presence_text(present: bool | None, ended: bool) -> str:
    """What the mirror says of the operator: watching, or why nothing will move."""
    if ended or present is True:
        return WATCHING
    if present is False:
        return "operator's cockpit is GONE (died holding the session) — waiting for resume"
    return "operator's cockpit is CLOSED (session not ended) — waiting for resume"

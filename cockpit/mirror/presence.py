"""What the mirror says of the operator's cockpit, alive or not (the lock file, read only:
`session.lock.holder_alive`)."""

from __future__ import annotations

WATCHING = "watching"


def presence_text(present: bool | None, ended: bool) -> str:
    """What the mirror says of the operator: watching, or why nothing will move."""
    if ended or present is True:
        return WATCHING
    if present is False:
        return "operator's cockpit is GONE (died holding the session) — waiting for resume"
    return "operator's cockpit is CLOSED (session not ended) — waiting for resume"

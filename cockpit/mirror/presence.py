"""What the mirror says of the operator's cockpit, alive or not (the lock file, read only:
`session.lock.holder_alive`)."""

from __future__ import annotations

WATCHING = "watching"


def presence_text(present: bool | None, ended: bool) -> str:
    """What the mirror says of the operator: watching, or why nothing will move."""
    if ended or present is True:
        return WATCHING
    # short enough for an 80-column header beside the verdict
    if present is False:
        return "operator's cockpit is GONE (died) — waiting for resume"
    return "operator's cockpit is CLOSED — waiting for resume"

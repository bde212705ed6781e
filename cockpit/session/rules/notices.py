"""What the people who wait have not been told: the notifications whose last attempt did not
deliver them (the header, `status`)."""

from __future__ import annotations

from cockpit.session.state import Notice, SessionState


def undelivered(state: SessionState) -> list[Notice]:
    return [n for n in state.notices.values() if n.outcome != "delivered"]


def undelivered_text(state: SessionState) -> str | None:
    """"2 notifications undelivered: slack halted (HTTP 500, 3 attempts), ..." or None."""
    left = undelivered(state)
    if not left:
        return None
    said = ", ".join(f"{n.destination} {n.moment} ({n.detail or n.outcome}, {n.attempts} "
                     f"attempt{'' if n.attempts == 1 else 's'})" for n in left[:3])
    more = f", and {len(left) - 3} more" if len(left) > 3 else ""
    return (f"{len(left)} notification{'' if len(left) == 1 else 's'} undelivered: "
            f"{said}{more}")

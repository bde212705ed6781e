"""What the people who wait have not been told: the notifications whose last attempt did not
deliver them (the header, `status`)."""

from __future__ import annotations

from cockpit.session.format import clip
from cockpit.session.state import Notice, SessionState

# what the people who wait most need to have had, first
_FIRST = ["halted", "decision", "countersign", "hold", "retry", "behind", "gates", "phase"]


def undelivered(state: SessionState) -> list[Notice]:
    """The messages not delivered, the most needed first (a halt, the decision), each kind
    in the order it happened."""
    left = [n for n in state.notices.values() if n.outcome != "delivered"]
    return sorted(left, key=lambda n: (_FIRST.index(n.moment) if n.moment in _FIRST
                                       else len(_FIRST), _seq(n.message)))


def _seq(message: str) -> float:
    tail = message.rsplit("#", 1)[-1].split(".")[0]
    return int(tail) if tail.isdigit() else float("inf")


def cause(notice: Notice) -> str:
    """The last answer, short: "HTTP 500", "not reached: Connection refused"."""
    return clip((notice.detail or notice.outcome).split(";")[0], 80)


def undelivered_text(state: SessionState) -> str | None:
    """"2 notifications undelivered: slack halted (HTTP 500, 3 attempts), ..." or None."""
    left = undelivered(state)
    if not left:
        return None
    said = ", ".join(f"{n.destination} {n.moment} ({cause(n)}, {n.attempts} "
                     f"attempt{'' if n.attempts == 1 else 's'})" for n in left[:3])
    more = f", and {len(left) - 3} more" if len(left) > 3 else ""
    return (f"{len(left)} notification{'' if len(left) == 1 else 's'} undelivered: "
            f"{said}{more}")


def closing_line(state: SessionState, folder: str) -> str | None:
    """What a closing cockpit says of its notifications: all delivered, or how many are
    not and how to send them (None: the session has none)."""
    if not state.notices:
        return None
    left = undelivered(state)
    if not left:
        messages = len({n.message for n in state.notices.values()})
        places = len({n.destination for n in state.notices.values()})
        return (f"notifications: all {messages} message{'' if messages == 1 else 's'} "
                f"delivered to {places} destination{'' if places == 1 else 's'}")
    return (f"notifications: {undelivered_text(state)} — `cockpit notify {folder} --flush` "
            "sends them")

"""`cockpit notify-test` (a test message to each destination of a runbook) and `cockpit
notify` (a session's undelivered notifications; `--flush` sends them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_BLOCKER, EXIT_OK
from cockpit.session import rules

if TYPE_CHECKING:
    from cockpit.session.state import Notice, SessionState

FLUSH_WAIT_S = 600.0  # --flush: long enough for every destination's attempts


def notify_test(*, runbook: str, destination: str | None = None) -> int:
    from cockpit.engine.notify.trial import try_destinations
    from cockpit.session.inert import inert

    tried = try_destinations(Path(runbook), destination)
    for one in tried:
        print(inert(f"{one.name} ({one.kind}): "
                    f"{'delivered' if one.delivered else 'NOT DELIVERED'} — {one.detail}"))
    return EXIT_OK if all(one.delivered for one in tried) else EXIT_BLOCKER


def notify(*, folder: str, flush: bool = False) -> int:
    from cockpit.session.reader import open_session

    if flush:
        return _flush(Path(folder))
    state = open_session(Path(folder)).state
    for line in _listing(state):
        print(line)
    return EXIT_BLOCKER if rules.undelivered(state) else EXIT_OK


def _listing(state: SessionState) -> list[str]:
    """Per destination, how many of its messages were delivered; then each one that was
    not, with its last answer."""
    from cockpit.session.inert import inert

    by: dict[str, list[Notice]] = {}
    for notice in state.notices.values():
        by.setdefault(notice.destination, []).append(notice)
    lines = [f"{name}: {sum(n.outcome == 'delivered' for n in got)} of {len(got)} messages "
             "delivered" for name, got in sorted(by.items())] or ["no notification yet"]
    if left := rules.undelivered(state):
        lines.append(f"undelivered ({len(left)}), the most needed first:")
        lines += [inert(f"  {n.destination} {n.moment} {n.message} — {rules.cause(n)} "
                        f"({n.attempts} attempt{'' if n.attempts == 1 else 's'})")
                  for n in left]
    return lines


def _flush(folder: Path) -> int:
    from cockpit.engine.controller import Controller
    from cockpit.session.inert import inert

    ctl = Controller.for_notices(folder)
    before = {key for key, n in ctl.state.notices.items() if n.outcome == "delivered"}
    try:
        assert ctl.notifier is not None
        ctl.notifier.drain(FLUSH_WAIT_S)
    finally:
        ctl.close(notify_wait=0)
    for key, n in ctl.state.notices.items():
        if n.outcome == "delivered" and key not in before:
            print(inert(f"delivered: {n.destination} {n.moment} {n.message} ({n.detail})"))
    for line in _listing(ctl.state):
        print(line)
    return EXIT_BLOCKER if rules.undelivered(ctl.state) else EXIT_OK

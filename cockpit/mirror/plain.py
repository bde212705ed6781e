"""`cockpit mirror SESSION --plain`: the session as lines, for any terminal, a recording or a
pager. One line per event (time, actor, event) and every line a step prints, prefixed by its
step, in the order they happened. Read-only: no lock, nothing created. Exits 0 once the
session has ended and everything is printed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cockpit.engine.headless import format_event
from cockpit.session import events as ev
from cockpit.session.follow import EventFollower
from cockpit.session.logtail import LogTail
from cockpit.session.state import SessionState, apply
from cockpit.session.store import EVENTS

TICK_S = 0.05  # polling: a new line or event is printed within 100 ms


def follow_plain(folder: Path, out: Callable[[str], None], from_start: bool = False,
                 wait_s: float = 30.0) -> int:
    follower = EventFollower(folder / EVENTS)
    state = SessionState()
    tails: dict[str, tuple[str, LogTail]] = {}  # run -> (step, its log)
    deadline = time.monotonic() + wait_s
    while not (folder / EVENTS).exists():
        if time.monotonic() > deadline:
            out(f"{folder}: no session here (no {EVENTS})")
            return 1
        time.sleep(TICK_S)
    first = True
    while True:
        events = follower.poll()
        live = from_start or not first
        for event in events:
            if event.type == ev.STEP_FINISHED and event.data["run"] in tails:
                step, tail = tails.pop(event.data["run"])  # its log is complete by now
                if live:
                    _print_lines(out, step, tail.flush(everything=True))
            state = apply(state, event)
            if live:
                out(format_event(event))
            if event.type == ev.STEP_STARTED and event.data.get("log"):
                tail = LogTail(Path(event.data["log"]))
                tails[event.data["run"]] = (event.data["step"], tail)
        if first and not from_start and state.seq:
            out(f"-- following session {state.session_id} from event {state.seq} "
                f"(--from-start replays it all)")
            for _step, tail in tails.values():
                tail.last(0)  # a running step: from its current end
        first = False
        for step, tail in tails.values():
            _print_lines(out, step, tail.read_all())
        if state.ended and not tails:
            return 0
        time.sleep(TICK_S)


def _print_lines(out: Callable[[str], None], step: str, lines: list[str]) -> None:
    for line in lines:
        out(f"[{step}] {line}")

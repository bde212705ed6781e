"""`cockpit mirror SESSION --plain`: the session as lines, for any terminal, a recording or a
pager. One line per event (time, actor, event) and every line a step prints, prefixed by its
step, in the order they happened. Read-only: no lock, nothing created. Exits 0 once the
session has ended and everything is printed; 1 if something it read was damaged."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cockpit.engine.headless import format_event
from cockpit.mirror.integrity import log_damage
from cockpit.mirror.presence import operator_present, presence_text
from cockpit.session import events as ev
from cockpit.session.follow import EventFollower
from cockpit.session.logtail import LogTail
from cockpit.session.notify import POLL_S, ChangeWaiter
from cockpit.session.state import SessionState, apply
from cockpit.session.store import EVENTS

PRESENCE_S = 1.0  # how often to look whether the operator's cockpit is still alive


class PlainMirror:
    def __init__(self, folder: Path, out: Callable[[str], None], from_start: bool) -> None:
        self.folder = folder
        self.out = out
        self.from_start = from_start
        self.follower = EventFollower(folder / EVENTS)
        self.state = SessionState()
        self.tails: dict[str, tuple[str, LogTail]] = {}  # run -> (step, its log)
        self.waiter = ChangeWaiter([folder])
        self.damaged = False
        self.reported: set[int] = set()  # tails whose damage was printed
        self.present: bool | None = True  # until seen otherwise
        self.looked = 0.0

    def take_events(self, live: bool) -> None:
        for event in self.follower.poll():
            if event.type == ev.STEP_FINISHED and event.data["run"] in self.tails:
                step, tail = self.tails.pop(event.data["run"])  # its log is complete by now
                if live:
                    self.lines(step, tail.flush(everything=True))
                    self.check_log(step, tail, event.data.get("bytes"),
                                   event.data.get("sha256"))
            self.state = apply(self.state, event)
            if live:
                self.out(format_event(event))
            if event.type == ev.STEP_STARTED and event.data.get("log"):
                log = Path(event.data["log"])
                self.waiter.watch(log.parent)
                self.tails[event.data["run"]] = (event.data["step"], LogTail(log))
        if self.follower.damage is not None and not self.damaged:
            self.damaged = True
            self.out(f"!! DAMAGED event log: {self.follower.damage}")
            self.out("!! the session is shown as it stood before that line; nothing is "
                     "followed past it (`cockpit verify` names every mismatch)")

    def check_log(self, step: str, tail: LogTail, size: int | None, sha: str | None) -> None:
        if tail.damage is not None:
            self.log_damaged(step, tail)
        elif (problem := log_damage(tail.path, size, sha)) is not None:
            self.damaged = True
            self.out(f"!! [{step}] log DAMAGED: {problem}")

    def log_damaged(self, step: str, tail: LogTail) -> None:
        if id(tail) not in self.reported:
            self.reported.add(id(tail))
            self.damaged = True
            self.out(f"!! [{step}] log DAMAGED: {tail.damage}")

    def lines(self, step: str, lines: list[str]) -> None:
        for line in lines:
            self.out(f"[{step}] {line}")

    def look_for_operator(self) -> None:
        if time.monotonic() - self.looked < PRESENCE_S or self.state.ended:
            return
        self.looked = time.monotonic()
        present = operator_present(self.folder)
        if present is not True:
            self.take_events(live=True)  # it may have just ended the session and let go
        if present is not True and present != self.present and not self.state.ended:
            self.out(f"-- {presence_text(present, self.state.ended)}")
        self.present = present

    def follow(self) -> int:
        first = True
        while True:
            self.take_events(live=self.from_start or not first)
            if first and not self.from_start and self.state.seq:
                self.out(f"-- following session {self.state.session_id} from event "
                         f"{self.state.seq} (--from-start replays it all)")
                for _step, tail in self.tails.values():
                    tail.last(0)  # a running step: from its current end
            first = False
            for step, tail in self.tails.values():
                self.lines(step, tail.read_all())
                if tail.damage is not None:
                    self.log_damaged(step, tail)  # said once; the tail reads no further
            if self.follower.damage is not None:
                return 1
            if self.state.ended and not self.tails:
                return 1 if self.damaged else 0
            self.look_for_operator()
            self.waiter.wait()


def follow_plain(folder: Path, out: Callable[[str], None], from_start: bool = False,
                 wait_s: float = 30.0) -> int:
    deadline = time.monotonic() + wait_s
    while not (folder / EVENTS).exists():
        if time.monotonic() > deadline:
            out(f"{folder}: no session here (no {EVENTS})")
            return 1
        time.sleep(POLL_S)
    mirror = PlainMirror(folder, out, from_start)
    try:
        return mirror.follow()
    finally:
        mirror.waiter.close()

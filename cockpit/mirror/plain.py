"""`cockpit mirror SESSION --plain`: the session as lines, for any terminal, a recording or a
pager. One line per event (time, actor, event) and every line a step prints, prefixed by its
step, in the order they happened. Read-only: no lock, nothing created. Exits 0 once the
session has ended and everything is printed; 1 if something it read was damaged."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.mirror.presence import presence_text
from cockpit.session import records, rules
from cockpit.session.follow import EventFollower
from cockpit.session.format import format_event
from cockpit.session.inert import inert
from cockpit.session.integrity import file_problem
from cockpit.session.layout import EVENTS
from cockpit.session.lock import holder_present
from cockpit.session.notify import POLL_S, ChangeWaiter
from cockpit.session.reader import session_runbook
from cockpit.session.state import SessionState, apply
from cockpit.session.stepfollow import StepLogFollower

PRESENCE_S = 1.0  # how often to look whether the operator's cockpit is still alive


class PlainMirror:
    def __init__(self, folder: Path, out: Callable[[str], None], from_start: bool) -> None:
        self.folder = folder
        self.out: Callable[[str], None] = lambda line: out(inert(line))  # invariant 11
        self.print_line = out  # a step's lines: inert already, from the follower
        self.from_start = from_start
        self.follower = EventFollower(folder / EVENTS)
        self.state = SessionState()
        self.logs = StepLogFollower(folder)  # the running step's log
        self.waiter = ChangeWaiter([folder])
        self.said: set[str] = set()  # damages printed: runs, or "events"
        self.present: bool | None = True  # until seen otherwise
        self.looked = 0.0

    def take_events(self, live: bool) -> None:
        logs = self.logs
        for event in self.follower.poll():
            record = records.record_of(event)
            if isinstance(record, records.StepFinished | records.StepInterrupted
                          | records.StepNotStarted) \
                    and logs.following and record.run == logs.run:
                step, tail_damage = logs.step or "", logs.damage
                if not live:
                    logs.let_go()
                else:
                    # its log is complete by now (or will get no more): all of it, in batches
                    while logs.following:
                        self.lines(step, logs.finish())
                    if isinstance(record, records.StepFinished):
                        self.check_log(record.run, step, tail_damage, record.bytes,
                                       record.sha256)
            self.state = apply(self.state, event)
            if live:
                self.out(format_event(event))
            if live and isinstance(record, records.RetryScheduled):
                self.out(f"[{record.step}] RETRY: attempt {record.attempt} of {record.of} in "
                         f"{record.delay_s:.1f} s (at {record.due_at})"
                         + (f" · blocked by {record.blocker}" if record.blocker else ""))
            if isinstance(record, records.StepStarted) and record.log:
                logs.start(record.step, record.run, record.log, path=record.path)
                if logs.path is not None:
                    self.waiter.watch(logs.path.parent)
        if self.follower.damage is not None:
            self.say_damage("events", f"!! DAMAGED event log: {self.follower.damage}",
                            "!! the session is shown as it stood before that line; nothing is "
                            "followed past it (`cockpit verify` names every mismatch)")

    def check_log(self, run: str, step: str, tail_damage: str | None, size: int | None,
                  sha: str | None) -> None:
        path = self.logs.path
        problem = tail_damage or (file_problem(path, sha, size) if sha and path else None)
        if problem is not None:
            self.say_damage(run, f"!! [{step}] log DAMAGED: {problem}")

    def say_damage(self, key: str, *lines: str) -> None:
        """Each damage once (by run, or "events"); having seen any makes the exit code 1."""
        if key not in self.said:
            self.said.add(key)
            for line in lines:
                self.out(line)

    def lines(self, step: str, lines: list[str]) -> None:
        for line in lines:
            self.print_line(f"[{step}] {line}")
        for news in self.logs.news():  # each revision of an upgrade, as it starts
            self.out(f"[{step}] ── {news}")

    def look_for_operator(self) -> None:
        if time.monotonic() - self.looked < PRESENCE_S or self.state.ended:
            return
        self.looked = time.monotonic()
        present = holder_present(self.folder)
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
                where = (f" (environment {self.state.environment})"
                         if self.state.environment else "")
                self.out(f"-- following session {self.state.session_id}{where} from event "
                         f"{self.state.seq} (--from-start replays it all)")
                if self.logs.following and self.logs.step is not None:
                    # a running step: from its current end
                    self.logs.start(self.logs.step, self.logs.run or "",
                                    self.state.steps[self.logs.step].log or "", from_end=True)
            first = False
            logs = self.logs
            if logs.following:
                self.lines(logs.step or "", logs.read())
                if logs.damage is not None:  # said once; the tail reads no further
                    self.say_damage(logs.run or "", f"!! [{logs.step}] log DAMAGED: "
                                    f"{logs.damage}")
            if self.follower.damage is not None:
                return 1
            if self.state.closed and not self.logs.following:
                self.say_awaiting()
                return 1 if self.said else 0
            self.look_for_operator()
            if not logs.behind:  # lines already written are read before any wait
                self.waiter.wait()


    def say_awaiting(self) -> None:
        """A decision still waiting for its reviewers, said as the follow ends."""
        try:
            runbook = session_runbook(self.folder)
        except CockpitError:
            return
        waiting = rules.awaiting_countersign(runbook, self.state)
        if waiting is not None:
            self.out(f"-- AWAITING COUNTERSIGN: {waiting[0]} of {waiting[1]} "
                     "countersignature(s) of the decision")


def follow_plain(folder: Path, out: Callable[[str], None], from_start: bool = False,
                 wait_s: float = 0.0) -> int:
    """Follow the session in `folder`; one that is not there yet is waited for `wait_s`,
    then refused (exit 1, naming the folder) — at once by default: a mistyped path is not
    left hanging with no word."""
    deadline = time.monotonic() + wait_s
    while not (folder / EVENTS).exists():
        if time.monotonic() >= deadline:
            what = ("no such folder" if not folder.exists()
                    else f"not a session folder (no {EVENTS})")
            waited = f" after waiting {wait_s:g} s" if wait_s else ""
            raise CockpitError(f"{folder}: {what}{waited}")
        time.sleep(POLL_S)
    mirror = PlainMirror(folder, out, from_start)
    try:
        return mirror.follow()
    finally:
        mirror.waiter.close()

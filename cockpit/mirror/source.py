"""A session opened read-only for the mirror's screen, kept current by following its event
log. It offers what the screens read (runbook, state, the running step, what is damaged) and
no verb at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cockpit.session.events import Event
from cockpit.session.follow import EventFollower
from cockpit.session.integrity import file_problem
from cockpit.session.layout import session_file
from cockpit.session.lock import holder_present
from cockpit.session.notify import ChangeWaiter
from cockpit.session.reader import session_events, session_runbook
from cockpit.session.redact import Redactor
from cockpit.session.runfiles import RunFiles, running_files
from cockpit.session.state import SessionState, apply, fold
from cockpit.session.stepfollow import StepLogFollower


class MirrorSource:
    def __init__(self, folder: Path) -> None:
        # Reads only; takes no lock; creates nothing. A damaged event log still opens: the
        # follower stops at the damage, and the screen says so.
        self.follower = EventFollower(session_events(folder))
        self.runbook = session_runbook(folder)
        self.folder = folder
        self.state: SessionState = fold(self.follower.poll())
        self.workdir = Path(self.state.workdir)
        self.listeners: list[Callable[[Event], None]] = []
        self.redactor = Redactor()  # events reach a mirror already redacted
        self.waiter = ChangeWaiter([folder])  # wakes the screen when the operator appends
        self.log_damage: dict[str, str] = {}  # step -> what is wrong with its finished log
        self._checked: set[tuple[str, str]] = set()  # (step, recorded sha256) looked at

    @property
    def damage(self) -> str | None:
        """What is wrong with the event log; the mirror shows the session as it stood
        before that point and follows no further."""
        return self.follower.damage

    def has_new_events(self) -> bool:
        """Whether the operator appended to the event log since the last poll (a stat)."""
        return self.follower.grew()

    def catch_up(self) -> bool:
        """Take in what the operator appended; True if anything was."""
        events = self.follower.poll()
        for event in events:
            self.state = apply(self.state, event)
            for listener in self.listeners:
                listener(event)
        return bool(events)

    def check_logs(self) -> bool:
        """Compare every finished step's log, once, with what its supervisor recorded (a
        file read: call it off the UI thread). True if a new damage was found."""
        found = False
        for step_id, step in self.state.steps.items():
            if not step.log or step.sha256 is None or step.status == "running" \
                    or (step_id, step.sha256) in self._checked:
                continue
            self._checked.add((step_id, step.sha256))
            problem = file_problem(session_file(self.folder, step.log), step.sha256, step.bytes)
            if problem is not None:
                self.log_damage[step_id] = problem
                found = True
        return found

    def running_log_damaged(self, problem: str) -> None:
        """The running step's log went wrong under the follower (it shrank)."""
        self.log_damage.setdefault(self.state.running_step() or "running step", problem)

    def running(self) -> tuple[str, RunFiles] | None:
        return running_files(self.folder, self.state)

    def log_follower(self) -> StepLogFollower:
        return StepLogFollower(self.folder)

    def operator_present(self) -> bool | None:
        """Whether the operator's cockpit is alive (None: nobody holds the session)."""
        return holder_present(self.folder)

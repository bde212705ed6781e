"""What a screen may see of a session: the one interface under the operator's screen and the
reviewer's mirror. It reads; it has no member that appends an event or starts a process
(tests/test_layers.py checks its members), so a screen built on it alone cannot change the
session — the operator's screen gets its verbs from the controller, separately."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cockpit.runbook.model import Runbook
from cockpit.session.events import Event
from cockpit.session.redact import Redactor
from cockpit.session.runfiles import RunFiles
from cockpit.session.state import SessionState
from cockpit.session.stepfollow import StepLogFollower


class SessionView(Protocol):
    @property
    def runbook(self) -> Runbook: ...

    @property
    def folder(self) -> Path: ...

    @property
    def state(self) -> SessionState:
        """The fold of every event taken in so far."""
        ...

    @property
    def listeners(self) -> list[Callable[[Event], None]]:
        """Called with each event as it is taken in."""
        ...

    @property
    def redactor(self) -> Redactor:
        """What hides the session's secrets in anything shown (an error's text)."""
        ...

    def running(self) -> tuple[str, RunFiles] | None:
        """The running step and its run's files, if one runs."""
        ...

    def log_follower(self) -> StepLogFollower:
        """A follower of this session's step logs (the one kind every screen uses)."""
        ...

    def catch_up(self) -> bool:
        """Take in the events another process appended since the last call (the mirror:
        the operator's; the controller, the session's only writer, has none). True if
        anything was."""
        ...

"""A session opened read-only for the mirror's screen, kept current by following its event
log. It offers what the screens read (runbook, state, the running step) and no verb at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from cockpit.engine.launcher import RunFiles
from cockpit.engine.redact import Redactor
from cockpit.session.events import Event
from cockpit.session.follow import EventFollower
from cockpit.session.lock import read_lock_info
from cockpit.session.reader import open_session
from cockpit.session.state import SessionState, apply, fold
from cockpit.session.store import EVENTS


class MirrorSource:
    def __init__(self, folder: Path) -> None:
        view = open_session(folder)  # reads only; takes no lock; creates nothing
        self.folder = folder
        self.runbook = view.runbook
        self.follower = EventFollower(folder / EVENTS)
        self.state: SessionState = fold(self.follower.poll())
        self.workdir = Path(self.state.workdir)
        self.listeners: list[Callable[[Event], None]] = []
        self.redactor = Redactor()  # events reach a mirror already redacted

    def poll(self) -> bool:
        """Take in what the operator appended; True if anything was."""
        events = self.follower.poll()
        for event in events:
            self.state = apply(self.state, event)
            for listener in self.listeners:
                listener(event)
        return bool(events)

    def running(self) -> tuple[str, RunFiles] | None:
        step_id = self.state.running_step()
        if step_id is None:
            return None
        run = self.state.steps[step_id].run or ""
        return step_id, RunFiles(self.folder / "steps", run)

    def operator_present(self) -> bool | None:
        """Whether the operator's cockpit is alive (None: nobody holds the session)."""
        info: dict[str, Any] | None = read_lock_info(self.folder)
        if not info or "pid" not in info:
            return None
        try:
            return psutil.pid_exists(int(info["pid"]))
        except (TypeError, ValueError):
            return None

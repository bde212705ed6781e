"""The one follower of a session's step logs, used by the operator's screen, the mirror's
screen, the headless runner and the plain mirror: it follows the log of one run at a time,
gives the complete lines appended since the last call, and once the run is over (its exit
record written, or the state says it ended) everything left, the unterminated last line
included — so a step's last line is always shown before its end is. A pane asks for the
last so many lines; a printer (headless, the plain mirror) for every line, a batch of at
most BATCH_BYTES at a time: what following costs is bounded by the pane, or the batch,
never by the output."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.session.layout import session_file
from cockpit.session.logtail import LogTail
from cockpit.session.progress import UpgradeProgress
from cockpit.session.runfiles import RunFiles
from cockpit.session.state import SessionState

BATCH_BYTES = 1 << 20  # a printer's batch: a megabyte of lines, however short they are
EVERY = 1 << 30  # every line of a batch


class StepLogFollower:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tail: LogTail | None = None
        self._done: LogTail | None = None  # the last run followed, once it is over
        self.step: str | None = None
        self.run: str | None = None
        # an upgrade's revisions counted off as its lines pass (None: no upgrade followed)
        self.progress: UpgradeProgress | None = None
        self._told = 0

    @property
    def path(self) -> Path | None:
        """The log followed, or the last one followed."""
        tail = self.tail or self._done
        return None if tail is None else tail.path

    @property
    def lines(self) -> int:
        """Lines of that log taken in so far."""
        tail = self.tail or self._done
        return 0 if tail is None else tail.lines

    @property
    def damage(self) -> str | None:
        """What went wrong with the followed log under us (it shrank)."""
        return None if self.tail is None else self.tail.damage

    def start(self, step: str, run: str, log: str, *, from_end: bool = False,
              path: list[str] | None = None) -> None:
        """Follow this run's log (`log` as the session names it), from its start or, for a
        follower that joins late and has shown the past already, from its current end.
        `path`: an upgrade's expected revisions, to count off (from its start only)."""
        self.tail = LogTail(session_file(self.folder, log))
        self.step, self.run = step, run
        self.progress = UpgradeProgress(list(path)) if path is not None and not from_end \
            else None
        self._told = 0  # revisions of it already told by `news`
        if from_end:
            self.tail.last(0)

    def attach(self, state: SessionState) -> bool:
        """Follow the state's running step, if it is not the run followed already; True when
        a new run is followed (a pane showing the old one starts over)."""
        step_id = state.running_step()
        if step_id is None:
            return False
        step = state.steps[step_id]
        if step.run is None or step.run == self.run or not step.log:
            return False
        self.start(step_id, step.run, step.log, path=step.path)  # an upgrade: counted off
        return True

    def read(self, keep: int | None = None) -> list[str]:
        """The complete lines appended since the last call — `keep`: only the last so many,
        for a pane that shows a bounded tail anyway; without it, the next batch of them
        (`behind` says whether more is there already)."""
        if self.tail is None:
            return []
        if keep is None or self.progress is not None:  # every line counted, `keep` shown
            lines = self._counted(self.tail.read(EVERY, BATCH_BYTES))
            return lines if keep is None else lines[-keep:]
        return self.tail.read(keep)

    @property
    def behind(self) -> bool:
        """The last read left lines already written: read again before waiting."""
        return self.tail is not None and self.tail.behind

    def _counted(self, lines: list[str]) -> list[str]:
        if self.progress is not None:
            self.progress.feed(lines, time.monotonic())
        return lines

    def news(self) -> list[str]:
        """A line for each revision of the upgrade started since the last call, in order —
        however many one read took in (for a follower that prints: headless, the plain
        mirror)."""
        progress = self.progress
        if progress is None:
            return []
        now, told = time.monotonic(), self._told
        self._told = len(progress.seen)
        return [progress.text(now, upto=k) for k in range(told + 1, len(progress.seen) + 1)]

    def finish(self, keep: int | None = None) -> list[str]:
        """The run is over: what is left of its log, its unterminated last line included at
        the end; then the follower lets go of it (its path and counts stay readable until
        the next start). With `keep`, the last so many lines of all that is left, at once;
        without, the next batch of every line — call again while `following`."""
        tail = self.tail
        if tail is None:
            return []
        if keep is None:
            lines = self.read()
            if tail.behind:
                return lines
            lines += self._counted(tail.flush())
            self.let_go()
            return lines
        lines = []
        while True:  # an upgrade's lines are all counted; a pane keeps the last `keep`
            lines = (lines + self.read(keep))[-keep:]
            if not tail.behind:
                break
        lines = (lines + self._counted(tail.flush()))[-keep:]
        self.let_go()
        return lines

    def let_go(self) -> None:
        """Follow the run no further, reading nothing more of it."""
        self._done, self.tail, self.step = self.tail, None, None

    def ended(self, state: SessionState) -> bool:
        """Whether the followed run is over: its exit record is written (the log is complete
        before it is), or the state no longer has it running."""
        if self.tail is None or self.step is None:
            return False
        step = state.steps.get(self.step)
        if step is None or step.run != self.run or step.status != "running":
            return True
        return RunFiles(self.folder / "steps", self.run or "").record.exists()

    def pump(self, state: SessionState, keep: int | None = None) -> list[str]:
        """What to show now: the lines since the last call, and once the run has ended
        everything left (after which the follower is idle until the next `attach`)."""
        if self.tail is None:
            return []
        return self.finish(keep) if self.ended(state) else self.read(keep)

    @property
    def following(self) -> bool:
        return self.tail is not None

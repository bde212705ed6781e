"""What the mirror screen's follow worker does, off the screen's thread: wait on the session's
file notifications (or poll where there are none), read what the operator's session appended
— the running log's lines first, then the events — and hand it to the screen as typed
messages. The reading is the MirrorSource's and the StepLogFollower's; this only paces it."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable

from textual.message import Message

from cockpit.mirror.source import MirrorSource
from cockpit.session.notify import POLL_S
from cockpit.session.progress import UpgradeProgress
from cockpit.session.stepfollow import StepLogFollower
from cockpit.tui.messages import LogDamaged, LogLines, OperatorPresence, SessionChanged

# The log pane is fed at most once per FEED_GAP_S (a notification comes per write), so a
# busy log costs ten mirrors little; an event is taken in at once all the same. 20 Hz: at
# 0.15 s the gap alone made the screen line's p95 ~190 ms; the reading is off the screen's
# thread now, so a feed costs the screen only the lines' drawing (bench/mirror_latency.py).
FEED_GAP_S = 0.05
SAFETY_S = 1.0  # with notification: a look now and then all the same
PRESENCE_S = 1.0  # is the operator still there?
KEEP_LINES = 2_000  # per batch at most: the pane keeps a bounded tail anyway


class MirrorFollow:
    """Follows one session for one mirror screen; `run` is the worker's body, `stop` ends it
    from the screen's thread (it wakes a wait at once)."""

    def __init__(self, source: MirrorSource, follower: StepLogFollower,
                 post: Callable[[Message], object]) -> None:
        self.source = source
        self.follower = follower
        self.post = post
        # how long a wait lasts with nothing notified: a look that needs no notification
        self.idle_s = SAFETY_S if source.waiter.fd is not None else POLL_S
        self._stop_r, self._stop_w = os.pipe()
        self._stopped = False
        self._closing = threading.Lock()  # a stop never writes to a pipe already closed
        self._fed = 0.0  # when the log pane was last fed
        self._present = source.operator_present()
        self._looked_present = time.monotonic()
        self._progress: UpgradeProgress | None = None  # the upgrade counted off, and
        self._flagged = 0  # how many of its unexpected revisions were told

    def stop(self) -> None:
        with self._closing:
            if not self._stopped:
                self._stopped = True
                os.write(self._stop_w, b"x")

    def run(self) -> None:
        try:
            self.look()  # a run already going when the mirror opened
            while not self._stopped:
                self._wait(min(self.idle_s, PRESENCE_S))
                if self._stopped:
                    break
                if not self.source.has_new_events():  # only lines: they wait for the gap
                    self._wait(FEED_GAP_S - (time.monotonic() - self._fed), notified=False)
                self._look_at_presence(now=self.look())
        finally:
            with self._closing:
                self._stopped = True
                for fd in (self._stop_r, self._stop_w):
                    os.close(fd)
            self.source.waiter.close()

    def _wait(self, seconds: float, notified: bool = True) -> None:
        """Until a notification (when `notified`), a stop, or `seconds` have passed."""
        if seconds <= 0:
            return
        fds = [self._stop_r]
        if notified and self.source.waiter.fd is not None:
            fds.append(self.source.waiter.fd)
        ready, _, _ = select.select(fds, [], [], seconds)
        if ready:
            self.source.waiter.drain()

    def look(self) -> bool:
        """The running log's new lines, then the events: a step's last lines reach the pane
        before its end (and the next step) does. True if events were taken in."""
        self._fed = time.monotonic()
        self.source.waiter.drain()  # what notified so far is read now
        self._feed(self.follower.pump(self.source.state, KEEP_LINES))
        if self.follower.damage is not None:
            self.post(LogDamaged(self.follower.damage))
        changed = self.source.catch_up()  # its listeners post SessionChanged
        if changed and self.source.check_logs():  # a finished step's log, checked once
            self.post(SessionChanged())
        state = self.source.state
        if changed and self.follower.ended(state):  # ended and the next begun, in one look
            self._feed(self.follower.finish(KEEP_LINES))
        if self.follower.attach(state):  # a new run, or one running when the mirror opened
            path = self.follower.path
            # the new log's folder notifies too; what it wrote before the watch is read now
            if path is not None:
                self.source.waiter.watch(path.parent)
            self._feed(self.follower.read(KEEP_LINES), fresh=True)
        return changed

    def _feed(self, lines: list[str], fresh: bool = False) -> None:
        progress = self.follower.progress
        if progress is not self._progress:
            self._progress, self._flagged = progress, 0
        unexpected = progress.unexpected[self._flagged:] if progress is not None else []
        self._flagged += len(unexpected)
        if lines or fresh or unexpected:
            self.post(LogLines(lines, fresh=fresh, unexpected=unexpected,
                               expected=len(progress.path) if progress else 0))

    def _look_at_presence(self, now: bool = False) -> None:
        """`now`: events came, and the header they redraw says whether the operator is
        there: look now rather than at the next PRESENCE_S."""
        if not now and time.monotonic() - self._looked_present < PRESENCE_S:
            return
        self._looked_present = time.monotonic()
        present = self.source.operator_present()
        if present != self._present:
            self._present = present
            self.post(OperatorPresence(present))

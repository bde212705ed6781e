"""The reviewer's mirror: the session screen over a read-only MirrorSource, plus what only a
mirror shows — MIRROR — READ-ONLY on a band of its own colour, whether the operator is still
there, and what it found damaged. It has no verb because the session screen has none and
nothing here adds one (tests/mirror/test_readonly.py tries every way in)."""

from __future__ import annotations

import asyncio
import time

from textual import work
from textual.app import ComposeResult

from cockpit.mirror.presence import WATCHING, presence_text
from cockpit.mirror.source import MirrorSource
from cockpit.tui.messages import SessionChanged
from cockpit.tui.panes import DamageBanner, HaltBanner, SessionHeader
from cockpit.tui.session_screen import SessionScreen

MIRROR_MARK = "MIRROR — READ-ONLY"  # first on the header's first line, on its own colour
PRESENCE_S = 1.0
MIRROR_HELP = ["This is a read-only mirror of the operator's session: no key here changes it.",
               ""]
# The log pane is fed at most once per FEED_GAP_S (a notification comes per write), so a
# busy log costs ten mirrors little and a line is still on screen within FEED_GAP_S.
FEED_GAP_S = 0.15
POLL_S = 0.05  # without file notification: look this often (events at once, lines per gap)
SAFETY_S = 1.0  # with it: a look now and then all the same


class MirrorScreen(SessionScreen):
    QUIT_HELP = "quit the mirror (the operator's session goes on)"
    def __init__(self, source: MirrorSource, *, clock: bool = True) -> None:
        super().__init__(source, clock=clock)
        self.source = source
        self._fed = 0.0  # when the log pane was last fed
        self._due: asyncio.TimerHandle | None = None  # a look booked for the gap's end
        self.tick_s = SAFETY_S if source.waiter.fd is not None else POLL_S

    def banners(self) -> ComposeResult:
        yield DamageBanner(id="damage")
        yield HaltBanner(id="halt", keys=False)

    def on_mount(self) -> None:
        # SessionScreen.on_mount runs as well: Textual calls every class's handler
        if not self.clock:  # with a clock the header is redrawn each second anyway
            self.set_interval(PRESENCE_S, self.refresh_header)  # is the operator still there?
        fd = self.source.waiter.fd
        if fd is not None:  # file notification; the tick is the polling fallback
            asyncio.get_running_loop().add_reader(fd, self._notified)
        self._check_logs()

    def on_unmount(self) -> None:
        if self._due is not None:
            self._due.cancel()
        if self.source.waiter.fd is not None:
            asyncio.get_running_loop().remove_reader(self.source.waiter.fd)
        self.source.waiter.close()

    def tick(self) -> None:
        if time.monotonic() - self._fed < FEED_GAP_S and not self.source.has_new_events():
            return  # only log lines since the last feed: they wait for the gap's end
        # the running log is read before the events, so a step's last lines reach the pane
        # before its end (and the next step) does
        self._fed = time.monotonic()
        super().tick()

    def _notified(self) -> None:
        self.source.waiter.drain()
        self._look_soon()

    def _look_soon(self) -> None:
        """Look now, or at the end of the feed gap if the pane was fed within it; till then
        stop listening (a busy log notifies per write)."""
        if self._due is not None:
            return
        wait = FEED_GAP_S - (time.monotonic() - self._fed)
        if wait <= 0:
            self.tick()
            return
        loop = asyncio.get_running_loop()
        if self.source.waiter.fd is not None:
            loop.remove_reader(self.source.waiter.fd)
        self._due = loop.call_later(wait, self._look_when_due)

    def _look_when_due(self) -> None:
        self._due = None
        if self.source.waiter.fd is not None:
            self.source.waiter.drain()
            asyncio.get_running_loop().add_reader(self.source.waiter.fd, self._notified)
        self.tick()

    def refresh_header(self) -> None:
        if not self.is_attached or not self.query(SessionHeader):
            return  # a timer firing while the app shuts down
        super().refresh_header()

    def show_header(self) -> None:
        state = self.source.state
        mode = presence_text(self.source.operator_present(), state.ended)
        header = self.query_one(SessionHeader)
        header.show(self.source.runbook, state, mode, self.clock, banner=MIRROR_MARK,
                    progress=self.header_news(), overview=self.overview())
        header.set_class(mode != WATCHING, "-gone")

    def help_intro(self) -> list[str]:
        return MIRROR_HELP

    def take_in(self) -> None:
        if self.follower.damage is not None:
            self.source.running_log_damaged(self.follower.damage)
        if self.source.catch_up():  # reads what the operator appended; writes nothing
            self._check_logs()

    def after_refresh(self) -> None:
        # the running step's log: its writes notify too; what it wrote before the watch
        # is read now, not at the next write
        path = self.follower.path if self.follower.following else None
        if path is not None and self.source.waiter.watch(path.parent):
            self.call_later(self._look_soon)
        self.query_one(DamageBanner).show(self.source.damage, self.source.log_damage)

    def damaged_logs(self) -> dict[str, str]:
        return self.source.log_damage

    @work(thread=True, exclusive=True, group="integrity", exit_on_error=False)
    def _check_logs(self) -> None:
        if self.source.check_logs():
            self.post_message(SessionChanged())

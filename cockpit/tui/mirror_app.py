"""The reviewer's mirror: the operator's panes over a read-only MirrorSource. No binding,
palette command or form leads to a verb (the source has none to call); the header says
MIRROR — READ-ONLY on a band of its own colour; what is damaged is shown as damaged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen

from cockpit.mirror.presence import WATCHING, presence_text
from cockpit.mirror.source import MirrorSource
from cockpit.tui.app import VERBS, CockpitApp
from cockpit.tui.messages import SessionChanged
from cockpit.tui.panes import DamageBanner, HaltBanner, SessionHeader
from cockpit.tui.screens import TextScreen

MIRROR_MARK = "MIRROR — READ-ONLY"  # first on the header's first line, on its own colour
PRESENCE_S = 1.0
MIRROR_HELP = """This is a read-only mirror of the operator's session: no key here changes it.

  1-3     Gates / Phase / Evidence
  D       Diagnostics captured at a halt
  Enter   on a checklist item: its detail and what the session recorded
  ctrl+p  command palette (theme, keys, screenshot)
  q       quit the mirror (the operator's session goes on)"""
# The log pane is fed at most once per FEED_GAP_S (a notification comes per write), so a
# busy log costs ten mirrors little and a line is still on screen within FEED_GAP_S.
FEED_GAP_S = 0.15
POLL_S = 0.05  # without file notification: look this often (events at once, lines per gap)
SAFETY_S = 1.0  # with it: a look now and then all the same


class MirrorApp(CockpitApp):
    TITLE = "Cutover Cockpit — mirror (read-only)"
    MODE_CLASS = "-mirror"

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
        # CockpitApp.on_mount runs as well: Textual calls every class's handler
        if not self.clock:  # with a clock the header is redrawn each second anyway
            self.set_interval(PRESENCE_S, self._refresh_header)  # is the operator still there?
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

    def _tick(self) -> None:
        if time.monotonic() - self._fed < FEED_GAP_S and not self.source.has_new_events():
            return  # only log lines since the last feed: they wait for the gap's end
        # the running log is read before the events, so a step's last lines reach the pane
        # before its end (and the next step) does
        self._fed = time.monotonic()
        super()._tick()

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
            self._tick()
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
        self._tick()

    def _refresh_header(self) -> None:
        if not self.screen_stack or not self.query(SessionHeader):
            return  # a timer firing while the app shuts down
        mode = presence_text(self.source.operator_present(), self.state.ended)
        self.query_one(SessionHeader).show(self.ctl.runbook, self.state, mode, self.clock,
                                           banner=MIRROR_MARK)
        self.query_one(SessionHeader).set_class(mode != WATCHING, "-gone")

    def action_help(self) -> None:
        self.push_screen(TextScreen("Mirror keys", MIRROR_HELP))

    def poll_session(self) -> None:
        if self._tail is not None and self._tail.damage is not None:
            self.source.running_log_damaged(self._tail.damage)
        if self.source.poll():  # reads what the operator appended; writes nothing
            self._check_logs()

    def after_refresh(self) -> None:
        # the running step's log: its writes notify too; what it wrote before the watch
        # is read now, not at the next write
        if self._tail is not None and self.source.waiter.watch(self._tail.path.parent):
            self.call_later(self._look_soon)
        self.query_one(DamageBanner).show(self.source.damage, self.source.log_damage)

    def damaged_logs(self) -> dict[str, str]:
        return self.source.log_damage

    @work(thread=True, exclusive=True, group="integrity", exit_on_error=False)
    def _check_logs(self) -> None:
        if self.source.check_logs():
            self.post_message(SessionChanged())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in VERBS:
            return False  # a mirror has no verb, by any path
        return super().check_action(action, parameters)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own (theme, keys, screenshot, quit): no verb is offered here
        yield from super(CockpitApp, self).get_system_commands(screen)

    def _verb(self, *_args: Any, **_kwargs: Any) -> None:
        return  # unreachable by design: no verb's action is allowed in a mirror

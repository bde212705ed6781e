"""The reviewer's mirror: the session screen over a read-only MirrorSource, plus what only a
mirror shows — MIRROR — READ-ONLY on a band of its own colour, whether the operator is still
there, and what it found damaged. It has no verb because the session screen has none and
nothing here adds one (tests/mirror/test_readonly.py tries every way in).

It follows the session through one worker thread (mirror_follow.py) that reads what the
operator appended and posts it here as typed messages; this screen only shows them."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.reactive import reactive

from cockpit.mirror.presence import WATCHING, presence_text
from cockpit.mirror.source import MirrorSource
from cockpit.session.state import SessionState
from cockpit.tui.messages import LogDamaged, LogLines, OperatorPresence, SessionChanged
from cockpit.tui.mirror_follow import MirrorFollow
from cockpit.tui.output_log import OutputLog
from cockpit.tui.panes import DamageBanner, HaltBanner, SessionHeader
from cockpit.tui.session_screen import SessionScreen

MIRROR_MARK = "MIRROR — READ-ONLY"  # first on the header's first line, on its own colour
FOLLOW_GROUP = "follow"  # its worker runs until the mirror closes: never waited on to complete
MIRROR_HELP = ["This is a read-only mirror of the operator's session: no key here changes it.",
               ""]


class MirrorScreen(SessionScreen):
    QUIT_HELP = "quit the mirror (the operator's session goes on)"

    present: reactive[bool | None] = reactive(None, init=False)
    """Whether the operator's cockpit is alive (None: nobody holds the session)."""

    def __init__(self, source: MirrorSource, *, clock: bool = True) -> None:
        super().__init__(source, clock=clock)
        self.source = source
        self.set_reactive(MirrorScreen.present, source.operator_present())
        self.reader = MirrorFollow(source, self.follower, self.post_message)

    def banners(self) -> ComposeResult:
        yield DamageBanner(id="damage")
        yield HaltBanner(id="halt", keys=False)

    def on_mount(self) -> None:
        # SessionScreen.on_mount runs as well: Textual calls every class's handler
        self._check_logs()

    def on_unmount(self) -> None:
        self.reader.stop()

    def follow(self) -> None:
        self._follow()

    @work(thread=True, exclusive=True, group=FOLLOW_GROUP)
    def _follow(self) -> None:
        # a failure ends the app, as one on the screen's thread would: a mirror that stopped
        # following in silence would show a session that no longer moves
        self.reader.run()

    def attach_log(self, state: SessionState) -> None:
        """The follow worker attaches to a new run itself (LogLines.fresh)."""

    @on(LogLines)
    def show_lines(self, message: LogLines) -> None:
        if message.fresh:
            self.query_one("#output", OutputLog).clear()
        self.show_output(message.lines, message.unexpected, message.expected)

    @on(LogDamaged)
    def log_damaged(self, message: LogDamaged) -> None:
        self.source.running_log_damaged(message.problem)

    @on(OperatorPresence)
    def operator_presence(self, message: OperatorPresence) -> None:
        self.present = message.present

    def watch_present(self) -> None:
        self.refresh_header()

    def refresh_header(self) -> None:
        if not self.is_attached or not self.query(SessionHeader):
            return  # a timer firing while the app shuts down
        super().refresh_header()

    def show_header(self) -> None:
        state = self.source.state
        mode = presence_text(self.present, state.ended)
        header = self.query_one(SessionHeader)
        header.show(self.source.runbook, state, mode, self.clock, banner=MIRROR_MARK,
                    progress=self.header_news(), overview=self.overview())
        header.set_class(mode != WATCHING, "-gone")

    def help_intro(self) -> list[str]:
        return MIRROR_HELP

    def after_refresh(self) -> None:
        self.query_one(DamageBanner).show(self.source.damage, self.source.log_damage)

    def damaged_logs(self) -> dict[str, str]:
        return self.source.log_damage

    @work(thread=True, exclusive=True, group="integrity", exit_on_error=False)
    def _check_logs(self) -> None:
        if self.source.check_logs():
            self.post_message(SessionChanged())

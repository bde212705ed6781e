"""The reviewer's mirror as an application: a MirrorScreen over a read-only MirrorSource.
The command palette offers Textual's own commands (theme, keys, screenshot) and no verb:
there is none on the screen to offer."""

from __future__ import annotations

from textual.screen import Screen

from cockpit.mirror.source import MirrorSource
from cockpit.tui.mirror_screen import MirrorScreen
from cockpit.tui.session_app import SessionApp


class MirrorApp(SessionApp):
    TITLE = "Cutover Cockpit — mirror (read-only)"
    MODE_CLASS = "-mirror"

    def __init__(self, source: MirrorSource, *, clock: bool = True) -> None:
        super().__init__(source)
        self.source = source
        self.mirror = MirrorScreen(source, clock=clock)

    def get_default_screen(self) -> Screen[None]:
        return self.mirror

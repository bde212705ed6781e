"""What both of the cockpit's applications are: an app holding one session screen (the
operator's or the mirror's), the stylesheet, and the way out. Everything shown and every
verb lives in the screens."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import ClassVar

from textual.app import App

from cockpit.resources import styles_dir
from cockpit.session.view import SessionView


class SessionApp(App[None]):
    CSS_PATH: ClassVar = [styles_dir() / "cockpit.tcss"]
    TITLE = "Cutover Cockpit"
    MODE_CLASS = ""  # on the app, for the stylesheet

    def __init__(self, view: SessionView, *, on_quit: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.view = view
        self.on_quit = on_quit

    def on_mount(self) -> None:
        self.add_class(self.MODE_CLASS)

    def action_quit_cockpit(self) -> None:
        if self.on_quit is not None:
            self.on_quit()
        self.exit()

    def _fatal_error(self) -> None:
        """Textual's crash screen prints local variables, DSNs among them: print the error's
        kind and its redacted message instead."""
        error = sys.exc_info()[1]
        text = self.view.redactor.describe(error) if error is not None else "unknown error"
        self._exit_renderables.append(f"cockpit: internal error: {text}")
        self._close_messages_no_wait()

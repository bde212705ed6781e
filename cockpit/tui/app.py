"""The operator's cockpit: the OperatorScreen over a controller. The command palette offers
the verbs the rules allow now, beside Textual's own commands."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import SystemCommand
from textual.screen import Screen

from cockpit.engine.controller import Controller
from cockpit.tui.operator_screen import OperatorScreen
from cockpit.tui.session_app import SessionApp


class CockpitApp(SessionApp):
    MODE_CLASS = "-operator"

    def __init__(self, controller: Controller, *, clock: bool = True,
                 on_quit: Callable[[], None] | None = None) -> None:
        super().__init__(controller, on_quit=on_quit)
        self.ctl = controller
        self.operator = OperatorScreen(controller, clock=clock)

    def get_default_screen(self) -> Screen[None]:
        return self.operator

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from self.operator.verb_commands()

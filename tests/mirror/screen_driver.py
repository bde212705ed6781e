"""Drives the mirror's screen as a reviewer would, trying every way in: every key binding,
every command-palette entry, every verb's action by name. Used in-process, and run as a
script (`python -m tests.mirror.screen_driver SESSION`) where the test needs another user's
permissions; it then prints what it saw as one JSON object."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from cockpit.mirror.source import MirrorSource
from cockpit.tui.mirror_app import MirrorApp
from cockpit.tui.operator_screen import VERBS
from tests.waiting import app_idle, let_app_time_pass, pause_until


async def close_dialogs(app: MirrorApp, pilot: Any) -> None:
    while app.screen is not app.screen_stack[0]:
        await pilot.press("escape")


async def try_every_way_in(app: MirrorApp, pilot: Any) -> list[str]:
    """Every binding (the mirror's and every key an operator has), palette entry and verb
    action; returns the palette titles tried."""
    keys = [b.key for b in (*app.BINDINGS, *app.mirror.BINDINGS) if "quit" not in b.action]
    for key in [*keys, *(key for key, _label in VERBS.values())]:
        await pilot.press(key)
        await close_dialogs(app, pilot)
    tried = []
    for command in list(app.get_system_commands(app.screen)):
        if command.title.lower() == "quit":
            continue
        tried.append(command.title)
        result = command.callback()
        if asyncio.iscoroutine(result):
            await result
        # some deliver on a timer (Screenshot: 0.1 s), and one that does nothing leaves
        # nothing to wait on: time for a dialog to open, if one will
        await let_app_time_pass(pilot, 0.2)
        await close_dialogs(app, pilot)
    for verb in VERBS:
        # no verb exists here to be disabled: not on the screen, not on the app
        assert not hasattr(app.mirror, f"action_{verb}"), verb
        assert not hasattr(app, f"action_{verb}"), verb
        await app.run_action(verb)
        await app.mirror.run_action(verb)
        await close_dialogs(app, pilot)
    await app_idle(pilot)
    return tried


def header_text(app: MirrorApp) -> str:
    return str(app.query_one("#header").render())


async def drive(session: Path, wait_end_s: float = 60) -> dict[str, Any]:
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        with contextlib.suppress(AssertionError):  # a session that never ends is seen as it is
            await pause_until(pilot, lambda: source.state.ended, "the session's end", wait_end_s)
        await app_idle(pilot)  # what the last look took in, drawn
        palette = await try_every_way_in(app, pilot)
        return {"header": header_text(app), "ended": source.state.ended,
                "seq": source.state.seq, "palette": palette,
                "output": list(app.query_one("#output").lines),
                "damage": source.damage, "log_damage": source.log_damage,
                "crashed": app.return_code not in (None, 0)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(drive(Path(sys.argv[1])))))

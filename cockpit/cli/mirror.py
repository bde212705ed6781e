"""`cockpit mirror`: watch a session read-only — as lines, on a screen, or in browsers."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def mirror(*, folder: str | Path, plain: bool = False, from_start: bool = False,
           wait: float = 0.0, web: bool = False, host: str = "127.0.0.1", port: int = 8000,
           cert: Path | None = None, key: Path | None = None, max_viewers: int = 4) -> int:
    """Follow the session in `folder` as it happens; it writes nothing there."""
    from cockpit.mirror.priority import yield_to_operator

    yield_to_operator()  # the web server and every mirror it starts inherit this
    session = Path(folder)
    from cockpit.fleet.folder import ledger_folder
    from cockpit.session.layout import EVENTS

    if (ledger_folder(session) / EVENTS).is_file():  # a fleet: its board, or its ledger
        return _fleet(session, plain, web)
    if plain:
        return _plain(session, from_start, wait)
    if web:
        from cockpit.mirror.web import serve
        from cockpit.session.reader import session_events, session_runbook

        session_events(session)  # a clear error before serving: not a session folder,
        session_runbook(session)  # or one without its runbook copy
        return serve(session, host, port, cert=cert, key=key, max_viewers=max_viewers)
    from cockpit.mirror.source import MirrorSource
    from cockpit.tui.mirror_app import MirrorApp

    MirrorApp(MirrorSource(session)).run()
    return 0


def _plain(session: Path, from_start: bool, wait: float) -> int:
    from cockpit.mirror.plain import follow_plain

    try:
        return follow_plain(session, lambda line: print(line, flush=True),
                            from_start=from_start, wait_s=wait)
    except BrokenPipeError:  # `| head`, a pager quit early: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _fleet(folder: Path, plain: bool, web: bool) -> int:
    from cockpit.errors import CockpitError

    if web:
        raise CockpitError(f"{folder}: a fleet; its mirror is on a screen or --plain (each "
                           "target's session has its own --web mirror)")
    if plain:
        from cockpit.mirror.fleet_plain import follow_fleet

        return follow_fleet(folder, lambda line: print(line, flush=True))
    from cockpit.tui.fleet_app import FleetApp

    FleetApp(folder).run()
    return 0

"""`cockpit demo`: build a rehearsal world and run the reference cutover on it; list the
faults and the running worlds, stop one. The one module of the command line that imports
the rehearsal world (an import-linter contract keeps it so)."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.cli import driving
from cockpit.errors import CockpitError


def demo(*, headless: bool = False, fault: str | None = None, list_faults: bool = False,
         workspace: str | Path | None = None, session: str | Path | None = None,
         answers: Path | None = None, operator: str | None = None,
         rehearsal: str | Path | None = None, sign_key: str | Path | None = None,
         idle_stop: float | None = None, worlds: bool = False, stop: str | Path | None = None,
         force: bool = False, notify: str | Path | None = None) -> int:
    """Build the rehearsal world and drive the demo cutover on it (the screen, or
    `headless`); or list faults / worlds, or `stop` one world, and return."""
    if os.name == "nt" and not list_faults:
        raise CockpitError(
            "cockpit demo: the rehearsal world needs a Unix socket, peer authentication and "
            "an account of its own for its server, so it runs on Linux and macOS only; on "
            "Windows, rehearse your own runbook on your own PostgreSQL with cockpit run "
            "RUNBOOK (docs/windows.md)")
    from cockpit.demo.session import list_faults as faults
    from cockpit.demo.session import run_demo
    from cockpit.engine import hangup

    if list_faults:
        return faults()
    if worlds or stop:
        from cockpit.demo.worlds import list_worlds, stop_world

        return list_worlds(print) if worlds else stop_world(Path(stop or ""), force, print)
    if session:
        from cockpit.session.place import check_new_session_folder

        check_new_session_folder(Path(session))  # before a world is built
    from cockpit.demo.watchdog import idle_setting

    idle_setting(idle_stop)  # a bad idle time refused before anything is made
    hangup.install()
    return run_demo(fault, Path(session) if session else None,
                    Path(workspace) if workspace else None, answers, operator,
                    headless=headless, rehearsal=driving.rehearsal_folder(rehearsal),
                    signer=driving.signer(sign_key, operator), idle_stop=idle_stop,
                    notify=Path(notify) if notify else None)

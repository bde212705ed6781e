"""`cockpit demo`: build a rehearsal world, open a session on the demo runbook over it, and
drive it; and the world's part in resuming a demo session."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cockpit.demo.faults import describe
from cockpit.demo.world import World
from cockpit.engine.controller import Controller, utc_stamp
from cockpit.engine.headless import Headless, load_answers
from cockpit.resources import bundled_runbook


def world_of(workdir: Path) -> Path | None:
    """The rehearsal world a session's working directory belongs to, if any."""
    workspace = workdir.parent
    return workspace if (workspace / "world.json").exists() else None


def list_faults() -> int:
    print("\n".join(describe()))
    return 0


def open_demo(fault: str | None, session: Path | None = None, workspace: Path | None = None,
              operator: str | None = None) -> tuple[World, Controller]:
    """A new rehearsal world and a session on the demo runbook over it."""
    name = f"{utc_stamp()}-demo{f'-{fault}' if fault else ''}-{secrets.token_hex(2)}"
    session = (session or Path("sessions") / name).resolve()
    workspace = (workspace or session.with_name(f"{session.name}-world")).resolve()
    print(f"building the rehearsal world in {workspace} ...", file=sys.stderr, flush=True)
    world = World.build(workspace, fault)
    try:
        ctl = Controller.start(bundled_runbook("demo-cutover.toml"), folder=session,
                               operator=operator, workdir=world.backend, env=world.env(),
                               secrets=[world.password])
    except BaseException:
        world.stop()
        raise
    return world, ctl


def close_demo(world: World, ctl: Controller) -> None:
    ctl.close()
    if ctl.running() is None:
        world.stop()  # no cockpit uses it any more; a step still running keeps it up


def run_demo(fault: str | None, session: Path | None, workspace: Path | None,
             answers: Path | None, operator: str | None, headless: bool = True) -> int:
    world, ctl = open_demo(fault, session, workspace, operator)
    try:
        if not headless:
            from cockpit.tui.app import CockpitApp

            run_screen(CockpitApp(ctl))
            return exit_code(ctl)
        print(f"session: {ctl.folder}", flush=True)
        plan = load_answers(answers or bundled_runbook("demo-answers.toml"))
        return Headless(ctl, plan, False, print).drive()
    finally:
        close_demo(world, ctl)


def run_screen(app: object) -> None:
    """Run a cockpit screen; a closed terminal (SIGHUP) ends it like `q`, so the session and
    the world are closed properly — a running step goes on under its supervisor."""
    import signal

    previous = signal.signal(signal.SIGHUP, lambda *_: app.exit())  # type: ignore[attr-defined]
    try:
        app.run()  # type: ignore[attr-defined]
    finally:
        signal.signal(signal.SIGHUP, previous)


def exit_code(ctl: Controller) -> int:
    """DESIGN's exit code for where the session stands."""
    status = (ctl.state.decision or {}).get("status")
    if status == "PASS":
        return 0
    return 2 if status or ctl.state.halt is not None else 0

"""`cockpit demo`: build a rehearsal world, open a session on the demo runbook over it, and
drive it; and the world's part in resuming a demo session."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.demo.faults import describe, fault_runbook
from cockpit.demo.world import World
from cockpit.engine import hangup
from cockpit.engine.controller import Controller, exit_code, utc_stamp
from cockpit.engine.headless import (
    OUTCOMES,
    Headless,
    decision_answers,
    load_answers,
    plan,
)
from cockpit.engine.launcher import find_supervisor
from cockpit.engine.notify.destinations import destinations
from cockpit.engine.notify.notifier import DRAIN_S
from cockpit.errors import CockpitError
from cockpit.evidence.signing import SigningKey
from cockpit.resources import bundled_runbook
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.notify import load_notify_tables
from cockpit.session.lock import release_if_mine
from cockpit.session.reader import session_at
from cockpit.session.runfiles import running_files


def list_faults() -> int:
    print("\n".join(describe()))
    return 0


def open_demo(fault: str | None, session: Path | None = None, workspace: Path | None = None,
              operator: str | None = None, rehearsal: Path | None = None,
              signer: SigningKey | None = None, idle_stop: float | None = None,
              notify: Path | None = None) -> tuple[World, Controller]:
    """A new rehearsal world and a session on the demo runbook over it (`rehearsal`: an
    earlier demo session that proves this one). Should the process be ended the hard way
    by a hang-up from here on, the world is stopped and the session's lock released."""
    name = f"{utc_stamp()}-demo{f'-{fault}' if fault else ''}-{secrets.token_hex(2)}"
    session = (session or Path("sessions") / name).resolve()
    workspace = (workspace or session.with_name(f"{session.name}-world")).resolve()
    if session.exists() and any(session.iterdir()):  # refused before a world is built
        raise CockpitError(f"{session}: already exists and is not empty; name a new folder")
    if notify is not None:  # a mistake in the file, or a URL not set: refused before a world
        tables = load_notify_tables(notify)
        destinations([t.model_copy(update={"ca_file": None}) for t in tables], os.environ,
                     workspace)
    print(f"building the rehearsal world in {workspace} ...", file=sys.stderr, flush=True)
    world: World | None = None
    try:
        with hangup.interruptible():
            world = World.build(workspace, fault, idle_stop)
        hangup.add_cleanup(lambda: release_if_mine(session))
        hangup.add_cleanup(lambda: stop_unless_step_runs(world, session))
        runbook = fault_runbook(fault, bundled_runbook("demo-cutover.toml"), workspace)
        if notify is not None:
            runbook = with_notify(runbook, notify, workspace)
        ctl = Controller.start(runbook, folder=session,
                               operator=operator, workdir=world.backend, override_workdir=True,
                               env=world.env(),
                               secrets=[world.password], rehearsal=rehearsal, signer=signer)
        world.attach(ctl.folder)
        # the form opens with the rehearsal's sign-off, as the headless demo answers it
        answers = load_answers(bundled_runbook("demo-answers.toml"))
        ctl.decision_prefill = {status: decision_answers(ctl.runbook, answers, status)
                                for status in OUTCOMES}
    except BaseException:
        if world is not None:
            world.stop()
        raise
    return world, ctl


def step_runs(session: Path) -> bool:
    """Whether a step of the session runs (it needs the world's database)."""
    try:
        return session_at(session).state.running_step() is not None
    except Exception:  # no session yet, or one the hang-up cut short: nothing runs
        return False


def stop_unless_step_runs(world: World | None, session: Path) -> None:
    """The world stopped, unless a step of the session runs (it needs its database)."""
    if world is not None and not step_runs(session):
        world.stop()


def leave_or_stop(world: World, session: Path, user: int | None = None) -> None:
    """The cockpit `user` is done with the world: stopped, unless a step of the session
    still runs — then left up, and the watchdog stops it once nothing uses it."""
    if step_runs(session):
        world.leave(user)
    else:
        world.stop()


def with_notify(runbook: Path, notify: Path, workspace: Path) -> Path:
    """A copy of the demo runbook in the world with the `[[notify]]` tables of `notify`
    added — approved as written there, as a fault's copy is."""
    try:
        added = notify.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CockpitError(f"{notify}: cannot be read ({exc}); give a TOML file of "
                           "[[notify]] tables") from None
    path = workspace / f"{runbook.stem}-notify.toml"
    path.write_text(runbook.read_text(encoding="utf-8") + "\n" + added, encoding="utf-8")
    load_runbook(path)  # a mistake in the tables is named now, by line, in the copy
    return path


def close_demo(world: World, ctl: Controller, notify_wait: float = 2.0) -> None:
    ctl.close(notify_wait)
    if ctl.running() is None:
        world.stop()  # no cockpit uses it any more
    else:
        world.leave()  # a step still running keeps it up, and its watchdog watches that


def run_demo(fault: str | None, session: Path | None, workspace: Path | None,
             answers: Path | None, operator: str | None, headless: bool = True,
             rehearsal: Path | None = None, signer: SigningKey | None = None,
             idle_stop: float | None = None, notify: Path | None = None) -> int:
    plan_ = plan(load_runbook(bundled_runbook("demo-cutover.toml")),
                 answers or bundled_runbook("demo-answers.toml"), False) if headless else None
    world, ctl = open_demo(fault, session, workspace, operator, rehearsal, signer, idle_stop,
                           notify)
    driver: Headless | None = None
    try:
        hangup.check()  # one that came while the session was being started
        if not headless:
            from cockpit.tui.app import CockpitApp

            hangup.run_screen(CockpitApp(ctl))
            return exit_code(ctl.state)
        print(f"session: {ctl.folder}", flush=True)
        assert plan_ is not None
        driver = Headless(ctl, plan_, False, print,
                          answers or bundled_runbook("demo-answers.toml"))
        return driver.drive()
    finally:
        close_demo(world, ctl, DRAIN_S if headless else 2.0)
        if driver is not None:
            driver.say_later()  # the deliveries recorded while it closed
        if (line := ctl.notices_line()) is not None:
            print(line, file=sys.stdout if headless else sys.stderr, flush=True)


def open_world_for_resume(folder: Path, workspace: Path, out: Callable[[str], None],
                          user: int | None = None) -> World:
    """The session's rehearsal world, its database up and a fresh password set — but only
    once no step of the session is running: a step connects with the password it was given,
    and a new one under it would fail it. So a running step is waited for, and said so.
    `user`: the cockpit that uses it (default: this process)."""
    # The caller holds the session's lock: no event can be appended meanwhile, so the step
    # that runs now is known once; its supervisor's end (or death) is what is waited for.
    current = running_files(folder, session_at(folder).state)
    if current is not None and current[1].exit_record() is None \
            and (supervisor := find_supervisor(current[1])) is not None:
        out(f"waiting for step {current[0]} to end before the rehearsal world's password is "
            "reset (the step uses the current one) ...")
        with hangup.interruptible():
            while supervisor.is_running() and current[1].exit_record() is None:
                time.sleep(0.2)
    world = World.load(workspace, runnable=True)
    try:
        with hangup.interruptible():
            world.ensure_running(user)  # brings its database back up if the cockpit died
    except BaseException:  # refused, or cut short by a hang-up: none of it left running
        stop_unless_step_runs(world, folder)
        raise
    world.attach(folder)
    return world

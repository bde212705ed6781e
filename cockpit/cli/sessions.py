"""The session commands: `run` starts one, `resume` reopens one where it stood, `status`
says where it stands. Nothing here imports the rehearsal world: a session over one reaches
it through the world's own process (worldlink.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cockpit.cli import driving
from cockpit.cli.console import out

if TYPE_CHECKING:
    from cockpit.engine.controller import Controller
    from cockpit.session.lock import SessionLock
    from cockpit.session.state import SessionState

T = TypeVar("T")


def run(*, runbook: str | Path, session: str | Path | None = None,
        workdir: str | Path | None = None, override_workdir: bool = False,
        rehearsal: str | Path | None = None, environment: str | None = None,
        headless: bool = False, answers: Path | None = None, assume_yes: bool = False,
        operator: str | None = None, sign_key: str | Path | None = None) -> int:
    """Start a new session on `runbook`, on the screen or `headless`."""
    from cockpit.engine import hangup
    from cockpit.engine.controller import Controller
    from cockpit.engine.opening import checked_link, resolve_workdir
    from cockpit.engine.setup import refuse_foreign_paths, workdir_override
    from cockpit.runbook.environment import choose_environment, for_environment
    from cockpit.runbook.loader import load_runbook
    from cockpit.session.place import check_new_session_folder

    hangup.install()
    path = Path(runbook)
    # Before the password is asked or a folder made: what would be refused is refused now.
    if session:
        check_new_session_folder(Path(session))
    loaded = load_runbook(path)
    chosen = choose_environment(loaded, environment, str(path))
    applied = for_environment(loaded, chosen)
    work = Path(workdir) if workdir else None
    refuse_foreign_paths(applied, path, workdir_given=work is not None)
    workdir_override(applied, path, work, override_workdir)
    linked = driving.rehearsal_folder(rehearsal)
    if linked is not None:  # a PASS of this runbook at this commit, or refused (exit 3)
        checked_link(loaded, resolve_workdir(applied, path, work), linked)
    key = driving.signer(sign_key, operator)
    plan = driving.plan(path, headless, answers, assume_yes)
    env, secrets = driving.environment(path, chosen)
    ctl = Controller.start(path, folder=Path(session) if session else None,
                           operator=operator, env=env, secrets=secrets,
                           workdir=work, override_workdir=override_workdir,
                           rehearsal=linked, signer=key, environment=chosen)
    return driving.drive(ctl, headless, plan, assume_yes, answers)


def resume(*, folder: str | Path, take_over: bool = False, rehearsal: str | Path | None = None,
           no_sign: bool = False, headless: bool = False, answers: Path | None = None,
           assume_yes: bool = False, operator: str | None = None,
           sign_key: str | Path | None = None) -> int:
    """Reopen the session in `folder` where it stood, on the screen or `headless`."""
    from cockpit.cli.worldlink import WorldLink, world_of
    from cockpit.engine import hangup
    from cockpit.engine.controller import Controller
    from cockpit.engine.opening import check_resumable, check_signer, relinked, same_rehearsal
    from cockpit.session.layout import RUNBOOK_COPY
    from cockpit.session.lock import SessionLock, release_if_mine

    hangup.install()
    where = Path(folder)
    state, approved = check_resumable(where)  # read-only: a refusal here touches nothing
    # another rehearsal while no phase step has run: linked anew (checked as at start)
    link = relinked(state, approved, Path(rehearsal)) if rehearsal else None
    moved = same_rehearsal(state, Path(rehearsal)) if rehearsal and link is None else None
    key = driving.signer(sign_key, operator)
    check_signer(where, state, approved, key, no_sign)
    workspace = world_of(Path(state.workdir))
    if workspace is not None and headless and not answers:
        from cockpit.resources import bundled_runbook

        answers = bundled_runbook("demo-answers.toml")
    plan = driving.plan(where / RUNBOOK_COPY, headless, answers, assume_yes, state)
    # The lock first: until it is ours, nothing the session uses may change (the rehearsal
    # world's password above all, which a live cockpit's next step needs).
    lock = SessionLock.acquire(where, take_over=take_over)
    hangup.add_cleanup(lambda: release_if_mine(where))
    reopen = partial(Controller.resume, where, operator=operator, lock=lock,
                     rehearsal_moved=moved, signer=key, allow_unsigned=no_sign,
                     rehearsal_linked=link)
    if workspace is None:
        env, secrets = _or_release(lock, lambda: (
            fleet_target_environment(state) if state.fleet is not None
            else driving.environment(where / RUNBOOK_COPY, state.environment)))
        return driving.drive(reopen(env=env, secrets=secrets), headless, plan, assume_yes,
                             answers)
    opened = workspace  # named for the lambda: a narrowed Optional does not reach into one
    world = _or_release(lock, lambda: WorldLink.open(opened, where, print))
    hangup.add_cleanup(world.close)
    try:
        ctl = _or_release(lock, lambda: _checked(reopen)(env=world.env, secrets=[world.secret]))
        return driving.drive(ctl, headless, plan, assume_yes, answers)
    finally:
        world.close()  # stopped, unless a step still runs (its watchdog stops it later)


def _or_release(lock: SessionLock, make: Callable[[], T]) -> T:
    """What `make` makes; the session's lock released should it fail (or a hang-up come)."""
    try:
        return make()
    except BaseException:
        lock.release()
        raise


def _checked(reopen: Callable[..., Controller]) -> Callable[..., Controller]:
    """`reopen`, after a hang-up that came while the world was being opened is raised."""
    from cockpit.engine import hangup

    hangup.check()
    return reopen


def status(*, folder: str | Path, as_json: bool = False) -> int:
    """Print where the session in `folder` stands (lines, or JSON)."""
    from cockpit.evidence.status import status_json, status_lines
    from cockpit.session.reader import session_at

    view = session_at(Path(folder))
    if as_json:
        out(status_json(view) + "\n")
    else:
        print("\n".join(status_lines(view)))
    return 0


def fleet_target_environment(state: SessionState) -> tuple[dict[str, str], list[str]]:
    """A fleet target's environment, its DSN derived as its fleet derives it (the runbook's
    variable with the target's host and database): a plain `resume` of one of a fleet's
    sessions reaches its own database, never the base one."""
    import os

    from cockpit.errors import CockpitError
    from cockpit.fleet.target import target_run

    assert state.fleet is not None
    fleet = Path(state.fleet.folder)
    try:
        one = target_run(fleet, state.fleet.target, os.environ, resumed=True)
    except CockpitError as exc:
        raise CockpitError(f"this session is target {state.fleet.target} of the fleet {fleet}, "
                           f"whose values it needs: {exc.message}") from None
    return one.env, []

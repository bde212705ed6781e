"""The fleet commands: `fleet run` starts one (a runbook across the targets file's
databases, in waves), `fleet resume` goes on after its process stopped, `fleet status` says
where it stands, and `fleet target` is what each dispatch runs: one target's own headless
cockpit session, started or taken up again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cockpit.cli import driving
from cockpit.cli.console import out
from cockpit.errors import EXIT_BLOCKER, EXIT_OK, EXIT_REFUSED


def run(*, runbook: str | Path, targets: str | Path, answers: Path | None = None,
        folder: str | Path | None = None, operator: str | None = None,
        sign_key: str | Path | None = None, headless: bool = False,
        rehearsal: str | Path | None = None) -> int:
    """Start a fleet on `runbook` across the databases of `targets`."""
    from cockpit.fleet.opening import start_fleet
    from cockpit.session.records import SigningKeyRef

    key = driving.signer(sign_key, operator)  # it must read and sign: checked now
    opened = start_fleet(Path(runbook), Path(targets), answers,
                         Path(folder) if folder else None, operator,
                         rehearsal=driving.rehearsal_folder(rehearsal),
                         sign_key=SigningKeyRef(fingerprint=key.fingerprint,
                                                identity=key.identity) if key else None,
                         check_dispatch=lambda shape: celery_app(shape, "then run it again")
                         if shape.dispatch == "celery" else None)
    return _drive(opened, headless)


def resume(*, folder: str | Path, answers: Path | None = None, operator: str | None = None,
           take_over: bool = False, headless: bool = False) -> int:
    """Take a fleet up again where its ledger stands."""
    from cockpit.fleet.ledger import read_fleet
    from cockpit.fleet.opening import resume_fleet
    from cockpit.fleet.status import ended_line

    state = read_fleet(Path(folder))
    if state.ended is not None:  # final: nothing is taken up, nothing written
        print(ended_line(Path(folder), state))
        return EXIT_OK if state.ended.status == "PASS" else EXIT_BLOCKER
    return _drive(resume_fleet(Path(folder), answers, operator, take_over), headless)


def _drive(opened: object, headless: bool) -> int:
    from cockpit.engine import hangup
    from cockpit.fleet.approvals import AnswerApprovals, Approvals, TypedApprovals
    from cockpit.fleet.driver import FleetDriver
    from cockpit.fleet.local import LocalPool
    from cockpit.fleet.opening import OpenFleet
    from cockpit.session.lock import release_if_mine

    assert isinstance(opened, OpenFleet)
    hangup.install()
    ledger = opened.lock.folder
    hangup.add_cleanup(lambda: release_if_mine(ledger))
    typed = TypedApprovals(opened.actor.name)
    approvals: Approvals = AnswerApprovals(opened.approvals_table, opened.actor.name,
                                           "the answers") if headless else typed
    try:
        pool = celery_pool(opened) if opened.plan.shape.dispatch == "celery" \
            else LocalPool(opened.folder)
        driver = FleetDriver(opened.folder, opened.store, opened.actor, opened.plan, pool,
                             approvals, lambda s: print(s, flush=True))
        if not headless:
            from cockpit.tui.fleet_app import FleetApp, FleetControl

            app = FleetApp(opened.folder, FleetControl(driver, typed))
            app.run()
            return app.return_code if app.return_code is not None else EXIT_REFUSED
        print(f"fleet: {opened.folder}", flush=True)
        return driver.drive()
    except KeyboardInterrupt:
        running = sorted(driver.dispatcher.running)
        print("interrupted: " + (f"{', '.join(running)} go on by themselves; " if running
                                 else "") + f"to take the fleet up again: cockpit fleet "
              f"resume {opened.folder}", flush=True)
        raise
    finally:
        opened.lock.release()


def status(*, folder: str | Path, as_json: bool = False) -> int:
    """Print where the fleet in `folder` stands."""
    from cockpit.fleet.ledger import read_fleet
    from cockpit.fleet.status import status_json, status_lines

    where = Path(folder)
    state = read_fleet(where)
    if as_json:
        out(status_json(where, state) + "\n")
    else:
        print("\n".join(status_lines(where, state)))
    return 0


def target(*, folder: str | Path, name: str) -> int:
    """Run (or take up again) target `name` of the fleet in `folder`, headless."""
    import os
    import socket

    from cockpit.engine import hangup
    from cockpit.engine.controller import Controller
    from cockpit.errors import CockpitError
    from cockpit.fleet.target import target_run

    hangup.install()
    fleet = Path(os.path.abspath(folder))
    try:
        one = target_run(fleet, name, os.environ)
    except CockpitError as exc:  # on a worker, which host lacks what is said matters
        exc.message = f"on host {socket.gethostname()}: {exc.message}"
        raise
    print(f"target {name} of fleet {fleet.name}: approved by {one.ref.approved_by}",
          flush=True)
    if one.started:
        return _resume_target(one)
    if not _host_ready(one):
        return EXIT_REFUSED
    plan = driving.plan(one.runbook_path, True, one.answers, False)
    assert plan is not None  # headless: the answers, checked
    ctl = Controller.start(one.runbook_path, folder=one.folder, operator=one.operator,
                           env=one.env, environment=one.environment, values=one.values,
                           fleet=one.ref, publish_root=one.published,
                           rehearsal=one.rehearsal)
    return driving.drive_headless(ctl, plan, False, one.answers, stop_file=one.stop_file)


WAIT_S = 1.0


def _host_ready(one: object) -> bool:
    """The programs the target's steps name resolve on this host, or a NO-GO that names
    them — before its session starts a step (a failed changing step would halt it)."""
    import socket

    from cockpit.fleet.preflight import missing_programs
    from cockpit.fleet.target import TargetRun

    assert isinstance(one, TargetRun)
    missing = missing_programs(one.runbook, one.env)
    if not missing:
        return True
    print(f"NO-GO on host {socket.gethostname()}: {'; '.join(missing)} — install them or "
          "put their folder on this host's PATH (a worker's own environment), then send the "
          "target again (on the board: r; or cockpit fleet resume FLEET)", flush=True)
    return False


def _resume_target(one: object) -> int:
    """A target whose session exists: taken up where it stands. Its lock held by a live
    cockpit (a duplicate delivery) is waited on, never fought; one left by a cockpit that is
    gone — dead on this machine, or on another whose lease and step heartbeat expired — is
    taken over (an event says so)."""
    from cockpit.engine.controller import Controller, exit_code
    from cockpit.engine.opening import check_resumable
    from cockpit.fleet.takeover import take_over_reason
    from cockpit.fleet.target import TargetRun
    from cockpit.session.lock import SessionLock, SessionLocked, holder_text, read_lock_info

    assert isinstance(one, TargetRun)
    said = False
    while True:
        state, _approved = check_resumable(one.folder)
        if state.ended:
            decided = state.decision.status if state.decision else "-"
            print(f"target {one.ref.target}: already decided ({decided})", flush=True)
            return exit_code(state)  # as its own run ended
        if not _host_ready(one):
            return EXIT_REFUSED
        reason = take_over_reason(one.folder, one.lease_s)
        try:
            lock = SessionLock.acquire(one.folder, take_over=reason is not None)
            if reason is not None:
                print(f"taking over target {one.ref.target}: {reason}", flush=True)
            break
        except SessionLocked:
            if not said:  # not the lock's own advice: this process takes over by itself
                info = read_lock_info(one.folder) or {}
                print(f"waiting: target {one.ref.target}'s session is held by "
                      f"{holder_text(info)}; it is taken over here only once that cockpit "
                      f"is gone (on another host: its lease and its step's heartbeat older "
                      f"than {one.lease_s:g} s), else this delivery finds it decided",
                      flush=True)
                said = True
            time.sleep(WAIT_S)
    plan = driving.plan(one.runbook_path, True, one.answers, False, state)
    assert plan is not None  # headless: the answers, checked
    ctl = Controller.resume(one.folder, operator=one.operator, lock=lock, env=one.env)
    return driving.drive_headless(ctl, plan, False, one.answers, stop_file=one.stop_file)


def celery_app(shape: Any, then: str) -> Any:
    """The fleet's Celery app (imported only now: the optional extra), its broker reached."""
    import os

    from cockpit.errors import CockpitError
    from cockpit.runbook.values import duration_seconds

    make_app, _pool = _celery()
    url = os.environ.get(shape.broker_env)
    if not url:
        raise CockpitError(f"dispatch = \"celery\", and ${shape.broker_env} is not set: "
                           f"export the Redis broker's URL (redis://HOST:6379/0), {then}")
    app = make_app(redis_url(url, shape.broker_env), duration_seconds(shape.visibility_timeout))
    reach_broker(app, shape.broker_env, then)
    return app


def celery_pool(opened: object) -> Any:
    """The fleet's Celery dispatch, its broker reached before any target is sent."""
    from cockpit.fleet.opening import OpenFleet
    from cockpit.runbook.values import duration_seconds

    assert isinstance(opened, OpenFleet)
    shape = opened.plan.shape
    _make_app, pool = _celery()
    app = celery_app(shape, f"then: cockpit fleet resume {opened.folder}")
    return pool(opened.folder, app, {t.name: t.queue for t in opened.plan.file.targets
                                    if t.queue},
                visibility_s=duration_seconds(shape.visibility_timeout),
                lease_s=duration_seconds(shape.lease))


def reach_broker(app: Any, variable: str, then: str) -> None:
    """The broker answers, or a clear refusal naming its variable (never its URL: it may
    hold a password) — before any target is sent."""
    from cockpit.errors import CockpitError

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=2, interval_start=0.5, interval_step=0.5)
    except Exception as exc:  # kombu's and redis-py's errors alike
        raise CockpitError(f"the Celery broker ${variable} names "
                           f"({app.connection_for_write().as_uri()}, password hidden) cannot "
                           f"be reached ({type(exc).__name__}); start it, or export the right "
                           f"URL, {then}") from None


def _celery() -> tuple[Any, Any]:
    from cockpit.errors import CockpitError

    try:
        from cockpit.fleet.celery_dispatch import CeleryPool, make_app
    except ImportError as exc:
        raise CockpitError(f"dispatch = \"celery\" needs Celery ({exc.name} is not "
                           "installed): install the fleet extra — `uv sync --extra fleet`, "
                           "or pip install 'cutover-cockpit[fleet]'") from None
    return make_app, CeleryPool


def worker(*, queue: str = "cockpit", concurrency: int = 4,
           broker_env: str = "COCKPIT_BROKER_URL", visibility_timeout: str = "6h") -> int:
    """A Celery worker taking this host's share of fleets' targets from `queue`."""
    import os
    import re

    from cockpit.errors import CockpitError
    from cockpit.runbook.values import duration_seconds

    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", queue):
        raise CockpitError(f"--queue {queue!r}: a queue's name (letters, digits, . _ : -), "
                           "as the targets file's `queue` names it")
    if concurrency < 1:
        raise CockpitError(f"--concurrency {concurrency}: at least 1 (how many targets this "
                           "worker runs at once)")
    broker = os.environ.get(broker_env)
    if not broker:
        raise CockpitError(f"${broker_env} is not set: export the Redis broker's URL "
                           "(redis://HOST:6379/0), as the fleet's host has it")
    if not re.fullmatch(r"[1-9][0-9]{0,6}(?:ms|s|m|min|h)", visibility_timeout):
        raise CockpitError(f"--visibility-timeout {visibility_timeout}: a duration (30s, 10m, "
                           "6h), the fleet's visibility_timeout")
    redis_url(broker, broker_env)
    make_app, _pool = _celery()
    from cockpit.fleet.celery_dispatch import worker_argv

    app = make_app(broker, duration_seconds(visibility_timeout))
    app.worker_main(worker_argv(queue, concurrency))
    return 0


def redis_url(url: str, variable: str) -> str:
    """The broker's URL, once it names Redis: a fleet keeps its tasks and their results there
    (another broker is refused here, not by a Celery traceback)."""
    from cockpit.errors import CockpitError

    if not url.startswith(("redis://", "rediss://", "unix://")):
        scheme = url.split("://", 1)[0] if "://" in url else "no scheme"
        raise CockpitError(f"${variable} names a broker of scheme {scheme}; fleets use Redis "
                           "as Celery's broker and result store: redis://HOST:6379/0 "
                           "(rediss:// for TLS)")
    return url

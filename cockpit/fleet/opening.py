"""Opening a fleet: `fleet run` checks everything a target would refuse before anything is
made (the runbook, the targets file against it, the answers every target is given, each
target's DSN variable), then makes the fleet's folder, takes its lock and pins what was
approved in its first event; `fleet resume` takes the lock again (a dead holder's with
--take-over) and records that it did."""

from __future__ import annotations

import os
import secrets
import shutil
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cockpit.engine.controller import make_actor, utc_stamp
from cockpit.engine.headless import check_answers, missing_answers, parse_answers
from cockpit.engine.opening import checked_link, resolve_workdir
from cockpit.errors import CockpitError
from cockpit.fleet import records as fr
from cockpit.fleet.approvals import go_words, split_answers
from cockpit.fleet.folder import create_fleet_folder, ledger_folder, sha256_of
from cockpit.fleet.ledger import fold_fleet, read_fleet
from cockpit.fleet.plan import FleetPlan, FleetShape, load_plan
from cockpit.fleet.target import fleet_plan, target_env
from cockpit.runbook.environment import for_environment
from cockpit.runbook.identity import runbook_identity
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import Runbook
from cockpit.runbook.values import duration_seconds
from cockpit.session.events import Actor
from cockpit.session.layout import EVENTS
from cockpit.session.lock import SessionLock
from cockpit.session.place import check_new_session_folder
from cockpit.session.records import SigningKeyRef
from cockpit.session.rules import asks_four_eyes
from cockpit.session.state import SessionState
from cockpit.session.store import SessionStore, read_event_log


@dataclass
class OpenFleet:
    folder: Path
    store: SessionStore
    lock: SessionLock
    actor: Actor
    plan: FleetPlan
    approvals_table: dict[str, object]


def start_fleet(runbook_path: Path, targets_path: Path, answers_path: Path | None,
                folder: Path | None, operator: str | None,
                environ: Mapping[str, str] | None = None,
                sessions_root: Path = Path("sessions"), dispatch: str | None = None,
                sign_key: SigningKeyRef | None = None,
                rehearsal: Path | None = None,
                check_dispatch: Callable[[FleetShape], object] | None = None) -> OpenFleet:
    """A new fleet, once everything it needs is checked — `check_dispatch` too (a Celery
    broker reached): a refusal leaves nothing made."""
    environ = os.environ if environ is None else environ
    runbook = load_runbook(runbook_path)
    plan = load_plan(targets_path, runbook)
    mode = dispatch or plan.shape.dispatch
    _refuse_four_eyes(runbook, runbook_path, targets_path, plan, sign_key)
    table, shared = _read_answers(runbook, answers_path)
    _check_targets(runbook, runbook_path, targets_path, plan, mode, environ, rehearsal)
    typed = table.get("go")
    if typed is not None and typed != go_words(sha256_of(targets_path)):
        raise CockpitError(f"{answers_path}: [fleet] go = {typed!r} does not approve this "
                           f"targets file; type {go_words(sha256_of(targets_path))!r} (its "
                           "sha256's first 12 digits) once you have read it; nothing was made")
    if check_dispatch is not None:
        check_dispatch(plan.shape)
    if folder is not None:
        check_new_session_folder(folder)
    identity = runbook_identity(runbook_path)
    fleet_id = f"{utc_stamp()}-fleet-{runbook.id}-{secrets.token_hex(2)}"
    folder = Path(os.path.abspath(folder or sessions_root / fleet_id))
    store = create_fleet_folder(folder, runbook_path.read_bytes(), targets_path.read_bytes(),
                                shared)
    try:
        lock = SessionLock.acquire(ledger_folder(folder))
        actor = make_actor(operator)
        started = fr.FleetStarted(
            fleet_id=folder.name, runbook_path=str(runbook_path.resolve()),
            runbook_id=runbook.id, runbook_sha256=identity.runbook_sha256,
            transcript_sha256=identity.transcript_sha256, production=runbook.production,
            targets_path=str(targets_path.resolve()),
            targets_sha256=sha256_of(targets_path),
            waves=[fr.WaveLine(name=w.name, targets=list(w.targets), parallel=w.parallel)
                   for w in plan.waves],
            stop_after_halts=plan.shape.stop_after_halts,
            approve_waves=plan.shape.approve_waves, countersign=plan.shape.countersign,
            dispatch=mode, pid=os.getpid(),
            lease_s=duration_seconds(plan.shape.lease),
            **({"visibility_timeout_s": duration_seconds(plan.shape.visibility_timeout),
                "broker_env": plan.shape.broker_env} if mode == "celery" else {}),
            **({"sign_key": sign_key} if sign_key is not None else {}),
            **({"rehearsal": str(rehearsal.resolve())} if rehearsal is not None else {}),
            **({"per_server": plan.shape.per_server} if plan.shape.per_server else {}),
            **({"answers_sha256": sha256_of(ledger_folder(folder) / "answers.toml")}
               if shared is not None else {}))
        store.append(actor, started.KIND, started.data())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # made just now, by us: nothing else
        raise
    return OpenFleet(folder, store, lock, actor, plan, table)


def _refuse_four_eyes(runbook: Runbook, runbook_path: Path, targets_path: Path,
                      plan: FleetPlan, sign_key: SigningKeyRef | None) -> None:
    if asks_four_eyes(runbook):  # each target would be refused at its start, one by one
        raise CockpitError(f"{runbook_path}: this runbook asks for reviewers' "
                           "countersignatures of each session (a decision's, a hold's or a "
                           "gate's); a fleet's targets are headless sessions that cannot wait "
                           "for them. A fleet's four eyes are at its GO and between waves: "
                           "`countersign = true` in the targets file's [fleet], with a "
                           "runbook that asks none itself; nothing was made")
    if plan.shape.countersign and sign_key is None:
        raise CockpitError(f"{targets_path}: this fleet asks for a reviewer's "
                           "countersignature (countersign = true), and four eyes are two known "
                           "people: the operator declares a key too — give --sign-key KEY")


def _read_answers(runbook: Runbook,
                  answers_path: Path | None) -> tuple[dict[str, object], bytes | None]:
    """The answers' `[fleet]` table and the rest (shared by every target), checked to hold
    all a target will ask."""
    table: dict[str, object] = {}
    shared: bytes | None = None
    if answers_path is not None:
        try:
            raw = answers_path.read_bytes()
        except OSError as exc:
            raise CockpitError(f"{answers_path}: cannot be read ({exc.strerror})") from None
        table, shared = split_answers(raw, answers_path)
    answers = parse_answers(tomllib.loads(shared.decode("utf-8")) if shared else {},
                            str(answers_path or "no --answers file"))
    check_answers(runbook, answers, assume_yes=False)
    missing = missing_answers(runbook, answers, False, SessionState())
    if missing:
        raise CockpitError(f"the answers ({answers_path or 'no --answers file given'}) lack "
                           f"what every target will ask, so each would stop halfway: "
                           f"{'; '.join(missing)}")
    return table, shared


def _check_targets(runbook: Runbook, runbook_path: Path, targets_path: Path, plan: FleetPlan,
                   mode: str, environ: Mapping[str, str], rehearsal: Path | None) -> None:
    """What each target needs from here: its DSN variable (on this machine), the broker's
    variable (Celery), a rehearsal's PASS at its commit."""
    if mode == "celery" and not environ.get(plan.shape.broker_env):
        raise CockpitError(f"{targets_path}: dispatch = \"celery\", and "
                           f"${plan.shape.broker_env} is not set: export the Redis broker's "
                           "URL (redis://HOST:6379/0), as the workers have it")
    if mode == "local":  # a worker elsewhere has its own environment
        for target in plan.file.targets:
            applied = for_environment(runbook, plan.environment_of(target),
                                      plan.values_of(target))
            target_env(applied, target, environ)  # a DSN variable missing: refused now
    if rehearsal is not None:  # a PASS of this runbook at each target's commit, or refused
        for workdir in {resolve_workdir(for_environment(runbook, plan.environment_of(t),
                                                        plan.values_of(t)), runbook_path,
                                        None)
                        for t in plan.file.targets}:
            checked_link(runbook, workdir, rehearsal)


def resume_fleet(folder: Path, answers_path: Path | None, operator: str | None,
                 take_over: bool = False) -> OpenFleet:
    folder = Path(os.path.abspath(folder))
    state = read_fleet(folder)  # not a fleet: refused before the lock is touched
    table: dict[str, object] = {}
    if answers_path is not None:
        try:
            table, _rest = split_answers(answers_path.read_bytes(), answers_path)
        except OSError as exc:
            raise CockpitError(f"{answers_path}: cannot be read ({exc.strerror})") from None
    lock = SessionLock.acquire(ledger_folder(folder), take_over=take_over)
    try:
        store = SessionStore(ledger_folder(folder))
        state = fold_fleet(store.events)
        plan = fleet_plan(folder, state)
        actor = make_actor(operator or state.operator or None)
        resumed = fr.FleetResumed(pid=os.getpid(), **(
            {"taken_over": lock.taken_over} if lock.taken_over else {}))
        store.append(actor, resumed.KIND, resumed.data())
    except BaseException:
        lock.release()
        raise
    return OpenFleet(folder, store, lock, actor, plan, table)


def attach_fleet_signature(folder: Path, raw: bytes, where: str,
                           operator: str | None) -> str:
    """A reviewer's countersignature kept in the fleet's ledger (no fleet process holding
    it): checked before the lock is taken, and again once it is ours."""
    from cockpit.fleet.countersign import checked_countersignature

    folder = Path(os.path.abspath(folder))
    ledger = ledger_folder(folder)
    state = read_fleet(folder)
    checked_countersignature(state, read_event_log(ledger / EVENTS).events, raw, where)
    lock = SessionLock.acquire(ledger)
    try:
        store = SessionStore(ledger)
        actor = make_actor(operator or fold_fleet(store.events).operator or None)
        return keep_countersignature(folder, store, actor, raw, where)
    finally:
        lock.release()


def keep_countersignature(folder: Path, store: SessionStore, actor: Actor, raw: bytes,
                          where: str) -> str:
    """The file checked against the ledger as it stands, kept there and recorded, by the
    holder of the fleet's lock (the attach above, or the operator's board)."""
    from cockpit.fleet.countersign import (
        checked_countersignature,
        countersigned_record,
        kept_file,
    )

    doc, subject = checked_countersignature(fold_fleet(store.events), store.events, raw, where)
    name, digest = kept_file(store.folder, subject, raw)
    record = countersigned_record(doc, subject, name, digest)
    store.append(actor, record.KIND, record.data())
    return (f"attached: {doc.identity} ({doc.fingerprint}) countersigned {subject} of the "
            f"fleet; `cockpit fleet resume {folder} --answers FILE` goes on")

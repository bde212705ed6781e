"""The controller: a session opened (started or resumed) for the operator, with its verbs.

Every verb checks the rules (session/rules/) against the folded state, then appends its
facts as events; the state is always the fold of those events. The verbs live in their
groups (gates.py, signatures.py, steps.py, closeout.py), composed here over one core; the
step monitor (monitor.py) records a launched step's life; the checks made before a session
opens are opening.py's. The TUI and the headless runner make the same calls. Nothing here
draws anything.
"""

from __future__ import annotations

import os
import secrets as random_tokens
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path, PureWindowsPath
from typing import Any

from cockpit.engine.closeout import CloseoutVerbs, default_halt_hooks
from cockpit.engine.core import HaltHook, SessionCore
from cockpit.engine.gates import GateVerbs, rehearsal_repo
from cockpit.engine.monitor import StepMonitor
from cockpit.engine.notify.destinations import Destination, destinations, url_secrets
from cockpit.engine.notify.notifier import Notifier
from cockpit.engine.opening import check_resumable, check_signer, checked_link, resolve_workdir
from cockpit.engine.setup import (
    dsn_passwords,
    environment_secrets,
    refuse_foreign_paths,
    workdir_override,
)
from cockpit.engine.signatures import SignatureVerbs
from cockpit.engine.steps import StepVerbs
from cockpit.errors import EXIT_BLOCKER, EXIT_OK, CockpitError
from cockpit.evidence.signing import SigningKey
from cockpit.probes.git_probe import git_dirty, git_head
from cockpit.probes.registry import ProbeResult
from cockpit.runbook.environment import choose_environment, for_environment
from cockpit.runbook.identity import runbook_identity
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import AttestationFileGate, Runbook
from cockpit.runbook.targets import command_steps
from cockpit.session import records, rules
from cockpit.session.clock import Clock, system_clock
from cockpit.session.events import Actor
from cockpit.session.layout import EVENTS, RUNBOOK_COPY
from cockpit.session.lock import SessionLock
from cockpit.session.place import check_new_session_folder, check_path_length
from cockpit.session.reader import session_runbook
from cockpit.session.state import SessionState, fold
from cockpit.session.store import (
    SessionStore,
    SessionWriteFailed,
    write_atomic,
    write_fix,
)

AWAIT_S = 0.02  # between looks at the state, waiting for the monitor's record


def exit_code(state: SessionState) -> int:
    """The exit code (docs/commands.md) for where a session stands once its cockpit closes:
    PASS 0, a BLOCKER or a halt 2, anything still open (it resumes) 0."""
    status = state.decision.status if state.decision else None
    if status == "PASS":
        return EXIT_OK
    return EXIT_BLOCKER if status or state.halt is not None else EXIT_OK


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class Controller(SessionCore):
    """A session open for the operator: its verb groups (gates.py, signatures.py, steps.py,
    closeout.py) over one core, and the step monitor that records a launched step's life.
    Each verb runs in the session's turn, so the monitor's records and the verbs never
    interleave; the screens and the headless runner call these same verbs."""

    def __init__(self, *, runbook: Runbook, folder: Path, store: SessionStore,
                 lock: SessionLock, actor: Actor, workdir: Path, env: Mapping[str, str],
                 secrets: Iterable[str] = (), halt_hooks: Iterable[HaltHook] | None = None,
                 clock: Clock = system_clock, signer: SigningKey | None = None,
                 allow_unsigned: bool = False) -> None:
        super().__init__(
            runbook=runbook, folder=folder, store=store, lock=lock, actor=actor,
            workdir=workdir, env=env, clock=clock, signer=signer, allow_unsigned=allow_unsigned,
            secrets=[*secrets, *dsn_passwords(runbook, env), *environment_secrets(env)],
            halt_hooks=default_halt_hooks() if halt_hooks is None else halt_hooks)
        self.gates = GateVerbs(self)
        self.signatures = SignatureVerbs(self, self.gates)
        self.closeout = CloseoutVerbs(self, self.signatures)
        self.steps = StepVerbs(self, self.closeout.halt)
        self.monitor = StepMonitor(self.steps.watch, self.turn, folder, self._monitor_fault)
        self.notifier: Notifier | None = None

    def _monitor_fault(self, error: BaseException) -> None:
        self.note_fault("record the running step", error)

    def await_end(self, run: str, check: Callable[[], object] = lambda: None) -> None:
        """Until the monitor has recorded how `run` ended (`check` between looks: a hang-up
        ends the wait); a failure to record it is raised, as the verb that failed would."""
        while (current := self.running()) is not None and current[1].run == run:
            check()
            if (fault := self.monitor.fault) is not None:
                raise CockpitError(f"the end of run {run} could not be recorded: "
                                   f"{self.redactor.describe(fault)}")
            if not self.monitor.running:  # closed meanwhile: nobody records it here
                return
            time.sleep(AWAIT_S)

    # ------------------------------------------------------------------ opening

    @classmethod
    def start(cls, runbook_path: Path, *, folder: Path | None = None,
              sessions_root: Path = Path("sessions"), operator: str | None = None,
              workdir: Path | None = None, override_workdir: bool = False,
              env: Mapping[str, str] | None = None, secrets: Iterable[str] = (),
              halt_hooks: Iterable[HaltHook] | None = None,
              clock: Clock = system_clock, rehearsal: Path | None = None,
              signer: SigningKey | None = None, environment: str | None = None,
              values: Mapping[str, str] | None = None,
              fleet: records.FleetTarget | None = None,
              publish_root: Path | None = None) -> Controller:
        """A new session. `rehearsal`: the session that proves this cutover (its identity
        is recorded now; one that is no PASS of this runbook at this commit refuses the run,
        nothing made); `signer`: the operator's key the decision will be signed with
        (declared now); `environment`: which of the runbook's environments it runs in
        (required when it declares several); `values`: a fleet target's own (database,
        host, workdir) in place of the environment's, `fleet` the fleet it is one target
        of, and `publish_root` where its named logs are published in place of the working
        directory (a fleet's targets share one) — recorded at the start."""
        runbook = load_runbook(runbook_path)
        environment = choose_environment(runbook, environment, str(runbook_path))
        # the setup as this environment (this target) has it
        applied = for_environment(runbook, environment, values)
        refuse_foreign_paths(applied, runbook_path, workdir_given=workdir is not None)
        override = workdir_override(applied, runbook_path, workdir, override_workdir)
        link = (checked_link(runbook, resolve_workdir(applied, runbook_path, workdir), rehearsal)
                if rehearsal is not None else None)
        if signer is None and rules.asks_four_eyes(runbook):
            raise CockpitError(f"{runbook_path}: this runbook asks for reviewers' "
                               "countersignatures, and four eyes are two known people: the "
                               "operator signs too — give --sign-key KEY")
        identity = runbook_identity(runbook_path)
        session_id = f"{utc_stamp()}-{runbook.id}-{random_tokens.token_hex(2)}"
        env = os.environ if env is None else env
        # a destination that cannot be sent to is refused now, before anything is made
        sends = destinations(runbook.notify, env, resolve_workdir(applied, runbook_path, workdir))
        if folder is not None:
            check_new_session_folder(folder)
        # Absolute: the supervisors' command lines name their spec by this path, and a
        # resume from another folder must find them by it.
        folder = Path(os.path.abspath(folder or sessions_root / session_id))
        check_path_length(folder, [step.id for _, step in command_steps(runbook)],
                          [PureWindowsPath(gate.path).name for gate in runbook.gates.items
                           if isinstance(gate, AttestationFileGate)] if runbook.gates else [])
        if folder.exists() and any(folder.iterdir()):
            raise CockpitError(f"{folder}: already exists and is not empty; name a new folder")
        lock: SessionLock | None = None
        try:  # a folder that cannot hold the session's first event is not left behind
            store = SessionStore.create(folder)  # an empty folder there: replaced, its mode kept
            lock = SessionLock.acquire(folder)
            write_atomic(folder / RUNBOOK_COPY, runbook_path.read_bytes())
            actor = make_actor(operator)
            ctl = cls(runbook=runbook, folder=folder, store=store, lock=lock, actor=actor,
                      workdir=resolve_workdir(applied, runbook_path, workdir),
                      env=env, secrets=[*secrets, *url_secrets(sends)],
                      halt_hooks=halt_hooks, clock=clock, signer=signer)
            repo = rehearsal_repo(runbook, ctl.workdir)  # what a later cutover proves against
            ctl.append(records.SessionStarted(
                session_id=folder.name, runbook_path=str(runbook_path.resolve()),
                runbook_id=runbook.id, title=runbook.title, production=runbook.production,
                runbook_sha256=identity.runbook_sha256,
                transcript_sha256=identity.transcript_sha256,
                workdir=str(ctl.workdir), pid=os.getpid(),
                **{k: v for k, v in (("git_head", git_head(repo)),
                                     ("git_dirty", git_dirty(repo) or None),
                                     ("rehearsal", link), ("sign_key", _key_ref(signer)),
                                     ("environment", environment),
                                     ("environment_values", dict(values) if values else None),
                                     ("fleet", fleet),
                                     ("publish_root", str(publish_root) if publish_root
                                      else None))
                   if v is not None}))
        except (OSError, SessionWriteFailed) as exc:
            if lock is not None:
                lock.release()
            shutil.rmtree(folder, ignore_errors=True)  # made just now, by us: nothing else
            error = exc.error if isinstance(exc, SessionWriteFailed) else exc
            raise CockpitError(f"{folder}: the session could not be started: "
                               f"{error.strerror or error}; nothing was kept — "
                               f"{write_fix(error)} (or name another folder) and run again"
                               ) from None
        if override is not None:
            ctl.append(records.WorkdirOverridden(**override))
        ctl.monitor.start()
        ctl.open_notices(sends)
        return ctl

    @classmethod
    def resume(cls, folder: Path, *, operator: str | None = None, take_over: bool = False,
               env: Mapping[str, str] | None = None, secrets: Iterable[str] = (),
               halt_hooks: Iterable[HaltHook] | None = None,
               lock: SessionLock | None = None, clock: Clock = system_clock,
               rehearsal_moved: Path | None = None,
               signer: SigningKey | None = None, allow_unsigned: bool = False,
               rehearsal_linked: records.RehearsalLink | None = None) -> Controller:
        """Reopen a session. `lock`: already taken by the caller (who had to hold it before
        touching anything the session uses, such as a rehearsal world's password);
        `rehearsal_moved`: where the linked rehearsal is now (the caller checked it is the
        same session); `rehearsal_linked`: another rehearsal to be proved by, checked by the
        caller (`relinked`) while no phase step had run."""
        folder = Path(os.path.abspath(folder))
        if lock is None:
            check_resumable(folder)  # read-only: a refusal touches nothing, the lock included
            lock = SessionLock.acquire(folder, take_over=take_over)
        try:
            state, runbook = check_resumable(folder)  # again, now that it is ours
            check_signer(folder, state, runbook, signer, allow_unsigned)
            env = os.environ if env is None else env
            sends = destinations(runbook.notify, env, Path(state.workdir))
            store = SessionStore(folder)  # verifies the chain; sets a torn tail aside
        except BaseException:
            lock.release()
            raise
        # the session's operator acts unless another is named: that change is an event
        ctl = cls(runbook=runbook, folder=folder, store=store, lock=lock,
                  actor=make_actor(operator or state.operator or None),
                  workdir=Path(state.workdir), env=env,
                  secrets=[*secrets, *url_secrets(sends)],
                  halt_hooks=halt_hooks, clock=clock, signer=signer,
                  allow_unsigned=allow_unsigned)
        if lock.taken_over is not None:
            ctl.append(records.LockTakenOver(previous=lock.taken_over))
        key = _key_ref(signer)
        ctl.append(records.SessionResumed(pid=os.getpid(), **({"sign_key": key} if key else {})))
        if operator and state.operator and operator != state.operator:
            ctl.append(records.OperatorChanged(previous=state.operator, operator=operator))
        if rehearsal_moved is not None:
            ctl.append(records.RehearsalMoved(folder=str(rehearsal_moved.resolve())))
        if rehearsal_linked is not None:
            ctl.relink(rehearsal_linked)
        ctl.reconcile()
        ctl.finish_closing()
        ctl.monitor.start()  # a step still running: its end is recorded here
        ctl.open_notices(sends)  # what is undelivered goes out, a halt meanwhile too
        return ctl

    @classmethod
    def for_signatures(cls, folder: Path, operator: str | None = None) -> Controller:
        """A session opened only to attach a signature (`cockpit attach-signature`): its
        lock taken, its approved copy of the runbook, no step started or polled, no
        database. A decided session is attached to long after its runbook file moved on."""
        folder = Path(os.path.abspath(folder))
        if not (folder / EVENTS).exists():
            raise CockpitError(f"{folder}: not a session folder (no {EVENTS})")
        lock = SessionLock.acquire(folder)
        try:
            store = SessionStore(folder)
            runbook = session_runbook(folder)
        except BaseException:
            lock.release()
            raise
        state = fold(store.events)
        return cls(runbook=runbook, folder=folder, store=store, lock=lock,
                   actor=make_actor(operator), workdir=Path(state.workdir or folder), env={})

    @classmethod
    def for_notices(cls, folder: Path) -> Controller:
        """A session opened only to deliver its undelivered notifications (`cockpit notify
        --flush`): its lock taken, its approved runbook's destinations, no step started."""
        folder = Path(os.path.abspath(folder))
        if not (folder / EVENTS).exists():
            raise CockpitError(f"{folder}: not a session folder (no {EVENTS})")
        runbook = session_runbook(folder)
        if not runbook.notify:
            raise CockpitError(f"{folder}: its runbook has no [[notify]] destination: "
                               "nothing to send")
        lock = SessionLock.acquire(folder)
        try:
            store = SessionStore(folder)
            state = fold(store.events)
            sends = destinations(runbook.notify, os.environ, Path(state.workdir or folder))
        except BaseException:
            lock.release()
            raise
        ctl = cls(runbook=runbook, folder=folder, store=store, lock=lock,
                  actor=make_actor(None), workdir=Path(state.workdir or folder),
                  env=os.environ, secrets=url_secrets(sends))
        ctl.open_notices(sends)
        return ctl

    def open_notices(self, sends: list[Destination]) -> None:
        """Start delivering the session's moments to `sends`; no child of this cockpit is
        given a webhook's URL (its token) from now on."""
        if not sends:
            return
        hidden = {d.url_env for d in self.runbook.notify if d.url_env}
        self.env = {k: v for k, v in self.env.items() if k not in hidden}
        self.notifier = Notifier(self, sends)
        self.notifier.start()

    def notices_line(self) -> str | None:
        """A closed cockpit's last word on its notifications (None: it sent none)."""
        if self.notifier is None:
            return None
        return rules.closing_line(self.state, str(self.folder))

    def close(self, notify_wait: float = 2.0) -> None:
        """Release the session; running supervisors go on without us (a resume records
        their end). The monitor stops first: nothing is written once the lock is let go.
        Deliveries get `notify_wait` seconds; what is left is recorded undelivered."""
        self.monitor.stop()
        if self.notifier is not None:
            self.notifier.drain(notify_wait)
            self.notifier.close()
        with self.turn:
            for child in [*self.children.values(), *self.watchers.values()]:
                child.poll()
            self.lock.release()

    # ------------------------------------------------------------------ the verbs
    # Each in the session's turn. Gates and setup (gates.py):

    def attest_gate(self, gate_id: str, reference: str) -> None:
        with self.turn:
            self.gates.attest_gate(gate_id, reference)

    def confirm_setup(self, item_id: str, note: str = "", assumed: bool = False) -> None:
        with self.turn:
            self.gates.confirm_setup(item_id, note, assumed)

    def enter_password(self, password: str) -> list[str]:
        with self.turn:
            return self.gates.enter_password(password)

    def evaluate_gates(self) -> list[str]:
        with self.turn:
            return self.gates.evaluate_gates()

    def in_environment(self) -> Runbook:
        return self.gates.in_environment()

    def relink(self, link: records.RehearsalLink) -> None:
        with self.turn:
            self.gates.relink(link)

    # Signatures (signatures.py):

    def sign_decision(self) -> str | None:
        with self.turn:
            return self.signatures.sign_decision()

    def attach_signature(self, raw: bytes, where: str) -> records.SignatureAttached:
        with self.turn:
            return self.signatures.attach_signature(raw, where)

    # Steps (steps.py):

    def run_step(self, step_id: str, confirm: str | None = None) -> str:
        with self.turn:
            return self.steps.run_step(step_id, confirm)

    def cancel_step(self, step_id: str) -> None:
        with self.turn:
            self.steps.cancel_step(step_id)

    def go_past_hold(self, step_id: str, typed: str, note: str = "") -> str:
        """The operator's typed go-ahead past a hold, and the upgrade goes on (a new run)."""
        with self.turn:
            self.steps.release_hold(step_id, typed, note)
            return self.steps.run_step(step_id)

    def pause_step(self, step_id: str) -> None:
        with self.turn:
            self.steps.pause_step(step_id)

    def defer_retry(self, step_id: str, deferred: bool = True) -> None:
        """While the operator is asked whether to cancel a retry, its attempt is not made
        (not recorded: the question is the screen's; the attempt follows an answer of no)."""
        with self.turn:
            (self.steps.retries.deferred.add if deferred
             else self.steps.retries.deferred.discard)(step_id)

    def resume_retry(self, step_id: str) -> None:
        """Go on with a retry left pending by a cockpit that stopped during its wait."""
        with self.turn:
            self.steps.retries.resume(step_id)

    def poll(self) -> bool:
        """One look of the monitor's, now (it looks by itself; a caller need not)."""
        with self.turn:
            return self.steps.poll()

    def check_running(self) -> bool:
        with self.turn:
            return self.steps.check_running()

    def start_radar_if_due(self) -> None:
        with self.turn:
            self.steps.start_radar_if_due()

    def note_drift_if_due(self) -> None:
        with self.turn:
            self.steps.note_drift_if_due()

    def rehearsed(self) -> dict[str, float]:
        return self.steps.rehearsed()

    def reconcile(self) -> str | None:
        with self.turn:
            return self.steps.reconcile()

    def resolve_interrupted(self, step_id: str, outcome: str, note: str,
                            probe: dict[str, Any] | None = None) -> None:
        with self.turn:
            self.steps.resolve_interrupted(step_id, outcome, note, probe)

    def evaluate_check(self, step_id: str) -> ProbeResult:
        with self.turn:
            return self.steps.evaluate_check(step_id)

    def confirm_manual(self, step_id: str, note: str = "", assumed: bool = False) -> None:
        with self.turn:
            self.steps.confirm_manual(step_id, note, assumed)

    # The end (closeout.py):

    def halt(self, reason: str, by: str = "operator", step: str | None = None,
             rule: str | None = None, line: str | None = None) -> None:
        with self.turn:
            self.closeout.halt(reason, by, step, rule, line)

    def complete_halt_item(self, item_id: str, note: str) -> None:
        with self.turn:
            self.closeout.complete_halt_item(item_id, note)

    def seal_evidence(self) -> dict[str, Any]:
        with self.turn:
            return self.closeout.seal_evidence()

    def decision_defaults(self) -> dict[str, str]:
        return self.closeout.decision_defaults()

    def decision_form_values(self) -> dict[str, str]:
        return self.closeout.decision_form_values()

    def record_decision(self, values: Mapping[str, str],
                        note: str | None = None) -> dict[str, Any]:
        with self.turn:
            return self.closeout.record_decision(values, note)

    def finish_closing(self) -> None:
        with self.turn:
            self.closeout.finish_closing()


def _key_ref(signer: SigningKey | None) -> records.SigningKeyRef | None:
    if signer is None:
        return None
    return records.SigningKeyRef(fingerprint=signer.fingerprint, identity=signer.identity)


def make_actor(operator: str | None) -> Actor:
    """Who acts: --operator or $COCKPIT_OPERATOR or the login; the host, or $COCKPIT_HOST
    where the machine's name says nothing (a container id)."""
    name = operator or os.environ.get("COCKPIT_OPERATOR") or _login()
    return Actor(name=name, host=os.environ.get("COCKPIT_HOST") or socket.gethostname())


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


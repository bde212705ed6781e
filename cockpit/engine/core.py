"""What every verb group of the controller stands on: the session's runbook, folded state and
store, the append that records a fact, and the refusals. The verb groups (gates.py,
signatures.py, steps.py, closeout.py) each hold this one core; controller.py opens and closes
a session and offers their verbs."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cockpit.engine.credentials import fresh_credentials
from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.evidence.signing import SigningKey
from cockpit.probes.registry import ProbeContext, ProbeResult
from cockpit.runbook.environment import for_environment
from cockpit.runbook.model import Runbook
from cockpit.runbook.targets import runbook_commands
from cockpit.session import records, rules
from cockpit.session.clock import Clock
from cockpit.session.events import Actor, Event
from cockpit.session.layout import PROBE_FILES, SNAPSHOT
from cockpit.session.lock import SessionLock
from cockpit.session.modes import make_folder
from cockpit.session.redact import Redactor
from cockpit.session.runfiles import RunFiles, running_files
from cockpit.session.state import SessionState, apply, fold
from cockpit.session.stepfollow import StepLogFollower
from cockpit.session.store import SessionStore, write_atomic

HaltHook = Callable[["SessionCore"], dict[str, Any] | None]


class ActionRefused(CockpitError):
    exit_code = EXIT_REFUSED


class SessionCore:
    """The open session every verb group shares: its runbook, store and folded state, and
    the one writer of its events. `turn` serialises the writers of this process — the
    operator's verbs and the step monitor's records — so each sees the state it acts on."""

    def __init__(self, *, runbook: Runbook, folder: Path, store: SessionStore,
                 lock: SessionLock, actor: Actor, workdir: Path, env: Mapping[str, str],
                 secrets: Iterable[str], halt_hooks: Iterable[HaltHook], clock: Clock,
                 signer: SigningKey | None, allow_unsigned: bool) -> None:
        self.runbook = runbook
        self.signer = signer  # --sign-key: the operator signs the decision with it
        self.allow_unsigned = allow_unsigned  # --no-sign: a declared key may go unused
        self.clock = clock  # what the rules take as now (a test moves it instead of sleeping)
        self.folder = folder
        self.store = store
        self.lock = lock
        lock.keep_lease()  # renewed while this cockpit holds the session (another host reads it)
        self.actor = actor
        self.workdir = workdir
        self.env = dict(env)
        self.turn = threading.RLock()
        self.secrets: list[str] = []
        self.redactor = Redactor(self.secrets)
        self.add_secrets(secrets)  # the store redacts every event it writes with these
        self.halt_hooks = list(halt_hooks)
        self.listeners: list[Callable[[Event], None]] = []
        self.state: SessionState = fold(store.events)
        self.children: dict[str, subprocess.Popen[bytes]] = {}  # run id -> supervisor
        self.watchers: dict[str, subprocess.Popen[bytes]] = {}  # run id -> radar watcher
        self.rehearsal_times: dict[str, float] | None = None  # the rehearsal's, once read
        # decision values prepared per outcome, for the form only (the TUI demo's answers)
        self.decision_prefill: dict[str, dict[str, str]] = {}

    def add_secrets(self, more: Iterable[str]) -> None:
        """Secrets to redact from now on as well (a password entered during the session):
        from every event, log and record written after this call."""
        self.secrets = sorted({*self.secrets, *(s for s in more if s)})
        self.redactor = Redactor(self.secrets)
        self.store._redact = self.redactor.redact_text

    @property
    def publish_root(self) -> Path:
        """Where the steps' named logs are published: the working directory, or the folder
        a fleet gives each of its targets (they share one working directory)."""
        root = self.state.publish_root
        return Path(root) if root else self.workdir

    def refresh_credentials(self) -> None:
        """A fresh password in each DSN that has a `password_command`, made a secret before
        anything sees it: called before every new connection the cockpit makes or hands on
        (CredentialFailed: one gave none; the environment is as it was)."""
        if not rules.command_dsns(self.runbook):
            return
        runbook = for_environment(self.runbook, self.state.environment,
                                  self.state.environment_values)
        env, fetched = fresh_credentials(runbook, self.env, self.workdir, self.secrets,
                                         self.redactor.redact_text)
        self.add_secrets(fetched)
        self.env = env

    def append(self, record: records.Record) -> Event:
        """Record a fact: its event is written (fsync'd, chained), then folded in."""
        event = self.store.append(self.actor, record.KIND, record.data())
        # every event after the state's (the store may have set a torn tail aside first)
        appended = self.store.events[self.state.seq:]
        for each in appended:
            self.state = apply(self.state, each)
        write_atomic(self.folder / SNAPSHOT, self.state.model_dump_json(indent=2).encode())
        for listener in self.listeners:
            for each in appended:
                listener(each)
        return event

    def refuse_if(self, reason: str | None) -> None:
        if reason is not None:
            raise ActionRefused(reason)

    def refusal_to_run(self, step_id: str, retrying: bool = False) -> str | None:
        return rules.refusal_to_run(self.runbook, self.state, step_id, self.clock(), retrying)

    def item(self, item_id: str) -> Any:
        from cockpit.runbook.validate import walk_items

        for _place, item in walk_items(self.runbook):
            if item.id == item_id:
                return item
        raise CockpitError(f"no item '{item_id}' in runbook '{self.runbook.id}'")

    def probe_context(self) -> ProbeContext:
        linked = self.state.rehearsal
        return ProbeContext(workdir=self.workdir, env=self.env, session_folder=self.folder,
                            waivers=tuple(self.runbook.waivers),
                            redact=self.redactor.redact_text,
                            rehearsal=Path(linked.folder) if linked is not None else None,
                            commands=runbook_commands(self.runbook))

    def observed(self, result: ProbeResult) -> Any:
        """What a probe observed, with the files it found written into the session
        (`evidence/probes/`, named by their content, so `verify` checks them) and listed
        under "files" — redacted first, as everything the session writes is."""
        if not result.files:
            return result.observed
        kept = []
        for name, found in result.files:
            data = self.redactor.redact(found)
            digest = hashlib.sha256(data).hexdigest()
            path = self.folder / PROBE_FILES / f"{digest[:16]}-{name}"
            if not path.exists():  # the same content, kept before
                make_folder(path.parent, like=self.folder)
                write_atomic(path, data)
            kept.append({"captured": path.relative_to(self.folder).as_posix(),
                         "sha256": digest, "size": len(data)})
        observed = result.observed
        if not isinstance(observed, dict):  # a probe that keeps files observes a table
            observed = {} if observed is None else {"value": observed}
        return {**observed, "files": kept}

    def halted_reason(self) -> str | None:
        if self.state.halt is not None:
            return f"the session is halted ({self.state.halt.reason})"
        return None

    def running(self) -> tuple[str, RunFiles] | None:
        return running_files(self.folder, self.state)

    def log_follower(self) -> StepLogFollower:
        return StepLogFollower(self.folder)

    def catch_up(self) -> bool:
        return False  # the session's only writer: its state is current after each append

    def note_fault(self, action: str, error: BaseException) -> str:
        """Record that the cockpit itself failed at `action` (not a refusal: an error no
        rule foresaw), redacted; returns the text recorded, for the screen."""
        text = self.redactor.describe(error)
        try:
            self.append(records.FaultNoted(action=action, error=text))
        except Exception as exc:  # the log itself may be what failed: the screen still says
            text += f" (not recorded: {self.redactor.redact_text(str(exc))})"
        return text

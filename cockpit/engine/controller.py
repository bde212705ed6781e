"""The controller: the operator's verbs and the rules they obey.

Every verb checks the rules (engine/rules.py) against the folded state, then appends its
facts as events; the state is always the fold of those events. The TUI and the headless
runner make the same calls. Nothing here draws anything.
"""

from __future__ import annotations

import json
import os
import secrets as random_tokens
import socket
import subprocess
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.engine import rules
from cockpit.engine.launcher import RunFiles, find_supervisor, launch, stop_supervisor, write_spec
from cockpit.engine.redact import Redactor
from cockpit.engine.setup import check_setup_item, dsn_passwords, environment_secrets
from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.evidence import decision as decisions
from cockpit.evidence.manifest import build_manifest, file_sha256, resolve
from cockpit.evidence.report import render_report
from cockpit.probes.registry import ProbeContext, ProbeResult, run_probe
from cockpit.runbook.identity import runbook_identity
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import (
    AttestationFileGate,
    AttestationGate,
    CheckStep,
    CommandStep,
    EnvVar,
    HaltItem,
    Manual,
    ProbeGate,
    Runbook,
)
from cockpit.session import events as ev
from cockpit.session.events import Actor, Event
from cockpit.session.lock import SessionLock
from cockpit.session.reader import RUNBOOK_COPY
from cockpit.session.state import SessionState, apply, fold
from cockpit.session.store import EVENTS, SNAPSHOT, SessionStore, redact_values, write_atomic

AUTOMATIC_HALT_ACTIONS = {
    "stop": "the cockpit stopped execution (running step signalled, no step may start)",
    "preserve": "the cockpit deletes and rewrites nothing; every log and record is kept",
    "no_further_commands": "the cockpit refuses every command step from now on, by any path",
}
HaltHook = Callable[["Controller"], dict[str, Any] | None]


def pg_halt_diagnostics(ctl: Controller) -> dict[str, Any] | None:
    """PostgreSQL's pg_stat_activity and pg_locks, when the session has a DATABASE_URL."""
    if "DATABASE_URL" not in ctl.env:
        return None
    from cockpit.probes.db_probes import pg_halt_diagnostics as capture  # heavy: on demand

    return capture(ctl)


def default_halt_hooks() -> list[HaltHook]:
    return [pg_halt_diagnostics]


class ActionRefused(CockpitError):
    exit_code = EXIT_REFUSED


class RunbookChanged(CockpitError):
    exit_code = EXIT_REFUSED


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def resolve_workdir(runbook: Runbook, runbook_path: Path, override: Path | None) -> Path:
    """Where commands run: --workdir, else the runbook's working directory (relative paths
    are taken from the runbook file's folder), else that folder."""
    if override is not None:
        return override.resolve()
    base = runbook_path.resolve().parent
    for check in rules.setup_checks(runbook):
        if check.kind == "working_directory":
            return resolve(base, check.path)
    return base


class Controller:
    def __init__(self, *, runbook: Runbook, folder: Path, store: SessionStore,
                 lock: SessionLock, actor: Actor, workdir: Path, env: Mapping[str, str],
                 secrets: Iterable[str] = (), halt_hooks: Iterable[HaltHook] | None = None) -> None:
        self.runbook = runbook
        self.folder = folder
        self.store = store
        self.lock = lock
        self.actor = actor
        self.workdir = workdir
        self.env = dict(env)
        self.secrets = sorted({*secrets, *dsn_passwords(runbook, self.env),
                               *environment_secrets(self.env)})
        self.redactor = Redactor(self.secrets)
        store._redact = self.redactor.redact_text  # the store redacts every event it writes
        self.halt_hooks = list(default_halt_hooks() if halt_hooks is None else halt_hooks)
        self.listeners: list[Callable[[Event], None]] = []
        self.state: SessionState = fold(store.events)
        self._children: dict[str, subprocess.Popen[bytes]] = {}  # run id -> supervisor

    # ------------------------------------------------------------------ opening

    @classmethod
    def start(cls, runbook_path: Path, *, folder: Path | None = None,
              sessions_root: Path = Path("sessions"), operator: str | None = None,
              workdir: Path | None = None, env: Mapping[str, str] | None = None,
              secrets: Iterable[str] = (),
              halt_hooks: Iterable[HaltHook] | None = None) -> Controller:
        runbook = load_runbook(runbook_path)
        identity = runbook_identity(runbook_path)
        session_id = f"{utc_stamp()}-{runbook.id}-{random_tokens.token_hex(2)}"
        folder = folder or sessions_root / session_id
        if folder.exists() and any(folder.iterdir()):
            raise CockpitError(f"{folder}: already exists and is not empty; name a new folder")
        if folder.exists():
            folder.rmdir()
        store = SessionStore.create(folder)
        lock = SessionLock.acquire(folder)
        write_atomic(folder / RUNBOOK_COPY, runbook_path.read_bytes())
        actor = make_actor(operator)
        ctl = cls(runbook=runbook, folder=folder, store=store, lock=lock, actor=actor,
                  workdir=resolve_workdir(runbook, runbook_path, workdir),
                  env=os.environ if env is None else env, secrets=secrets,
                  halt_hooks=halt_hooks)
        ctl.append(ev.SESSION_STARTED, {
            "session_id": folder.name, "runbook_path": str(runbook_path.resolve()),
            "runbook_id": runbook.id, "title": runbook.title, "production": runbook.production,
            "runbook_sha256": identity.runbook_sha256,
            "transcript_sha256": identity.transcript_sha256, "workdir": str(ctl.workdir),
            "pid": os.getpid(),
        })
        return ctl

    @classmethod
    def resume(cls, folder: Path, *, operator: str | None = None, take_over: bool = False,
               env: Mapping[str, str] | None = None, secrets: Iterable[str] = (),
               halt_hooks: Iterable[HaltHook] | None = None) -> Controller:
        if not (folder / EVENTS).exists():
            raise CockpitError(f"{folder}: not a session folder (no {EVENTS})")
        lock = SessionLock.acquire(folder, take_over=take_over)
        try:
            store = SessionStore(folder)  # verifies the chain; sets a torn tail aside
            if not store.events:
                raise CockpitError(f"{folder}: this session never started (no events); "
                                   "start a new one with `cockpit run`")
            state = fold(store.events)
            runbook_path = Path(state.runbook_path)
            try:
                identity = runbook_identity(runbook_path)
            except (OSError, CockpitError) as exc:
                raise RunbookChanged(f"{runbook_path}: the session's runbook cannot be loaded "
                                     f"({exc}); resume refused") from None
            if identity.runbook_sha256 != state.runbook_sha256:
                raise RunbookChanged(f"{runbook_path}: changed since the session started "
                                     "(sha256 differs); the approved runbook is the one that "
                                     f"runs — restore it (a copy is in {folder / RUNBOOK_COPY})")
            if identity.transcript_sha256 != state.transcript_sha256:
                raise RunbookChanged(f"{runbook_path}: its transcript changed; resume refused")
            runbook = load_runbook(runbook_path)
        except BaseException:
            lock.release()
            raise
        ctl = cls(runbook=runbook, folder=folder, store=store, lock=lock,
                  actor=make_actor(operator), workdir=Path(state.workdir),
                  env=os.environ if env is None else env, secrets=secrets,
                  halt_hooks=halt_hooks)
        if lock.taken_over is not None:
            ctl.append(ev.LOCK_TAKEN_OVER, {"previous": lock.taken_over})
        ctl.append(ev.SESSION_RESUMED, {"pid": os.getpid()})
        ctl.reconcile()
        return ctl

    def close(self) -> None:
        """Release the session; running supervisors go on without us."""
        for child in self._children.values():
            child.poll()
        self.lock.release()

    # ------------------------------------------------------------------ events

    def append(self, type_: str, data: dict[str, Any]) -> Event:
        event = self.store.append(self.actor, type_, data)
        self.state = apply(self.state, event)
        write_atomic(self.folder / SNAPSHOT, self.state.model_dump_json(indent=2).encode())
        for listener in self.listeners:
            listener(event)
        return event

    def _refuse_if(self, reason: str | None) -> None:
        if reason is not None:
            raise ActionRefused(reason)

    def _item(self, item_id: str) -> Any:
        from cockpit.runbook.validate import walk_items

        for _place, item in walk_items(self.runbook):
            if item.id == item_id:
                return item
        raise CockpitError(f"no item '{item_id}' in runbook '{self.runbook.id}'")

    def probe_context(self) -> ProbeContext:
        return ProbeContext(workdir=self.workdir, env=self.env, session_folder=self.folder)

    # ------------------------------------------------------------------ gates and setup

    def attest_gate(self, gate_id: str, reference: str) -> None:
        self._refuse_if(self._halted_reason())
        gate = self._item(gate_id)
        if not reference.strip():
            raise ActionRefused(f"gate '{gate_id}' needs a reference")
        if isinstance(gate, AttestationGate):
            self.append(ev.GATE_ATTESTED, {"gate": gate_id, "reference": reference.strip()})
        elif isinstance(gate, ProbeGate) and gate.expected is None:
            self._evaluate_probe_gate(gate, reference.strip())
        else:
            raise ActionRefused(f"gate '{gate_id}' is checked by the cockpit, not attested")

    def evaluate_gates(self) -> list[str]:
        """Evaluate every automated gate, setup item and script pin; returns what is open."""
        self._refuse_if(self._halted_reason())
        for gate in rules.gates(self.runbook):
            if isinstance(gate, AttestationFileGate):
                self._evaluate_file_gate(gate)
            elif isinstance(gate, ProbeGate) and gate.expected is not None:
                self._evaluate_probe_gate(gate, gate.expected)
        checks = rules.setup_checks(self.runbook)
        env_names = [c.name for c in checks if isinstance(c, EnvVar)]
        for item in checks:
            ok, observed, detail = check_setup_item(item, self.workdir, self.env,
                                                    self._placeholder())
            if ok and isinstance(item, EnvVar):  # the string is right; is the link?
                live = run_probe("env.dsn", self.probe_context(), None, {
                    "var": item.name, "database": item.database, "require": item.require,
                    "same_as": env_names})
                ok, detail = live.ok, f"{detail}; {live.detail}"
            self.append(ev.SETUP_CHECKED, {"item": item.id, "ok": ok, "observed": observed,
                                           "detail": detail})
        for script in self.runbook.scripts:
            self._check_script(script.path, script.sha256)
        return rules.open_gates(self.runbook, self.state)

    def _placeholder(self) -> str:
        return self.runbook.setup.password_placeholder if self.runbook.setup else "<PASSWORD>"

    def _evaluate_file_gate(self, gate: AttestationFileGate) -> None:
        path = resolve(self.workdir, gate.path)
        observed: dict[str, Any] = {"path": str(path)}
        if not path.is_file():
            ok, detail = False, f"{path}: no such file"
        elif path.stat().st_size == 0:
            ok, detail = False, f"{path}: empty"
        else:
            observed.update(size=path.stat().st_size, sha256=file_sha256(path))
            text = path.read_text(encoding="utf-8", errors="replace")
            ok = gate.must_contain is None or any(
                gate.must_contain in line for line in text.splitlines())
            detail = "present" if ok else f"no line contains {gate.must_contain!r}"
        self.append(ev.GATE_EVALUATED, {"gate": gate.id, "ok": ok, "observed": observed,
                                        "detail": detail})

    def _evaluate_probe_gate(self, gate: ProbeGate, expected: Any) -> None:
        result = run_probe(gate.probe, self.probe_context(), expected, gate.args)
        self.append(ev.GATE_EVALUATED, {"gate": gate.id, "ok": result.ok, "expected": expected,
                                        "observed": result.observed, "detail": result.detail})

    def _check_script(self, script_path: str, pinned: str | None) -> None:
        path = resolve(self.workdir, script_path)
        observed = file_sha256(path) if path.is_file() else None
        if pinned is None:
            ok, detail = False, "not pinned: the runbook gives no approved sha256"
        elif observed is None:
            ok, detail = False, f"{path}: no such file"
        else:
            ok = observed == pinned
            detail = "matches the approved sha256" if ok else "CHANGED since approval"
        self.append(ev.SCRIPT_CHECKED, {"path": script_path, "ok": ok, "expected": pinned,
                                        "observed": observed, "detail": detail})

    # ------------------------------------------------------------------ phases

    def _halted_reason(self) -> str | None:
        if self.state.halt is not None:
            return f"the session is halted ({self.state.halt.reason})"
        return None

    def run_step(self, step_id: str, confirm: str | None = None) -> str:
        """Start a command step under its supervisor; returns the run id."""
        self._refuse_if(rules.refusal_to_run(self.runbook, self.state, step_id))
        step = self._item(step_id)
        if not isinstance(step, CommandStep):
            raise ActionRefused(f"'{step_id}' is not a command step")
        if step.confirm is not None and confirm != step.confirm:
            raise ActionRefused(f"step '{step_id}' changes the database: type "
                                f"'{step.confirm}' to confirm it")
        previous = self.state.steps.get(step_id)
        run = f"{step_id}.{(previous.attempts if previous else 0) + 1}"
        files = RunFiles(self.folder / "steps", run)
        log = resolve(self.workdir, step.log) if step.log else files.folder / f"{run}.log"
        if log.exists():  # evidence of an earlier run: kept under another name, never replaced
            kept = log.with_name(f"{log.name}.before-{run}")
            os.replace(log, kept)
            self.append(ev.LOG_PRESERVED, {"step": step_id, "log": str(log),
                                           "moved_to": str(kept), "sha256": file_sha256(kept)})
        rule_ids = rules.watched_rules(self.runbook, step)
        abort_rules = [r.model_dump() for rid in rule_ids if (r := self.runbook.abort_rule(rid))]
        write_spec(files, {"step": step_id, "command": step.command, "cwd": str(self.workdir),
                           "log": str(log), "rules": abort_rules, "grace": 5.0})
        phase = next(p.id for p in self.runbook.phases if step in p.steps)
        self.append(ev.STEP_STARTED, {"step": step_id, "phase": phase, "run": run,
                                      "command": step.command, "log": str(log),
                                      "abort_rules": rule_ids})
        self._children[run] = launch(files, self.env, self.secrets)
        return run

    def running(self) -> tuple[str, RunFiles] | None:
        step_id = self.state.running_step()
        if step_id is None:
            return None
        run = self.state.steps[step_id].run
        assert run is not None
        return step_id, RunFiles(self.folder / "steps", run)

    def poll(self) -> bool:
        """Record the running step's outcome if its exit record is there; True if it was."""
        for child in self._children.values():
            child.poll()  # reap finished supervisors
        current = self.running()
        if current is None:
            return False
        step_id, files = current
        record = files.exit_record()
        if record is not None:
            self._finish(step_id, record)
            return True
        ours = self._children.get(files.run)
        if ours is not None and ours.returncode is not None and files.exit_record() is None:
            self.append(ev.STEP_INTERRUPTED, {
                "step": step_id, "run": files.run,
                "detail": f"its supervisor ended (status {ours.returncode}) without an exit "
                          f"record; see {files.err}",
            })
            return True
        return False

    def _finish(self, step_id: str, record: dict[str, Any]) -> None:
        step = self._item(step_id)
        ok = record["exit_code"] == step.expect_exit and record.get("abort") is None
        detail = None if ok else (
            f"abort rule {record['abort']['rule']}" if record.get("abort")
            else f"exit status {record['exit_code']}, expected {step.expect_exit}")
        self.append(ev.STEP_FINISHED, {
            "step": step_id, "run": record["run"], "exit_code": record["exit_code"], "ok": ok,
            "bytes": record["bytes"], "lines": record["lines"], "sha256": record["sha256"],
            "abort": record.get("abort"), "ended_at": record["ended_at"], "detail": detail,
            "last_line": record.get("last_line"),
        })
        abort = record.get("abort")
        if abort is not None and self.state.halt is None:
            self.halt(f"abort rule '{abort['rule']}' matched in step {step_id}",
                      by="abort_rule", step=step_id, rule=abort["rule"], line=abort["line"])

    def reconcile(self) -> str | None:
        """After a crash: a running step is re-attached, finished from its exit record, or
        marked interrupted — never run again silently. Returns what was done."""
        current = self.running()
        if current is None:
            return None
        step_id, files = current
        if files.exit_record() is not None:
            self.poll()
            return "finished"
        if find_supervisor(files) is not None:
            return "reattached"
        self.append(ev.STEP_INTERRUPTED, {
            "step": step_id, "run": files.run,
            "detail": "neither its supervisor nor an exit record survived the cockpit",
        })
        return "interrupted"

    def resolve_interrupted(self, step_id: str, outcome: str, note: str,
                            probe: dict[str, Any] | None = None) -> None:
        """The operator's recorded decision on an interrupted step, after reconciliation."""
        self._refuse_if(self._halted_reason())
        current = self.state.steps.get(step_id)
        if current is None or current.status != "interrupted":
            raise ActionRefused(f"step '{step_id}' is not interrupted")
        if outcome not in ("passed", "failed") or not note.strip():
            raise ActionRefused("say whether the step 'passed' or 'failed', with a note")
        self.append(ev.STEP_RESOLVED, {"step": step_id, "outcome": outcome, "note": note,
                                       "probe": probe})

    def evaluate_check(self, step_id: str) -> ProbeResult:
        self._refuse_if(rules.refusal_to_run(self.runbook, self.state, step_id))
        step = self._item(step_id)
        if not isinstance(step, CheckStep):
            raise ActionRefused(f"'{step_id}' is not a check")
        result = run_probe(step.probe, self.probe_context(), step.expected, step.args)
        self.append(ev.CHECK_EVALUATED, {"step": step_id, "ok": result.ok,
                                         "expected": step.expected, "observed": result.observed,
                                         "detail": result.detail})
        return result

    def confirm_manual(self, step_id: str, note: str = "", assumed: bool = False) -> None:
        self._refuse_if(rules.refusal_to_run(self.runbook, self.state, step_id))
        step = self._item(step_id)
        if not isinstance(step, Manual):
            raise ActionRefused(f"'{step_id}' is not a manual confirmation")
        if assumed and self.runbook.production:
            raise ActionRefused(f"'{step_id}': a production runbook forbids auto-confirmation")
        self.append(ev.MANUAL_CONFIRMED, {"step": step_id, "note": note, "assumed": assumed})

    # ------------------------------------------------------------------ halt and contain

    def halt(self, reason: str, by: str = "operator", step: str | None = None,
             rule: str | None = None, line: str | None = None) -> None:
        """Halt-and-contain. Final for the session: no command can start after this."""
        if self.state.halt is not None:
            return
        current = self.running()
        if current is not None:
            stop_supervisor(current[1])
        self.append(ev.HALTED, {"reason": reason, "by": by, "step": step, "rule": rule,
                                "line": line})
        self._capture_diagnostics()
        items = self.runbook.halt.items if self.runbook.halt else []
        for item in items:
            if isinstance(item, HaltItem) and item.action in AUTOMATIC_HALT_ACTIONS:
                self.append(ev.HALT_ITEM_DONE, {"item": item.id,
                                                "note": AUTOMATIC_HALT_ACTIONS[item.action]})

    def _capture_diagnostics(self) -> None:
        captured: dict[str, Any] = {}
        for hook in self.halt_hooks:
            name = getattr(hook, "__name__", "hook")
            try:
                result = hook(self)
            except Exception as exc:  # diagnostics must not stop the halt
                result = {"error": f"{type(exc).__name__}: {exc}"}
            if result is not None:
                captured[name] = result
        if not captured:
            return
        path = self.folder / "evidence" / f"halt-diagnostics-{self.state.seq}.json"
        clean = redact_values(captured, self.redactor.redact_text)
        write_atomic(path, json.dumps(clean, indent=2, default=str).encode())
        self.append(ev.DIAGNOSTICS_CAPTURED, {"file": str(path.relative_to(self.folder)),
                                              "sha256": file_sha256(path),
                                              "probes": sorted(captured)})

    def complete_halt_item(self, item_id: str, note: str) -> None:
        if self.state.halt is None:
            raise ActionRefused("the halt-and-contain protocol applies only after a halt")
        item = self._item(item_id)
        if not isinstance(item, HaltItem):
            raise ActionRefused(f"'{item_id}' is not an item of the halt protocol")
        if item.action == "record_blocker":
            raise ActionRefused("the blocker is recorded with the decision record (BLOCKER)")
        if not note.strip():
            raise ActionRefused(f"'{item_id}' needs a note or reference")
        self.append(ev.HALT_ITEM_DONE, {"item": item_id, "note": note.strip()})

    # ------------------------------------------------------------------ evidence, decision

    def seal_evidence(self) -> dict[str, Any]:
        manifest = build_manifest(self.runbook, self.state, self.workdir)
        path = self.folder / "evidence" / "manifest.json"
        write_atomic(path, json.dumps(manifest, indent=2).encode())
        self.append(ev.EVIDENCE_SEALED, {
            "manifest": "evidence/manifest.json", "sha256": file_sha256(path),
            "present": manifest["present"], "missing": manifest["missing"],
            "mismatched": manifest["mismatched"], "complete": manifest["complete"],
        })
        return manifest

    def decision_defaults(self) -> dict[str, str]:
        return decisions.defaults(self.runbook, self.state)

    def record_decision(self, values: Mapping[str, str]) -> dict[str, Any]:
        filled = {**self.decision_defaults(), **{k: v for k, v in values.items() if v}}
        self._refuse_if(decisions.refusal(self.runbook, self.state, filled))
        record = {"session_id": self.state.session_id, "runbook_id": self.runbook.id,
                  "runbook_sha256": self.state.runbook_sha256,
                  "transcript_sha256": self.state.transcript_sha256, "fields": filled,
                  "recorded_by": f"{self.actor.name}@{self.actor.host}"}
        record = redact_values(record, self.redactor.redact_text)
        evidence = self.folder / "evidence"
        write_atomic(evidence / "decision.json", json.dumps(record, indent=2).encode())
        write_atomic(evidence / "decision.md",
                     decisions.render_decision(self.runbook, record["fields"]).encode())
        status_field = decisions.status_field(self.runbook)
        status = filled.get(status_field.id if status_field else "status", "")
        if status == decisions.BLOCKER:
            for item in self.runbook.halt.items if self.runbook.halt else []:
                if isinstance(item, HaltItem) and item.action == "record_blocker":
                    self.append(ev.HALT_ITEM_DONE, {"item": item.id,
                                                    "note": filled.get("root_cause", "")})
        self.append(ev.DECISION_RECORDED, {
            "status": status, "fields": record["fields"],
            "json": "evidence/decision.json", "markdown": "evidence/decision.md",
            "json_sha256": file_sha256(evidence / "decision.json"),
            "markdown_sha256": file_sha256(evidence / "decision.md"),
        })
        report = render_report(self.runbook, self.state, self.redactor.redact_text)
        write_atomic(evidence / "checklist.md", report.encode())
        return record


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


"""Phase verbs: starting a command step under its supervisor, recording its end (or its
interruption), reconciling after a crash, checks and manual confirmations."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cockpit.engine import overdue, procgroup
from cockpit.engine.core import ActionRefused, SessionCore
from cockpit.engine.credentials import CredentialFailed
from cockpit.engine.launcher import (
    find_supervisor,
    last_line_said,
    launch,
    launch_watcher,
    stop_supervisor,
    void_claim,
    write_spec,
)
from cockpit.engine.perrevision import plan_run, run_result
from cockpit.engine.pgoptions import pg_options
from cockpit.engine.retries import Retries
from cockpit.engine.upgrade_path import expected_upgrade
from cockpit.errors import CockpitError
from cockpit.probes.radar import app_name
from cockpit.probes.registry import ProbeResult, run_probe
from cockpit.runbook.model import (
    LOG_RULE,
    TIMEOUT_RULE,
    AbortRule,
    CheckStep,
    CommandStep,
    Manual,
    duration_seconds,
)
from cockpit.runbook.paths import resolve
from cockpit.session import records, rules, timing
from cockpit.session.layout import DISPLACED
from cockpit.session.modes import file_mode, make_folder
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import ExitRecord
from cockpit.session.safefs import UnsafePath, move_named


def step_env(env: Mapping[str, str], step: CommandStep, run: str | None = None,
             from_role: bool = False) -> dict[str, str]:
    """The command's environment: the session's, with the step's PostgreSQL settings added
    to PGOPTIONS (libpq reads it on every connection the command opens) unless they are
    the role's own defaults (`from_role`), and, for a run, its connections named
    `cockpit:<run>` (PGAPPNAME): the lock radar and the halt diagnostics find the
    migration's backends by it in pg_stat_activity. The gates read both back before GO."""
    out = dict(env)
    if run is not None:
        out["PGAPPNAME"] = app_name(run)
    settings = step.pg_settings()
    if settings and not from_role:
        added = pg_options(settings)
        current = env.get("PGOPTIONS", "").strip()
        out["PGOPTIONS"] = f"{current} {added}" if current else added
    return out


def leftover_text(record: ExitRecord) -> str | None:
    """The processes a run left in its process group, as its exit record lists them."""
    left = record.leftover
    if not left:
        return None
    count = int(record.leftover_count or len(left))
    named = procgroup.described([procgroup.Member(int(m["pid"]), str(m["command"]))
                                 for m in left], count)
    how = " then ".join(record.leftover_signalled) or "signalled"
    return (f"left {count} process{'es' if count != 1 else ''} running in its process group "
            f"after its command ended, stopped ({how}): {named}")


class Halt(Protocol):
    def __call__(self, reason: str, by: str = ..., step: str | None = ...,
                 rule: str | None = ..., line: str | None = ...) -> None: ...


RADAR_AFTER_S = 1.0  # a step running longer than this gets the lock radar's watcher


def _sampled(series: Path) -> bool:
    try:
        return series.stat().st_size > 0
    except OSError:
        return False


class StepVerbs:
    def __init__(self, core: SessionCore, halt: Halt) -> None:
        self.core = core
        self.halt = halt  # an abort rule's match halts the session (closeout.py)
        self.retries = Retries(core, self._step_env, halt, self._run_again)

    def _step_env(self, step: CommandStep) -> dict[str, str]:
        return step_env(self.core.env, step,
                        from_role=rules.timeouts_from_role(self.core.runbook))

    def _run_again(self, step_id: str) -> str:
        """A retry's attempt: the operator's confirmation at the step's first start covers
        it (the runbook approved the retry)."""
        return self.run_step(step_id, retrying=True)

    def run_step(self, step_id: str, confirm: str | None = None, retrying: bool = False) -> str:
        """Start a command step under its supervisor; returns the run id."""
        self.core.refuse_if(self.core.refusal_to_run(step_id, retrying))
        step = self.core.item(step_id)
        if not isinstance(step, CommandStep):
            raise ActionRefused(f"'{step_id}' is not a command step")
        previous = self.core.state.steps.get(step_id)
        # a held or paused step goes on from where it stopped: confirmed at its first start
        going_on = previous is not None and previous.status in ("held", "paused")
        if step.confirm is not None and confirm != step.confirm and not (retrying or going_on):
            raise ActionRefused(f"step '{step_id}' changes the database: type "
                                f"'{step.confirm}' to confirm it")
        self._fresh_credentials(f"step '{step_id}' not started")  # its and the radar's
        run = f"{step_id}.{(previous.attempts if previous else 0) + 1}"
        files = RunFiles(self.core.folder / "steps", run)
        from_role = rules.timeouts_from_role(self.core.runbook)
        upgrade = expected_upgrade(step.command, self.core.workdir, self._step_env(step))
        plan = plan_run(step, upgrade[0] if upgrade else None, previous, files) \
            if step.per_revision else None
        if not step.read_only:
            self._restore_point(step_id)
        published = resolve(self.core.publish_root, step.log) if step.log else None
        if published is not None:
            self._displace(step_id, run, published)
        rule_ids = rules.watched_rules(self.core.runbook, step)
        watched = [r for rid in rule_ids if (r := self.core.runbook.abort_rule(rid))]
        # the output's patterns are the supervisor's; the lock queue is the radar's
        abort_rules = [r.model_dump() for r in watched if r.kind == "pattern"]
        write_spec(files, {"step": step_id,
                           "command": plan.command if plan else step.command,
                           "cwd": str(self.core.workdir),
                           "log": str(files.log),
                           "publish": str(published) if published else None,
                           "publish_root": str(self.core.publish_root),
                           "rules": abort_rules, "grace": 5.0,
                           "timeout": duration_seconds(step.timeout) if step.timeout else None,
                           "timeout_text": step.timeout, "timeout_rule": TIMEOUT_RULE,
                           "log_rule": LOG_RULE})
        phase = next(p.id for p in self.core.runbook.phases if step in p.steps)
        self.core.append(records.StepStarted(
            step=step_id, phase=phase, run=run, command=step.command,
            log=files.log.relative_to(self.core.folder).as_posix(),
            published=str(published) if published else None, abort_rules=rule_ids,
            **({} if upgrade is None else {"path": upgrade[0]}),
            **({} if upgrade is None or upgrade[1] is None else {"start": upgrade[1]}),
            **({} if plan is None else {"plan": plan.revisions,
                                        "stop_before": plan.stop_before})))
        try:
            env = step_env(self.core.env, step, run, from_role=from_role)
            self.core.children[run] = launch(files, env, self.core.secrets)
        except OSError as exc:
            void_claim(files, f"the supervisor could not be started: {exc}")
            self.core.append(records.StepNotStarted(
                step=step_id, run=run, detail=f"its supervisor could not be " f"started: {exc}"))
            raise CockpitError(f"step '{step_id}' did not start: {exc}") from None
        return run

    def start_radar_if_due(self) -> None:
        """The lock radar's watcher for the running step: at once when a `lock_queue` rule
        watches it (the runbook asked for the radar's judgement, from the first second);
        otherwise once it has run RADAR_AFTER_S (a shorter step needs no radar, and most
        steps are shorter than a watcher's own start). Once per run — by whichever cockpit
        follows it then, a resumed one too."""
        current = self.core.running()
        if current is None:
            return
        step_id, files = current
        started = self.core.state.steps[step_id].started_at
        step = self.core.item(step_id)
        if (not isinstance(step, CommandStep) or not started or files.radar_spec.exists()
                or files.exit_record() is not None):
            return
        rule_ids = rules.watched_rules(self.core.runbook, step)
        lock_rules = [r for rid in rule_ids if (r := self.core.runbook.abort_rule(rid))
                      and r.kind == "lock_queue"]
        ran = (self.core.clock() - datetime.fromisoformat(started.replace("Z", "+00:00")))
        # a step that may retry names its blocker: the radar looks from its first second
        if not lock_rules and step.retry is None and ran.total_seconds() < RADAR_AFTER_S:
            return
        self._start_radar(step, files, lock_rules)

    def rehearsed(self) -> dict[str, float]:
        """The linked rehearsal's step durations, read once."""
        if self.core.rehearsal_times is None:
            self.core.rehearsal_times = timing.rehearsed_durations(self.core.state)
        return self.core.rehearsal_times

    def note_drift_if_due(self) -> None:
        """Record, once each, the moments the cutover falls behind its rehearsal: the running
        step past twice its rehearsed time, the forecast end past the window's end."""
        current = self.core.running()
        if current is not None and current[1].exit_record() is not None:
            return  # it has ended (its finish not yet recorded): its time is the record's
        rehearsed = self.rehearsed()
        found = timing.forecast(self.core.runbook, self.core.state, rehearsed, self.core.clock()) \
            if rehearsed else None
        if found is None:
            return
        if found.slow and found.running is not None:
            run = self.core.state.steps[found.running].run
            if not any(d.kind == "step_slow" and d.run == run for d in self.core.state.drifts):
                self.core.append(records.DriftNoted(
                    kind="step_slow", step=found.running, run=run,
                    running_s=round(found.running_s or 0.0, 1),
                    rehearsed_s=round(found.rehearsed_s or 0.0, 2)))
        if found.late and not any(d.kind == "forecast_late" for d in self.core.state.drifts):
            assert found.window_end is not None
            self.core.append(records.DriftNoted(
                kind="forecast_late", step=found.running,
                forecast_end=found.end.isoformat().replace("+00:00", "Z"),
                window_end=found.window_end.isoformat().replace("+00:00", "Z")))

    def _start_radar(self, step: CommandStep, files: RunFiles,
                     lock_rules: list[AbortRule]) -> None:
        """The lock radar's watcher, for a step that changes the database and can reach
        it; never a reason for the step not to run (a failure is noted)."""
        var = rules.radar_dsn_var(self.core.runbook)
        if step.read_only or not self.core.env.get(var):
            return
        spec = {"app": app_name(files.run), "dsn_var": var, "interval": 1.0,
                "rules": [{"id": r.id, "label": r.label, "max_waiting": r.max_waiting,
                           "max_wait_s": duration_seconds(r.max_wait) if r.max_wait else None,
                           "samples": r.samples} for r in lock_rules]}
        try:
            self.core.watchers[files.run] = launch_watcher(files, self.core.env,
                                                           self.core.secrets, spec)
        except OSError as exc:
            self.core.append(records.FaultNoted(action=f"lock radar of {files.run}",
                                           error=f"the watcher could not be started: {exc}"))

    def _displace(self, step_id: str, run: str, published: Path) -> None:
        """A file already where the runbook publishes this step's log — another session's
        published copy, or anyone's — moves into this session's `displaced/`, recorded; it
        is never part of this session's evidence, and never renamed beside the original. A
        link there or on the folders on its way refuses the step: nothing is written
        through one."""
        kept = self.core.folder / DISPLACED / run / published.name

        def into() -> Path:
            make_folder(kept.parent, like=self.core.folder)
            return kept

        try:
            moved = move_named(self.core.publish_root, published, into,
                               file_mode(self.core.folder))
        except UnsafePath as exc:
            raise ActionRefused(f"step '{step_id}' publishes its log at {published}: "
                                f"{exc.message}; nothing was started") from None
        if moved is not None:
            self.core.append(records.LogDisplaced(
                step=step_id, run=run, from_=str(published),
                to=kept.relative_to(self.core.folder).as_posix(), sha256=moved[0], bytes=moved[1]))

    def release_hold(self, step_id: str, typed: str, note: str = "") -> None:
        """The operator's go-ahead past a hold point: the revision's id, typed."""
        self.core.refuse_if(self.core.halted_reason())
        current = self.core.state.steps.get(step_id)
        if current is None or current.status != "held" or current.stopped_before is None:
            raise ActionRefused(f"step '{step_id}' is not held")
        self.core.refuse_if(rules.hold_countersign_refusal(self.core.runbook, self.core.state,
                                                           step_id))
        if typed != current.stopped_before:
            raise ActionRefused(f"step '{step_id}' is held before revision "
                                f"{current.stopped_before}: type {current.stopped_before} "
                                "to go on")
        self.core.append(records.HoldReleased(step=step_id, revision=current.stopped_before,
                                              note=note or None))

    def pause_step(self, step_id: str) -> None:
        """Ask the running `per_revision` step to stop after the revision now running."""
        self.core.refuse_if(rules.pause_refusal(self.core.runbook, self.core.state, step_id))
        current = self.core.running()
        assert current is not None
        current[1].pause.write_bytes(b"")
        self.core.append(records.StepPauseAsked(step=step_id, run=current[1].run))

    def cancel_step(self, step_id: str) -> None:
        """Stop a running read-only step the way the supervisor stops any (SIGINT, then
        TERM, then KILL): when its exit record comes, it is recorded cancelled — its log
        kept — and it may be run again. The cutover goes on."""
        self.core.refuse_if(rules.cancel_refusal(self.core.runbook, self.core.state, step_id))
        if self.core.state.steps[step_id].status == "retry_wait":
            self.retries.drop(step_id, "its retry was cancelled by the operator")
            return
        current = self.core.running()
        assert current is not None  # cancel_refusal: it is running
        # the stop first: a cancel is recorded only once its supervisor has it (one verb or
        # poll at a time, so the step's end cannot be recorded in between)
        if not stop_supervisor(current[1]):
            raise ActionRefused(f"step '{step_id}': its supervisor could not be reached (it "
                                "may have just ended); its end is recorded at the next look")
        self.core.append(records.StepCancelAsked(step=step_id, run=current[1].run))

    def watch(self) -> None:
        """The step monitor's look: the running step's life (`poll`), and between steps the
        drift notes — from the first step launched until the session is decided (before
        GO there is no cutover to fall behind)."""
        state = self.core.state
        if self.core.running() is None and (not state.steps or state.ended):
            return
        self.poll()

    def poll(self) -> bool:
        """Record the running step's outcome if its exit record is there; True if it was."""
        for child in self.core.children.values():
            child.poll()  # reap finished supervisors
        current = self.core.running()
        if current is None:
            self.note_drift_if_due()  # between steps too: a forecast past the window
            self.retries.due()  # a lock-timeout retry at its time
            return False
        step_id, files = current
        if self.check_running():
            return True
        record = files.exit_record()
        if record is not None:
            self._finish(step_id, record)
            return True
        self.start_radar_if_due()
        self.note_drift_if_due()
        return False

    def check_running(self) -> bool:
        """The running step, watched from outside its supervisor: a supervisor that ended
        without an exit record is recorded (the step not started if it never claimed the
        run, else interrupted); one past the step's timeout and a grace is stopped with the
        step, and the exit record written in its place (`poll` then records the end, a
        halt). True if the step's end was recorded here."""
        current = self.core.running()
        if current is None or current[1].exit_record() is not None:
            return False
        step_id, files = current
        ours = self.core.children.get(files.run)
        if ours is not None and ours.poll() is not None and files.exit_record() is None:
            self._supervisor_lost(step_id, files, ours.returncode)
            return True
        step = self.core.item(step_id)
        started = self.core.state.steps[step_id].started_at
        if isinstance(step, CommandStep) and step.timeout and started:
            past = overdue.past_deadline(files, started, self.core.clock(),
                                         duration_seconds(step.timeout))
            step_in, why = overdue.grace_over(files, past)
            if step_in:
                overdue.stop_overdue(files, step.timeout, TIMEOUT_RULE, why)
        return False

    def _supervisor_lost(self, step_id: str, files: RunFiles, status: int | None) -> None:
        if void_claim(files, f"its supervisor ended (status {status}) before it claimed the "
                             "run"):
            said = last_line_said(files.err)
            self.core.append(records.StepNotStarted(
                step=step_id, run=files.run,
                detail=f"its supervisor ended (status {status}) before it started the "
                       f"command; nothing ran, so it may be started again"
                       + (f": {said}" if said else f" (see {files.err})")))
            return
        self.core.append(records.StepInterrupted(
            step=step_id, run=files.run,
            detail=f"its supervisor ended (status {status}) without an exit record; see "
                   f"{files.err}"))

    def _finish(self, step_id: str, record: ExitRecord) -> None:
        step = self.core.item(step_id)
        abort = record.abort
        ok = record.exit_code == step.expect_exit and abort is None
        # Asked to stop and stopped by a signal: cancelled — not a pass, whatever the command
        # made of the signal. A run that ended on its own before any signal keeps its
        # outcome, and an abort rule's match stays a failure (and halts).
        cancelled = (self.core.state.steps[step_id].cancel_asked and bool(record.signalled)
                     and abort is None)
        ok = ok and not cancelled
        detail = None if ok else "cancelled by the operator" if cancelled else (
            f"timeout: {abort['line']}" if abort and abort["rule"] == TIMEOUT_RULE
            else f"log unwritable: {abort['line']}" if abort and abort["rule"] == LOG_RULE
            else f"abort rule {abort['rule']}" if abort
            else f"exit status {record.exit_code}, expected {step.expect_exit}")
        left = leftover_text(record)
        if left is not None:  # what it left running fails it, whatever its exit status
            detail, ok = (f"{detail}; {left}" if detail else left), False
        # a retry is decided before the end is recorded: the failure and its retry land
        # together, and nothing reads a failed step that is about to run again
        halting = abort is not None and self.core.state.halt is None
        retry = self.retries.verdict(step, record) \
            if halting and left is None and isinstance(step, CommandStep) else None
        self.core.append(records.StepFinished(
            step=step_id, run=record.run, exit_code=record.exit_code, ok=ok,
            bytes=record.bytes, lines=record.lines, sha256=record.sha256,
            abort=abort, ended_at=record.ended_at, detail=detail,
            last_line=record.last_line, publish_error=record.publish_error,
            **({"cancelled": True} if cancelled else {}),
            **self._radar_kept(RunFiles(self.core.folder / "steps", record.run)),
            **self._revisions_done(step, record, ok)))
        if not halting or self.core.state.halt is not None:
            return
        assert abort is not None
        if retry is not None and retry[0].retry:
            self.retries.schedule(step, record, retry[0].why, retry[1] or [])
            return
        self.halt((f"step {step_id} reached its timeout ({step.timeout})"
                   if abort["rule"] == TIMEOUT_RULE else
                   f"step {step_id}'s log could not be written; its command was stopped"
                   if abort["rule"] == LOG_RULE else
                   f"abort rule '{abort['rule']}' matched in step {step_id}")
                  + (f"; not retried: {retry[0].why}" if retry is not None else "")
                  + (f"; blocked by {who}" if retry is not None
                     and (who := self.retries.blocker(record)) else ""),
                  by="abort_rule", step=step_id, rule=abort["rule"], line=abort["line"])

    def _revisions_done(self, step: Any, record: ExitRecord, ok: bool) -> dict[str, Any]:
        """A `per_revision` run: the revisions it committed, and where it stopped between two
        (a hold by plan, a pause asked) — only a run that ended well stopped there."""
        if not (isinstance(step, CommandStep) and step.per_revision):
            return {}
        found = run_result(RunFiles(self.core.folder / "steps", record.run))
        stop = found.get("stop") if ok else None
        return {"done": [str(r) for r in found.get("done", [])],
                **({"stopped_before": str(found.get("stopped_before")), "stop": stop}
                   if stop in ("hold", "pause") else {})}

    def _radar_kept(self, files: RunFiles, wait_s: float = 3.0) -> dict[str, Any]:
        """The radar's samples of a run, as evidence: once its watcher has seen the exit
        record and stopped (a moment), the series' file, sha256 and number of samples."""
        if not files.radar_spec.exists() or not _sampled(files.radar):
            # a step shorter than the watcher's first sample: nothing seen, none kept — and
            # the watcher stopped, so it writes nothing into the session after this end
            self._stop_watcher(files, wait_s=0.0)
            return {}
        self._stop_watcher(files, wait_s)
        if not files.radar_done.exists() or not files.radar.exists():
            return {}  # a watcher not done (stuck in a connect) keeps a series not evidence
        data = files.radar.read_bytes()
        return {"radar": files.radar.relative_to(self.core.folder).as_posix(),
                "radar_sha256": hashlib.sha256(data).hexdigest(),
                "radar_samples": data.count(b"\n")}

    def _stop_watcher(self, files: RunFiles, wait_s: float) -> None:
        """The run's radar watcher ended: done by itself within `wait_s`, else stopped."""
        deadline = time.monotonic() + wait_s
        while not files.radar_done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher = self.core.watchers.pop(files.run, None)
        if watcher is not None and not files.radar_done.exists():
            # not done in time (a loaded machine, a stuck connect): stopped now, so that it
            # writes nothing into the session after its end is recorded (a decision's
            # inventory would then miss it)
            watcher.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                watcher.wait(5)
        elif watcher is not None:
            watcher.poll()

    def reconcile(self) -> str | None:
        """After a crash: a running step is re-attached, finished from its exit record, or
        marked interrupted — never run again silently. Returns what was done."""
        current = self.core.running()
        if current is None:
            return None
        step_id, files = current
        if files.exit_record() is not None:
            self.poll()
            return "finished"
        if find_supervisor(files) is not None:
            return "reattached"
        if void_claim(files, "resume found no supervisor, no claim and no exit record"):
            self.core.append(records.StepNotStarted(
                step=step_id, run=files.run,
                detail="the cockpit stopped before its supervisor started the command; "
                       "nothing ran, so it may be started again"))
            return "not started"
        if find_supervisor(files) is not None:  # it claimed the run just now
            return "reattached"
        if files.exit_record() is not None:  # ... or claimed, ran and ended meanwhile
            self.poll()
            return "finished"
        self.core.append(records.StepInterrupted(
            step=step_id, run=files.run,
            detail="neither its supervisor nor an exit record survived the cockpit"))
        return "interrupted"

    def resolve_interrupted(self, step_id: str, outcome: str, note: str,
                            probe: dict[str, Any] | None = None) -> None:
        """The operator's recorded decision on an interrupted step, after reconciliation."""
        self.core.refuse_if(self.core.halted_reason())
        current = self.core.state.steps.get(step_id)
        if current is None or current.status != "interrupted":
            raise ActionRefused(f"step '{step_id}' is not interrupted")
        if outcome not in ("passed", "failed") or not note.strip():
            raise ActionRefused("say whether the step 'passed' or 'failed', with a note")
        self.core.append(records.StepResolved(step=step_id, outcome=outcome, note=note,
                                              probe=probe))

    def _restore_point(self, step_id: str) -> None:
        """The server's WAL position and time just before a changing step starts: what a
        point-in-time restore aims before after a halt. Not read (no DSN, no answer): said
        so in the record, and the step starts regardless."""
        var = rules.radar_dsn_var(self.core.runbook)
        if not self.core.env.get(var):
            return
        from cockpit.probes.db import ProbeUnreachable  # SQLAlchemy on demand
        from cockpit.probes.walpoint import wal_position

        try:
            lsn, at = wal_position(self.core.env, var)
        except ProbeUnreachable as exc:
            self.core.append(records.RestorePoint(step=step_id, error=str(exc)))
            return
        self.core.append(records.RestorePoint(step=step_id, lsn=lsn, server_time=at))

    def _fresh_credentials(self, refused: str) -> None:
        """A password fetched now for the connections about to be made (a token read at
        the start may have expired); none: refused, nothing started, as it was."""
        try:
            self.core.refresh_credentials()
        except CredentialFailed as exc:
            raise ActionRefused(f"{refused}: {exc}; fix it, then try again (nothing of it "
                                "ran)") from None

    def evaluate_check(self, step_id: str) -> ProbeResult:
        self.core.refuse_if(self.core.refusal_to_run(step_id))
        step = self.core.item(step_id)
        if not isinstance(step, CheckStep):
            raise ActionRefused(f"'{step_id}' is not a check")
        self._fresh_credentials(f"check '{step_id}' not evaluated")
        result = run_probe(step.probe, self.core.probe_context(), step.expected, step.args)
        self.core.append(records.CheckEvaluated(
            step=step_id, ok=result.ok, expected=step.expected, observed=self.core.observed(result),
            detail=result.detail))
        return result

    def confirm_manual(self, step_id: str, note: str = "", assumed: bool = False) -> None:
        self.core.refuse_if(self.core.refusal_to_run(step_id))
        step = self.core.item(step_id)
        if not isinstance(step, Manual):
            raise ActionRefused(f"'{step_id}' is not a manual confirmation")
        if assumed and self.core.runbook.production:
            raise ActionRefused(f"'{step_id}': a production runbook forbids auto-confirmation")
        self.core.append(records.ManualConfirmed(step=step_id, note=note, assumed=assumed))

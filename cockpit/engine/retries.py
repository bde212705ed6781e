"""A step's governed retry on a lock timeout: decided when its run ends — before any halt is
recorded — from facts read then (the database's revisions against the run's start, the path's
offline SQL for a partial change); made when it falls due by the cockpit that holds the
session, after reading the revisions again; dropped (and the session halted) when the
operator cancels it, the window has closed or the database has moved. The rules are
session/rules/retry.py; this reads the database and records."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from cockpit.engine.core import ActionRefused, SessionCore
from cockpit.engine.perrevision import run_result
from cockpit.errors import CockpitError
from cockpit.runbook.alembic_config import command_config
from cockpit.runbook.model import CommandStep
from cockpit.session import records, rules
from cockpit.session.radarview import holder_text, last_samples
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import ExitRecord

_LOG_TAIL = 1 << 22  # Alembic's "Running upgrade" lines: the last ones are enough


def _stamp(core: SessionCore, seconds: float) -> str:
    return (core.clock() + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


class Retries:
    def __init__(self, core: SessionCore, env_of: Callable[[CommandStep], dict[str, str]],
                 halt: Callable[..., None], launch: Callable[[str], str]) -> None:
        self.core = core
        self.env_of = env_of  # the step's environment (its PGOPTIONS), as its command gets it
        self.halt = halt
        self.launch = launch  # run the step again (a new run), refusals checked for a retry
        self.deferred: set[str] = set()  # the operator is asked whether to cancel: not now

    # ------------------------------------------------------------------ at a run's end

    def verdict(self, step: CommandStep, record: ExitRecord
                ) -> tuple[rules.RetryVerdict, list[str] | None] | None:
        """Whether the run that just ended is tried again (None: the step declares no
        retry), and the revisions read back. The database is read only when the cheap
        conditions hold (its lock-timeout rule alone, budget left)."""
        if step.retry is None:
            return None
        now = self.core.state.steps[step.id]
        cheap = rules.retry_verdict(step, record.abort, now.attempts, [], [], None)
        if not cheap.retry:
            return cheap, None
        start, path = self._run_start(step.id), now.path or []
        if step.per_revision:  # the revisions it committed stay: the failing one's start
            done = run_result(RunFiles(self.core.folder / "steps", record.run)).get("done")
            if done:
                start, path = [str(done[-1])], path[len(done):]
        revisions = self._revisions()
        partial = None
        if revisions is not None and sorted(revisions) == sorted(start or []):
            partial = self._partial(step, record, start or [], path)
        return rules.retry_verdict(step, record.abort, now.attempts, start, revisions,
                                   partial), revisions

    def schedule(self, step: CommandStep, record: ExitRecord, why: str,
                 revisions: list[str]) -> None:
        assert step.retry is not None
        attempt = self.core.state.steps[step.id].attempts + 1
        delay = rules.retry_delay(step.retry, attempt, random.random())
        self.core.append(records.RetryScheduled(
            step=step.id, run=record.run, attempt=attempt, of=step.retry.attempts,
            delay_s=round(delay, 2), due_at=_stamp(self.core, delay), why=why,
            revisions=revisions, blocker=self.blocker(record)))

    def blocker(self, record: ExitRecord) -> str | None:
        """Who held the lock the run waited for, as the radar last saw it."""
        return holder_text(last_samples(RunFiles(self.core.folder / "steps", record.run).radar))

    # ------------------------------------------------------------------ when it falls due

    def due(self) -> None:
        """The monitor's look between runs: a pending retry this cockpit makes, at its time."""
        state = self.core.state
        step_id = rules.retry_waiting(state)
        if step_id is None or state.halt is not None or step_id in self.deferred:
            return
        pending = state.steps[step_id].retry
        if pending is None or not rules.retry_armed(state, pending) \
                or rules.seconds_to_retry(pending, self.core.clock()) > 0:
            return
        self._attempt(step_id)

    def _attempt(self, step_id: str) -> None:
        state = self.core.state
        refusal = rules.refusal_to_run(self.core.runbook, state, step_id, self.core.clock(),
                                       retrying=True)
        if refusal is None:
            refusal = self._moved(step_id)
        if refusal is None:
            try:
                self.launch(step_id)
                return
            except (ActionRefused, CockpitError) as exc:
                refusal = f"it could not be started: {exc.message}"
        pending = state.steps[step_id].retry
        assert pending is not None
        self.drop(step_id, f"attempt {pending.attempt} of {pending.of} not made: {refusal}")

    def drop(self, step_id: str, why: str) -> None:
        """The retry given up: recorded, and the halt the lock timeout called for."""
        failed = self.core.state.steps[step_id]
        abort = failed.abort or {}
        self.core.append(records.RetryDropped(step=step_id, why=why))
        self.halt(f"abort rule '{abort.get('rule')}' matched in step {step_id}; {why}",
                  by="abort_rule", step=step_id, rule=abort.get("rule"),
                  line=abort.get("line"))

    def resume(self, step_id: str) -> None:
        """A resumed cockpit's go-ahead for a retry pending when the last one stopped: the
        revisions read again first (moved: dropped, halted)."""
        state = self.core.state
        current = state.steps.get(step_id)
        if current is None or current.status != "retry_wait" or current.retry is None:
            raise ActionRefused(f"step '{step_id}' has no pending retry")
        if rules.retry_armed(state, current.retry):
            raise ActionRefused(f"step '{step_id}''s retry goes on by itself already")
        moved = self._moved(step_id)
        if moved is not None:
            self.drop(step_id, f"attempt {current.retry.attempt} of {current.retry.of} not "
                               f"made: {moved}")
            return
        self.core.append(records.RetryResumed(step=step_id, attempt=current.retry.attempt,
                                              revisions=self._revisions() or []))

    # ------------------------------------------------------------------ the facts

    def _moved(self, step_id: str) -> str | None:
        """Why the database is no longer verifiably where the failed run started."""
        now = self.core.state.steps[step_id]
        start = [now.committed[-1]] if now.committed and now.of is not None \
            else self._run_start(step_id)
        revisions = self._revisions()
        if start is None or revisions is None:
            return "the database's revision could not be read back"
        if sorted(revisions) != sorted(start):
            return (f"the database moved: it is at {', '.join(revisions) or 'no revision'}, "
                    f"the run started at {', '.join(start) or 'no revision'}")
        return None

    def _run_start(self, step_id: str) -> list[str] | None:
        """The database's revisions the step's last run started from, as its start recorded
        them (None: not read then)."""
        started = [r for r in records.of_kind(self.core.store.events, records.StepStarted)
                   if r.step == step_id]
        return started[-1].start if started else None

    def _revisions(self) -> list[str] | None:
        from cockpit.probes.alembic_probes import current_revisions  # SQLAlchemy on demand

        try:
            return current_revisions(self.core.env)
        except Exception:  # unreachable, or Alembic's or SQLAlchemy's failure: not verifiable
            return None

    def _partial(self, step: CommandStep, record: ExitRecord, start: list[str],
                 path: list[str]) -> str | None:
        from cockpit.probes.retryable import last_revision_run, partial_possible

        log = RunFiles(self.core.folder / "steps", record.run).log
        try:
            with open(log, "rb") as handle:
                size = log.stat().st_size
                handle.seek(max(0, size - _LOG_TAIL))
                failing = last_revision_run(handle.read().decode(errors="replace"))
        except OSError:
            failing = None
        env = self.env_of(step)
        config = command_config(step.command, env)
        return partial_possible(self.core.workdir / config.folder, config.options(), env,
                                start, path, failing)

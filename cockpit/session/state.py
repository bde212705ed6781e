"""The session's state: a pure fold of its events. `session.json` is this, written down, and
can always be rebuilt from `events.jsonl`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from cockpit.session import events as ev
from cockpit.session import records
from cockpit.session.bulk import collector_paused
from cockpit.session.events import Event

GateStatus = Literal["open", "passed", "failed", "confirmed"]  # confirmed: a setup line
StepStatus = Literal["pending", "running", "passed", "failed", "interrupted", "confirmed",
                     "cancelled", "retry_wait", "held", "paused"]


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateState(_State):
    status: GateStatus = "open"
    reference: str | None = None
    expected: Any = None
    observed: Any = None
    detail: str | None = None
    at: str | None = None
    by: str | None = None
    reached: bool = True  # False: its probe could not answer (nothing was found)


class RetryPending(_State):
    attempt: int
    of: int
    due_at: str
    blocker: str | None = None
    # the cockpit (its count of resumes) that will make the attempt: one that stopped during
    # the wait leaves it to the next, which asks first (RetryResumed)
    armed_in: int = 0


class StepState(_State):
    status: StepStatus = "pending"
    run: str | None = None
    attempts: int = 0
    log: str | None = None  # the session's copy, relative to the session folder
    published: str | None = None  # where the runbook's log path put the same bytes
    exit_code: int | None = None
    bytes: int | None = None
    lines: int | None = None
    sha256: str | None = None
    abort: dict[str, Any] | None = None
    last_line: str | None = None
    expected: Any = None
    observed: Any = None
    detail: str | None = None
    note: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    by: str | None = None
    cancel_asked: bool = False  # the operator asked to stop this run (a read-only step)
    path: list[str] | None = None  # an upgrade's expected revisions ([]: not known)
    retry: RetryPending | None = None  # retry_wait: the attempt to come
    # a `per_revision` step: what its runs committed so far, in order, and of how many; where
    # it stands held or paused; the holds the operator let it past; a pause asked of the run
    committed: list[str] = []
    of: int | None = None
    retried_from: str | None = None  # a retried step: its first attempt's start
    stopped_before: str | None = None
    released: list[str] = []
    pause_asked: bool = False


class HaltState(_State):
    reason: str
    by: str  # operator | abort_rule | failure
    step: str | None = None
    rule: str | None = None
    line: str | None = None
    at: str
    actor: str


# What the state keeps of an event: its record, and when (and by whom) it was recorded.
# A session.json written before these were typed holds the same keys, so it still reads.


class Override(records.WorkdirOverridden):
    by: str


class Takeover(records.LockTakenOver):
    at: str
    by: str


class SetAsideTail(records.TornTailSetAside):
    at: str


class Displaced(records.LogDisplaced):
    at: str


class Preserved(records.LogPreserved):
    at: str


class Diagnostics(records.DiagnosticsCaptured):
    at: str


class HaltItemState(_State):
    note: str | None = None
    at: str
    by: str


class Sealed(records.EvidenceSealed):
    at: str
    by: str


class Decision(records.DecisionRecorded):
    at: str
    by: str
    # its event pinned every file (sessions since four eyes): its closing ends with the
    # filled checklist, recorded after the operator's signature
    pinned: bool | None = None
    checklist: str | None = None


class Fault(records.FaultNoted):
    at: str
    by: str


class Drift(records.DriftNoted):
    at: str


class Restore(records.RestorePoint):
    at: str


class Notice(records.NoticeSent):
    """A message's last attempt to one destination, and how many there were."""

    at: str
    attempts: int = 0


class Signature(records.SignatureAttached):
    at: str
    by: str


class SessionState(_State):
    session_id: str = ""
    runbook_path: str = ""
    runbook_id: str = ""
    title: str = ""
    production: bool = False
    runbook_sha256: str = ""
    transcript_sha256: str = ""
    workdir: str = ""
    workdir_override: Override | None = None  # the runbook's directory was replaced
    git_head: str | None = None
    git_dirty: bool | None = None
    rehearsal: records.RehearsalLink | None = None
    environment: str | None = None  # the runbook's environment the session runs in
    environment_values: dict[str, str] | None = None  # a fleet target's, in place of its
    fleet: records.FleetTarget | None = None  # the fleet this session is one target of
    publish_root: str | None = None  # where named logs are published, if not the workdir
    operator: str = ""
    host: str = ""
    started_at: str = ""
    gates: dict[str, GateState] = {}
    setup: dict[str, GateState] = {}
    scripts: dict[str, GateState] = {}
    steps: dict[str, StepState] = {}
    halt: HaltState | None = None
    halt_items: dict[str, HaltItemState] = {}
    diagnostics: list[Diagnostics] = []
    evidence: Sealed | None = None
    decision: Decision | None = None
    displaced: list[Displaced] = []
    preserved_logs: list[Preserved] = []  # sessions older than `displaced` kept these
    takeovers: list[Takeover] = []
    torn_tails: list[SetAsideTail] = []
    faults: list[Fault] = []  # the cockpit's own failures
    drifts: list[Drift] = []  # behind the rehearsal: slow steps, a late forecast
    restore_points: list[Restore] = []  # the WAL before each changing step, in order
    sign_keys: list[records.SigningKeyRef] = []  # the operator's, declared with --sign-key
    signatures: list[Signature] = []  # kept in evidence/signatures/, in attach order
    gates_checked: records.GatesChecked | None = None  # the last check's verdict
    notices: dict[str, Notice] = {}  # "destination message-id" -> its last attempt
    resumes: int = 0
    seq: int = 0
    last_hash: str = ev.GENESIS
    updated_at: str = ""

    @property
    def ended(self) -> bool:
        return self.decision is not None

    @property
    def closed(self) -> bool:
        """Ended, and its closing written: the operator's signature and the filled
        checklist, the last events a cockpit writes at the decision (a session from before
        them closed with its decision)."""
        decision = self.decision
        return decision is not None and (not decision.pinned or decision.checklist is not None)

    def running_step(self) -> str | None:
        return next((sid for sid, s in self.steps.items() if s.status == "running"), None)


@dataclass(frozen=True)
class _Stamp:
    """When, and by whom, an event was recorded: what the state keeps beside its record."""

    at: str
    by: str  # name@host
    name: str
    host: str

    @classmethod
    def of(cls, event: Event) -> _Stamp:
        actor = event.actor
        return cls(event.ts, f"{actor.name}@{actor.host}", actor.name, actor.host)


def apply(state: SessionState, event: Event) -> SessionState:
    """The state after one more event (a new state: the one given is left as it was).
    Unknown event types change nothing but seq."""
    s = state.model_copy(deep=True)
    _take(s, event)
    s.seq, s.last_hash, s.updated_at = event.seq, event.hash, event.ts
    return s


def _take(s: SessionState, event: Event) -> None:
    """Fold one event into `s`, in place (its seq, hash and time are the caller's to set):
    its record, by the fold of its kind."""
    record = records.record_of(event)
    if record is not None and (fold_one := _FOLDS.get(type(record))) is not None:
        fold_one(s, record, _Stamp.of(event))


R = TypeVar("R", bound=records.Record)
_Fold = Callable[[SessionState, Any, _Stamp], None]
_FOLDS: dict[type[records.Record], _Fold] = {}


def _folds(kind: type[R]) -> Callable[[Callable[[SessionState, R, _Stamp], None]],
                                      Callable[[SessionState, R, _Stamp], None]]:
    """Registers the fold of one record kind."""
    def register(fold_one: Callable[[SessionState, R, _Stamp], None],
                 ) -> Callable[[SessionState, R, _Stamp], None]:
        _FOLDS[kind] = fold_one
        return fold_one
    return register


M = TypeVar("M", bound=BaseModel)


def _kept(model: type[M], r: records.Record, **when: str) -> M:
    """The state's copy of a record (every key it was written with) and when it was."""
    return model.model_validate({**r.data(), **when})


@_folds(records.SessionStarted)
def _session_started(s: SessionState, r: records.SessionStarted, t: _Stamp) -> None:
    s.session_id = r.session_id
    s.runbook_path, s.runbook_id, s.title = r.runbook_path, r.runbook_id, r.title
    s.production = r.production
    s.runbook_sha256, s.transcript_sha256 = r.runbook_sha256, r.transcript_sha256
    s.workdir = r.workdir
    s.git_head, s.git_dirty = r.git_head, r.git_dirty
    if r.rehearsal:
        s.rehearsal = r.rehearsal.model_copy()
    s.environment = r.environment
    s.environment_values = dict(r.environment_values) if r.environment_values else None
    s.fleet = r.fleet.model_copy() if r.fleet else None
    s.publish_root = r.publish_root
    s.operator, s.host, s.started_at = t.name, t.host, t.at
    _declare_key(s, r.sign_key)


@_folds(records.WorkdirOverridden)
def _workdir_overridden(s: SessionState, r: records.WorkdirOverridden, t: _Stamp) -> None:
    s.workdir_override = Override(item=r.item, approved=r.approved, used=r.used, by=t.name)


@_folds(records.SessionResumed)
def _session_resumed(s: SessionState, r: records.SessionResumed, t: _Stamp) -> None:
    s.resumes += 1
    _declare_key(s, r.sign_key)


@_folds(records.OperatorChanged)
def _operator_changed(s: SessionState, r: records.OperatorChanged, t: _Stamp) -> None:
    s.operator = r.operator


@_folds(records.LockTakenOver)
def _lock_taken_over(s: SessionState, r: records.LockTakenOver, t: _Stamp) -> None:
    s.takeovers.append(_kept(Takeover, r, at=t.at, by=t.by))


@_folds(records.TornTailSetAside)
def _torn_tail_set_aside(s: SessionState, r: records.TornTailSetAside, t: _Stamp) -> None:
    s.torn_tails.append(_kept(SetAsideTail, r, at=t.at))


@_folds(records.GateAttested)
def _gate_attested(s: SessionState, r: records.GateAttested, t: _Stamp) -> None:
    s.gates[r.gate] = GateState(status="passed", reference=r.reference, at=t.at, by=t.by)


@_folds(records.GateEvaluated)
def _gate_evaluated(s: SessionState, r: records.GateEvaluated, t: _Stamp) -> None:
    s.gates[r.gate] = _evaluated(r, t)


@_folds(records.SetupChecked)
def _setup_checked(s: SessionState, r: records.SetupChecked, t: _Stamp) -> None:
    s.setup[r.item] = _evaluated(r, t)


@_folds(records.ScriptChecked)
def _script_checked(s: SessionState, r: records.ScriptChecked, t: _Stamp) -> None:
    s.scripts[r.path] = _evaluated(r, t)


@_folds(records.SetupConfirmed)
def _setup_confirmed(s: SessionState, r: records.SetupConfirmed, t: _Stamp) -> None:
    note = "assumed (--assume-yes rehearsal)" if r.assumed else r.note
    s.setup[r.item] = GateState(status="confirmed", reference=note or None, at=t.at, by=t.by)


@_folds(records.StepStarted)
def _step_started(s: SessionState, r: records.StepStarted, t: _Stamp) -> None:
    old = s.steps.get(r.step, StepState())
    s.steps[r.step] = StepState(status="running", run=r.run, attempts=old.attempts + 1,
                                log=r.log, published=r.published, started_at=t.at, by=t.by,
                                path=r.path, committed=old.committed,
                                released=old.released,
                                retried_from=(old.retried_from or old.started_at)
                                if old.status == "retry_wait" else None,
                                of=len(old.committed) + len(r.path or []) if r.plan is not None
                                else None)


@_folds(records.StepFinished)
def _step_finished(s: SessionState, r: records.StepFinished, t: _Stamp) -> None:
    step = s.steps[r.step]
    # stopped as the operator asked: cancelled, to be run again
    step.status = "passed" if r.ok else "cancelled" if r.cancelled else "failed"
    step.exit_code, step.bytes, step.lines = r.exit_code, r.bytes, r.lines
    step.sha256, step.abort, step.ended_at = r.sha256, r.abort, r.ended_at
    step.detail, step.last_line = r.detail, r.last_line
    step.committed = [*step.committed, *(r.done or [])]
    step.pause_asked = False
    if r.ok and r.stop in ("hold", "pause"):  # stopped between revisions, by plan or asked
        step.status, step.stopped_before = "held" if r.stop == "hold" else "paused", \
            r.stopped_before


@_folds(records.HoldReleased)
def _hold_released(s: SessionState, r: records.HoldReleased, t: _Stamp) -> None:
    s.steps[r.step].released = [*s.steps[r.step].released, r.revision]


@_folds(records.StepPauseAsked)
def _step_pause_asked(s: SessionState, r: records.StepPauseAsked, t: _Stamp) -> None:
    s.steps[r.step].pause_asked = True


@_folds(records.StepCancelAsked)
def _step_cancel_asked(s: SessionState, r: records.StepCancelAsked, t: _Stamp) -> None:
    s.steps[r.step].cancel_asked = True


@_folds(records.StepInterrupted)
def _step_interrupted(s: SessionState, r: records.StepInterrupted, t: _Stamp) -> None:
    step = s.steps[r.step]
    step.status, step.detail, step.ended_at = "interrupted", r.detail, t.at


@_folds(records.StepNotStarted)
def _step_not_started(s: SessionState, r: records.StepNotStarted, t: _Stamp) -> None:
    # as if never asked: it may be started again
    s.steps[r.step] = StepState(attempts=s.steps[r.step].attempts, detail=r.detail)


@_folds(records.StepResolved)
def _step_resolved(s: SessionState, r: records.StepResolved, t: _Stamp) -> None:
    step = s.steps[r.step]
    step.status = "passed" if r.outcome == "passed" else "failed"
    step.note, step.observed, step.ended_at = r.note, r.probe, t.at


@_folds(records.LogDisplaced)
def _log_displaced(s: SessionState, r: records.LogDisplaced, t: _Stamp) -> None:
    s.displaced.append(_kept(Displaced, r, at=t.at))


@_folds(records.LogPreserved)
def _log_preserved(s: SessionState, r: records.LogPreserved, t: _Stamp) -> None:
    s.preserved_logs.append(_kept(Preserved, r, at=t.at))


@_folds(records.CheckEvaluated)
def _check_evaluated(s: SessionState, r: records.CheckEvaluated, t: _Stamp) -> None:
    s.steps[r.step] = StepState(
        status="passed" if r.ok else "failed", expected=r.expected, observed=r.observed,
        detail=r.detail, ended_at=t.at, by=t.by,
        attempts=s.steps.get(r.step, StepState()).attempts + 1,
    )


@_folds(records.ManualConfirmed)
def _manual_confirmed(s: SessionState, r: records.ManualConfirmed, t: _Stamp) -> None:
    s.steps[r.step] = StepState(status="confirmed", note=r.note, ended_at=t.at, by=t.by)


@_folds(records.RetryScheduled)
def _retry_scheduled(s: SessionState, r: records.RetryScheduled, t: _Stamp) -> None:
    step = s.steps[r.step]
    step.status = "retry_wait"
    step.retry = RetryPending(attempt=r.attempt, of=r.of, due_at=r.due_at,
                              blocker=r.blocker, armed_in=s.resumes)


@_folds(records.RetryResumed)
def _retry_resumed(s: SessionState, r: records.RetryResumed, t: _Stamp) -> None:
    if (pending := s.steps[r.step].retry) is not None:
        pending.armed_in = s.resumes


@_folds(records.RetryDropped)
def _retry_dropped(s: SessionState, r: records.RetryDropped, t: _Stamp) -> None:
    step = s.steps[r.step]
    step.status, step.retry = "failed", None
    step.detail = f"{step.detail}; {r.why}" if step.detail else r.why


@_folds(records.Halted)
def _halted(s: SessionState, r: records.Halted, t: _Stamp) -> None:
    for step in s.steps.values():  # a halt ends any retry's wait: the failure stands
        if step.status == "retry_wait":
            step.status, step.retry = "failed", None
    s.halt = HaltState(reason=r.reason, by=r.by, step=r.step, rule=r.rule, line=r.line,
                       at=t.at, actor=t.by)


@_folds(records.DiagnosticsCaptured)
def _diagnostics_captured(s: SessionState, r: records.DiagnosticsCaptured, t: _Stamp) -> None:
    s.diagnostics.append(_kept(Diagnostics, r, at=t.at))


@_folds(records.HaltItemDone)
def _halt_item_done(s: SessionState, r: records.HaltItemDone, t: _Stamp) -> None:
    s.halt_items[r.item] = HaltItemState(note=r.note, at=t.at, by=t.by)


@_folds(records.EvidenceSealed)
def _evidence_sealed(s: SessionState, r: records.EvidenceSealed, t: _Stamp) -> None:
    s.evidence = _kept(Sealed, r, at=t.at, by=t.by)


@_folds(records.DecisionRecorded)
def _decision_recorded(s: SessionState, r: records.DecisionRecorded, t: _Stamp) -> None:
    # the decision's file inventory stays in its event: verify reads it there
    d = r.data()
    pinned = {"pinned": True} if "files" in d else {}
    s.decision = Decision.model_validate(
        {**{k: v for k, v in d.items() if k != "files"}, "at": t.at, "by": t.by, **pinned})


@_folds(records.FaultNoted)
def _fault_noted(s: SessionState, r: records.FaultNoted, t: _Stamp) -> None:
    s.faults.append(_kept(Fault, r, at=t.at, by=t.by))


@_folds(records.RehearsalMoved)
def _rehearsal_moved(s: SessionState, r: records.RehearsalMoved, t: _Stamp) -> None:
    if s.rehearsal is not None:
        s.rehearsal = s.rehearsal.model_copy(update={"folder": r.folder})


@_folds(records.RehearsalLinked)
def _rehearsal_linked(s: SessionState, r: records.RehearsalLinked, t: _Stamp) -> None:
    s.rehearsal = r.rehearsal.model_copy()


@_folds(records.RestorePoint)
def _restore_point(s: SessionState, r: records.RestorePoint, t: _Stamp) -> None:
    s.restore_points.append(_kept(Restore, r, at=t.at))


@_folds(records.GatesChecked)
def _gates_checked(s: SessionState, r: records.GatesChecked, t: _Stamp) -> None:
    s.gates_checked = r


@_folds(records.NoticeSent)
def _notice_sent(s: SessionState, r: records.NoticeSent, t: _Stamp) -> None:
    key = f"{r.destination} {r.message}"
    before = s.notices.get(key)
    tried = (before.attempts if before else 0) + (r.outcome != "undelivered")
    s.notices[key] = Notice.model_validate({**r.data(), "at": t.at, "attempts": tried})


@_folds(records.DriftNoted)
def _drift_noted(s: SessionState, r: records.DriftNoted, t: _Stamp) -> None:
    s.drifts.append(_kept(Drift, r, at=t.at))


@_folds(records.ChecklistWritten)
def _checklist_written(s: SessionState, r: records.ChecklistWritten, t: _Stamp) -> None:
    if s.decision is not None:
        s.decision = s.decision.model_copy(update={"checklist": r.file})


@_folds(records.SignatureAttached)
def _signature_attached(s: SessionState, r: records.SignatureAttached, t: _Stamp) -> None:
    s.signatures.append(_kept(Signature, r, at=t.at, by=t.by))


def _declare_key(s: SessionState, key: records.SigningKeyRef | None) -> None:
    if key and key not in s.sign_keys:
        s.sign_keys.append(key.model_copy())


def _evaluated(r: records.GateEvaluated | records.SetupChecked | records.ScriptChecked,
               t: _Stamp) -> GateState:
    # a key a kind does not name may still be in its event (kept as an extra): read alike
    return GateState(status="passed" if r.ok else "failed",
                     expected=getattr(r, "expected", None), observed=r.observed,
                     detail=r.detail, at=t.at, by=t.by, reached=getattr(r, "reached", True))


# Checks whose latest result replaces the one before: the part of the state each one sets.
_LATEST = {ev.GATE_EVALUATED: ("gates", "gate"), ev.SETUP_CHECKED: ("setup", "item"),
           ev.SCRIPT_CHECKED: ("scripts", "path")}


_PENDING = GateState()  # replaced by the check's latest result before fold returns


def fold(events: Iterable[Event], base: SessionState | None = None) -> SessionState:
    """The state of a session from its events (or of `base`, left as it was, and the events
    after it): one state, each event folded in (a copy per event would make a long
    session's fold quadratic). A re-evaluated check replaces its last result and nothing
    else reads it, so only its latest evaluation is turned into a record — once, at the
    end, in the order the checks first appeared — rather than a record for each of the
    thousands a long session holds."""
    state = base.model_copy(deep=True) if base is not None else SessionState()
    parts = {"gates": state.gates, "setup": state.setup, "scripts": state.scripts}
    latest: dict[tuple[str, str], Event] = {}
    last: Event | None = None
    with collector_paused():
        for last in events:
            if (where := _LATEST.get(last.type)) is not None:
                part, key = where
                name = records.subject_of(last, key)
                if name not in parts[part]:  # a placeholder keeps the first-seen order
                    parts[part][name] = _PENDING
                latest[part, name] = last
            else:
                if last.type == ev.GATE_ATTESTED:
                    latest.pop(("gates", records.subject_of(last, "gate")), None)
                _take(state, last)
        for event in latest.values():
            _take(state, event)
    if last is not None:  # where the state stands: set once, not per event
        state.seq, state.last_hash, state.updated_at = last.seq, last.hash, last.ts
    return state

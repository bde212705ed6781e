"""The session's state: a pure fold of its events. `session.json` is this, written down, and
can always be rebuilt from `events.jsonl`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cockpit.session import events as ev
from cockpit.session import records
from cockpit.session.bulk import collector_paused
from cockpit.session.events import Event

GateStatus = Literal["open", "passed", "failed", "confirmed"]  # confirmed: a setup line
StepStatus = Literal["pending", "running", "passed", "failed", "interrupted", "confirmed",
                     "cancelled"]


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
    sign_keys: list[records.SigningKeyRef] = []  # the operator's, declared with --sign-key
    signatures: list[Signature] = []  # kept in evidence/signatures/, in attach order
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


def _who(event: Event) -> str:
    return f"{event.actor.name}@{event.actor.host}"


def apply(state: SessionState, event: Event) -> SessionState:
    """The state after one more event (a new state: the one given is left as it was).
    Unknown event types change nothing but seq."""
    s = state.model_copy(deep=True)
    _take(s, event)
    s.seq, s.last_hash, s.updated_at = event.seq, event.hash, event.ts
    return s


def _take(s: SessionState, event: Event) -> None:
    """Fold one event into `s`, in place (its seq, hash and time are the caller's to set)."""
    d = event.data
    at, by = event.ts, _who(event)
    t = event.type
    if t == ev.SESSION_STARTED:
        s.session_id = d["session_id"]
        s.runbook_path, s.runbook_id, s.title = d["runbook_path"], d["runbook_id"], d["title"]
        s.production = d["production"]
        s.runbook_sha256, s.transcript_sha256 = d["runbook_sha256"], d["transcript_sha256"]
        s.workdir = d["workdir"]
        s.git_head, s.git_dirty = d.get("git_head"), d.get("git_dirty")
        if d.get("rehearsal"):
            s.rehearsal = records.RehearsalLink.model_validate(d["rehearsal"])
        s.environment = d.get("environment")
        s.operator, s.host, s.started_at = event.actor.name, event.actor.host, at
        _declare_key(s, d)
    elif t == ev.WORKDIR_OVERRIDDEN:
        s.workdir_override = Override(item=d["item"], approved=d["approved"], used=d["used"],
                                      by=event.actor.name)
    elif t == ev.SESSION_RESUMED:
        s.resumes += 1
        _declare_key(s, d)
    elif t == ev.OPERATOR_CHANGED:
        s.operator = d["operator"]
    elif t == ev.LOCK_TAKEN_OVER:
        s.takeovers.append(Takeover.model_validate({**d, "at": at, "by": by}))
    elif t == ev.TORN_TAIL_SET_ASIDE:
        s.torn_tails.append(SetAsideTail.model_validate({**d, "at": at}))
    elif t == ev.GATE_ATTESTED:
        s.gates[d["gate"]] = GateState(status="passed", reference=d["reference"], at=at, by=by)
    elif t == ev.GATE_EVALUATED:
        s.gates[d["gate"]] = _evaluated(d, at, by)
    elif t == ev.SETUP_CHECKED:
        s.setup[d["item"]] = _evaluated(d, at, by)
    elif t == ev.SCRIPT_CHECKED:
        s.scripts[d["path"]] = _evaluated(d, at, by)
    elif t == ev.SETUP_CONFIRMED:
        note = "assumed (--assume-yes rehearsal)" if d.get("assumed") else d.get("note")
        s.setup[d["item"]] = GateState(status="confirmed", reference=note or None, at=at, by=by)
    elif t == ev.STEP_STARTED:
        old = s.steps.get(d["step"], StepState())
        s.steps[d["step"]] = StepState(status="running", run=d["run"], attempts=old.attempts + 1,
                                       log=d.get("log"), published=d.get("published"),
                                       started_at=at, by=by, path=d.get("path"))
    elif t == ev.STEP_FINISHED:
        step = s.steps[d["step"]]
        # stopped as the operator asked: cancelled, to be run again
        step.status = "passed" if d["ok"] else "cancelled" if d.get("cancelled") else "failed"
        step.exit_code, step.bytes, step.lines = d["exit_code"], d["bytes"], d["lines"]
        step.sha256, step.abort, step.ended_at = d["sha256"], d.get("abort"), d["ended_at"]
        step.detail, step.last_line = d.get("detail"), d.get("last_line")
    elif t == ev.STEP_CANCEL_ASKED:
        s.steps[d["step"]].cancel_asked = True
    elif t == ev.STEP_INTERRUPTED:
        step = s.steps[d["step"]]
        step.status, step.detail, step.ended_at = "interrupted", d.get("detail"), at
    elif t == ev.STEP_NOT_STARTED:  # as if never asked: it may be started again
        old = s.steps[d["step"]]
        s.steps[d["step"]] = StepState(attempts=old.attempts, detail=d.get("detail"))
    elif t == ev.STEP_RESOLVED:
        step = s.steps[d["step"]]
        step.status = "passed" if d["outcome"] == "passed" else "failed"
        step.note, step.observed, step.ended_at = d.get("note"), d.get("probe"), at
    elif t == ev.LOG_DISPLACED:
        s.displaced.append(Displaced.model_validate({**d, "at": at}))
    elif t == ev.LOG_PRESERVED:
        s.preserved_logs.append(Preserved.model_validate({**d, "at": at}))
    elif t == ev.CHECK_EVALUATED:
        s.steps[d["step"]] = StepState(
            status="passed" if d["ok"] else "failed", expected=d.get("expected"),
            observed=d.get("observed"), detail=d.get("detail"), ended_at=at, by=by,
            attempts=s.steps.get(d["step"], StepState()).attempts + 1,
        )
    elif t == ev.MANUAL_CONFIRMED:
        s.steps[d["step"]] = StepState(status="confirmed", note=d.get("note"), ended_at=at, by=by)
    elif t == ev.HALTED:
        s.halt = HaltState(reason=d["reason"], by=d["by"], step=d.get("step"),
                           rule=d.get("rule"), line=d.get("line"), at=at, actor=by)
    elif t == ev.DIAGNOSTICS_CAPTURED:
        s.diagnostics.append(Diagnostics.model_validate({**d, "at": at}))
    elif t == ev.HALT_ITEM_DONE:
        s.halt_items[d["item"]] = HaltItemState(note=d.get("note"), at=at, by=by)
    elif t == ev.EVIDENCE_SEALED:
        s.evidence = Sealed.model_validate({**d, "at": at, "by": by})
    elif t == ev.DECISION_RECORDED:
        # the decision's file inventory stays in its event: verify reads it there
        s.decision = Decision.model_validate(
            {**{k: v for k, v in d.items() if k != "files"}, "at": at, "by": by,
             **({"pinned": True} if "files" in d else {})})
    elif t == ev.FAULT_NOTED:
        s.faults.append(Fault.model_validate({**d, "at": at, "by": by}))
    elif t == ev.REHEARSAL_MOVED and s.rehearsal is not None:
        s.rehearsal = s.rehearsal.model_copy(update={"folder": d["folder"]})
    elif t == ev.REHEARSAL_LINKED:
        s.rehearsal = records.RehearsalLink.model_validate(d["rehearsal"])
    elif t == ev.DRIFT_NOTED:
        s.drifts.append(Drift.model_validate({**d, "at": at}))
    elif t == ev.CHECKLIST_WRITTEN and s.decision is not None:
        s.decision = s.decision.model_copy(update={"checklist": d["file"]})
    elif t == ev.SIGNATURE_ATTACHED:
        s.signatures.append(Signature.model_validate({**d, "at": at, "by": by}))


def _declare_key(s: SessionState, d: dict[str, Any]) -> None:
    if d.get("sign_key"):
        key = records.SigningKeyRef.model_validate(d["sign_key"])
        if key not in s.sign_keys:
            s.sign_keys.append(key)


def _evaluated(d: dict[str, Any], at: str, by: str) -> GateState:
    return GateState(status="passed" if d["ok"] else "failed", expected=d.get("expected"),
                     observed=d.get("observed"), detail=d.get("detail"), at=at, by=by,
                     reached=d.get("reached", True))


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
                name = last.data[key]
                if name not in parts[part]:  # a placeholder keeps the first-seen order
                    parts[part][name] = _PENDING
                latest[part, name] = last
            else:
                if last.type == ev.GATE_ATTESTED:
                    latest.pop(("gates", last.data["gate"]), None)
                _take(state, last)
        for event in latest.values():
            _take(state, event)
    if last is not None:  # where the state stands: set once, not per event
        state.seq, state.last_hash, state.updated_at = last.seq, last.hash, last.ts
    return state

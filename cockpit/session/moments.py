"""The cutover's moments the people who wait are told of — GO, a phase, HALTED and why, the
decision — read from the events alone, so a message that was never delivered can be found
again after any crash. Each has a stable id: the session and the seq of its event."""

from __future__ import annotations

from dataclasses import dataclass, field

from cockpit.runbook.model import Runbook
from cockpit.session import events as ev
from cockpit.session import records
from cockpit.session.events import Event
from cockpit.session.format import clip
from cockpit.session.rules.foureyes import awaiting_countersign
from cockpit.session.rules.order import actionable, phase_complete
from cockpit.session.state import SessionState, apply

# the events after which a phase may have started or finished
_STEP_KINDS = {ev.STEP_STARTED, ev.STEP_FINISHED, ev.CHECK_EVALUATED, ev.MANUAL_CONFIRMED,
               ev.STEP_RESOLVED, ev.STEP_INTERRUPTED, ev.STEP_NOT_STARTED}
TITLE_MAX = 300  # the first line stays one line a phone shows whole


@dataclass(frozen=True)
class Moment:
    """One message's content: `title` is its first line, `lines` what follows, `facts`
    the name/value pairs a card shows."""

    id: str
    seq: int
    kind: str
    title: str
    at: str
    lines: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)


def moments_of(runbook: Runbook, before: SessionState, event: Event,
               after: SessionState) -> list[Moment]:
    """The moments `event` makes, given the state before and after it."""
    found: list[tuple[str, str, list[str], dict[str, str]]] = []
    record = records.record_of(event)
    if isinstance(record, records.GatesChecked):
        found += _gates(before, record)
    elif isinstance(record, records.DriftNoted):
        found.append(_behind(record))
    elif isinstance(record, records.RetryScheduled):
        found.append(("retry", f"RETRY: step {record.step} failed on a lock timeout; attempt "
                      f"{record.attempt} of {record.of} at {record.due_at}",
                      [record.why] + ([f"blocked by {record.blocker}"] if record.blocker
                                      else []), {"step": record.step}))
    elif isinstance(record, records.StepFinished) and record.stop == "hold":
        found.append(_hold(after, record))
    elif isinstance(record, records.Halted):
        found.append(_halted(after, record))
    elif isinstance(record, records.DecisionRecorded):
        found += _decision(runbook, after, record)
    if event.type in _STEP_KINDS:
        found += _phases(runbook, before, after)
    made = []
    for index, (kind, title, lines, facts) in enumerate(found):
        suffix = "" if index == 0 else f".{index}"
        made.append(Moment(id=f"{after.session_id}#{event.seq}{suffix}", seq=event.seq,
                           kind=kind, title=_one_line(title), at=event.ts,
                           lines=[_one_line(line) for line in lines], facts=facts))
    return made


def all_moments(runbook: Runbook, events: list[Event]) -> list[Moment]:
    """Every moment of a session, in order (a resume's look for what is undelivered)."""
    state = SessionState()
    found = []
    for event in events:
        after = apply(state, event)
        found += moments_of(runbook, state, event, after)
        state = after
    return found


def _one_line(text: str) -> str:
    return clip(" ".join(text.split()), TITLE_MAX)


_Found = tuple[str, str, list[str], dict[str, str]]


def _gates(before: SessionState, r: records.GatesChecked) -> list[_Found]:
    last = before.gates_checked
    if last is not None and (last.go, last.open) == (r.go, r.open):
        return []  # the same verdict again: nothing new to tell
    if r.go:
        return [("gates", "GO: every hard gate passed", [], {})]
    return [("gates", f"NO-GO: {len(r.open)} open after a check: {', '.join(r.open)}",
             [], {"open": ", ".join(r.open)})]


def _behind(r: records.DriftNoted) -> _Found:
    if r.kind == "step_slow":
        return ("behind", f"BEHIND: step {r.step} has run {r.running_s:.0f} s, over twice "
                f"its rehearsed {r.rehearsed_s:.0f} s", [], {"step": r.step or ""})
    return ("behind", f"BEHIND: the forecast end {r.forecast_end} is past the maintenance "
            f"window's end {r.window_end}", [], {})


def _hold(after: SessionState, r: records.StepFinished) -> _Found:
    step = after.steps.get(r.step)
    where = f" ({len(step.committed) + 1} of {step.of})" if step and step.of else ""
    return ("hold", f"HOLD: step {r.step} waits before revision {r.stopped_before}{where} "
            "for the operator's go-ahead", [], {"step": r.step})


def _halted(after: SessionState, r: records.Halted) -> _Found:
    """The cause first: what the abort rule matched (the line, or the radar's queue), else
    why it halted; the rest after."""
    where = " ".join(part for part in (f"at step {r.step}" if r.step else "",
                                       f"by rule {r.rule}" if r.rule else "") if part)
    head = f"HALTED{' ' + where if where else ''}: "
    facts = {k: v for k, v in (("step", r.step), ("rule", r.rule), ("by", r.by)) if v}
    if r.line:  # what the abort rule matched, or the failed step's error line
        return ("halted", head + r.line, [r.reason], facts)
    step = after.steps.get(r.step) if r.step else None
    last = step.last_line if step is not None else None
    return ("halted", head + r.reason, [f"its last line: {last}"] if last else [], facts)


def _decision(runbook: Runbook, after: SessionState, r: records.DecisionRecorded,
              ) -> list[_Found]:
    manifest = (r.files or {}).get("evidence/manifest.json") or (
        after.evidence.sha256 if after.evidence else None)
    facts = {k: v for k, v in (("decision record (JSON) sha256", r.json_sha256),
                               ("decision record (Markdown) sha256", r.markdown_sha256),
                               ("manifest sha256", manifest)) if v}
    lines = [f"{name}: {value}" for name, value in facts.items()]
    found = [("decision", f"DECISION: {r.status}", lines, facts)]
    waiting = awaiting_countersign(runbook, after)
    if waiting is not None:
        found.append(("countersign", f"AWAITING COUNTERSIGN: {waiting[0]} of {waiting[1]} "
                      "reviewers' countersignatures attached", [], {}))
    return found


def _phases(runbook: Runbook, before: SessionState, after: SessionState) -> list[_Found]:
    found: list[_Found] = []
    for phase in runbook.phases:
        ids = [s.id for s in actionable(phase)]
        was = any(before.steps.get(i) is not None and before.steps[i].status != "pending"
                  for i in ids)
        now = any(after.steps.get(i) is not None and after.steps[i].status != "pending"
                  for i in ids)
        if now and not was:
            found.append(("phase", f"PHASE {phase.id} started: {phase.heading}", [],
                          {"phase": phase.id}))
        if phase_complete(after, phase) and not phase_complete(before, phase):
            found.append(("phase", f"PHASE {phase.id} finished: {phase.heading}", [],
                          {"phase": phase.id}))
    return found

"""Where a session stands, as lines for a person or as JSON for a program."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cockpit.evidence.report import signature_lines
from cockpit.session import rules
from cockpit.session.inert import inert
from cockpit.session.lock import holder_alive, holder_text, read_lock_info
from cockpit.session.reader import SessionAt


def derived(view: SessionAt) -> dict[str, Any]:
    state, runbook = view.state, view.runbook
    upcoming = rules.next_step(runbook, state)
    lock = read_lock_info(view.folder)
    return {
        "go": not rules.open_gates(runbook, state),
        "open_gates": rules.open_gates(runbook, state),
        "phases": {phase.id: rules.phase_state(runbook, state, phase)
                   for phase in runbook.phases},
        "next_step": upcoming.step.id if upcoming and state.halt is None else None,
        "running_step": state.running_step(),
        "retry": _retry(state, holder_alive(view.folder) is not True),
        "halted": state.halt is not None,
        "ended": state.ended,
        "decision": state.decision.status if state.decision else None,
        "awaiting_countersign": list(waiting) if (
            waiting := rules.awaiting_countersign(runbook, state)) else None,
        "lock": lock,
        "lock_stale": holder_alive(view.folder) is False,
        "torn_tail_bytes": len(view.torn.data) if view.torn else 0,
        "read_from": view.source,
    }


def _retry(state: Any, stopped: bool) -> dict[str, Any] | None:
    """The step waiting to run again, and what the wait says now."""
    step_id = rules.retry_waiting(state)
    pending = state.steps[step_id].retry if step_id else None
    if pending is None:
        return None
    return {"step": step_id, "attempt": pending.attempt, "of": pending.of,
            "due_at": pending.due_at, "armed": rules.retry_armed(state, pending) and not stopped,
            "text": rules.retry_text(state, pending, datetime.now(UTC), stopped)}


def status_json(view: SessionAt) -> str:
    return json.dumps({"state": view.state.model_dump(), "derived": derived(view)}, indent=2)


def _step_lines(state: Any, d: dict[str, Any]) -> list[str]:
    """The steps: running or next, a retry's wait, a stop between revisions, what a
    revision at a time has committed, an interruption."""
    lines = []
    if d["running_step"]:
        lines.append(f"running   {d['running_step']}")
    elif d["next_step"] and not state.ended:
        lines.append(f"next      {d['next_step']}")
    if d["retry"]:
        lines.append(f"RETRY     {d['retry']['step']}: {d['retry']['text']}")
    for sid, step in state.steps.items():  # stopped between revisions, for a person
        if step.status in ("held", "paused") and step.stopped_before:
            word = "HELD  " if step.status == "held" else "PAUSED"
            lines.append(f"{word}    {sid} before revision {rules.stopped_where(step)}")
    lines += [f"revisions {text}" for text in rules.committed_lines(state)]
    lines += [f"INTERRUPTED {sid}: {step.detail}" for sid, step in state.steps.items()
              if step.status == "interrupted"]
    return lines


def status_lines(view: SessionAt) -> list[str]:
    state, d = view.state, derived(view)
    lines = [
        f"session   {state.session_id}  ({view.folder})",
        f"runbook   {state.title} [{state.runbook_id}]" + ("  PRODUCTION" if state.production
                                                             else "")
        + (f"  environment {state.environment}" if state.environment else ""),
        f"operator  {state.operator}@{state.host}, started {state.started_at}"
        + (f", resumed {state.resumes}×" if state.resumes else ""),
        "gates     GO" if d["go"] else f"gates     NO-GO ({len(d['open_gates'])} open: "
        f"{', '.join(d['open_gates'])})",
    ]
    for item in rules.setup_confirmations(view.runbook):  # confirmed by hand: who and when
        if (s := state.setup.get(item.id)) is not None and s.status == "confirmed":
            lines.append(inert(f"setup     {item.id} confirmed by {s.by} at {s.at}"
                               + (f": {s.reference}" if s.reference else "")))
    if state.rehearsal is not None:  # json: the state's own `rehearsal`
        lines.insert(3, f"rehearsal {state.rehearsal.session_id} ({state.rehearsal.folder}), "
                        f"last hash {state.rehearsal.last_hash[:16]}")
    for drift in state.drifts:
        lines.append(f"DRIFT     {drift.kind} at {drift.at}" + (
            f": {drift.step} ran {drift.running_s} s, rehearsed {drift.rehearsed_s} s"
            if drift.kind == "step_slow" else
            f": forecast end {drift.forecast_end}, window ends {drift.window_end}"))
    lines += [f"phase {pid:<4}{status}" for pid, status in d["phases"].items()]
    lines += _step_lines(state, d)
    if state.halt is not None:
        lines.append(f"HALTED    by {state.halt.by} at {state.halt.at}: {state.halt.reason}")
        if (target := rules.restore_target(state)) is not None:
            lines.append(f"restore   {target}")
        lines += [f"leaves    {text}" for text in rules.halt_leaves_lines(view.runbook, state)]
    if state.decision is not None:
        lines.append(f"decision  {state.decision.status} ({state.decision.at})")
    if (untold := rules.undelivered_text(state)) is not None:
        lines.append(inert(f"NOTIFY    {untold}"))
    lines += [f"signature {line}" for line in signature_lines(view.runbook, state)]
    holder = holder_text(d["lock"]) if d["lock"] else "free"
    if d["lock_stale"]:
        holder += " — STALE: that cockpit is gone; `cockpit resume --take-over` takes it"
    lines.append(f"lock      {holder}")
    lines.append(f"events    {state.seq}" + (f"; torn last line ({d['torn_tail_bytes']} bytes, "
                                              "ignored)" if d["torn_tail_bytes"] else "")
                 + f" (read from {view.source}; the whole chain: cockpit verify)")
    return [inert(line) for line in lines]  # a halt's reason or a detail may quote output

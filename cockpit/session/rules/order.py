"""The phases' order: which step is next, whether it may run now (invariants 1 and 2), whether
a running step may be cancelled, and when a phase or the whole cutover is complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.runbook.model import AbortWatch, CheckStep, CommandStep, Manual, Phase, Runbook
from cockpit.session.rules.gates import open_gates
from cockpit.session.rules.window import current_window, window_refusal
from cockpit.session.state import SessionState, StepState

Actionable = CommandStep | CheckStep | Manual


def actionable(phase: Phase) -> list[Actionable]:
    return [s for s in phase.steps if isinstance(s, CommandStep | CheckStep | Manual)]


def step_done(state: SessionState, step_id: str) -> bool:
    s = state.steps.get(step_id)
    return s is not None and s.status in ("passed", "confirmed")


def phase_complete(state: SessionState, phase: Phase) -> bool:
    return all(step_done(state, s.id) for s in actionable(phase))


def all_phases_complete(runbook: Runbook, state: SessionState) -> bool:
    return all(phase_complete(state, p) for p in runbook.phases)


def phase_state(runbook: Runbook, state: SessionState, phase: Phase) -> str:
    """One word for a phase, the same in `status`, the report and the screens: complete,
    running, stopped (a step failed or was interrupted), halted (the session halted before
    it completed), in progress (a cancelled step among them), locked (gates open) or
    ready."""
    steps = [state.steps.get(s.id) for s in actionable(phase)]
    if phase_complete(state, phase):
        return "complete"
    if any(s is not None and s.status == "running" for s in steps):
        return "running"
    if any(s is not None and s.status == "retry_wait" for s in steps):
        return "retrying"
    for word in ("held", "paused"):
        if state.halt is None and any(s is not None and s.status == word for s in steps):
            return word
    if any(s is not None and s.status in ("failed", "interrupted") for s in steps):
        return "stopped"
    if state.halt is not None:
        return "halted"
    if any(s is not None and s.status != "pending" for s in steps):
        return "in progress"
    return "locked" if open_gates(runbook, state) else "ready"


@dataclass(frozen=True)
class NextStep:
    phase: Phase
    step: Actionable


def next_step(runbook: Runbook, state: SessionState) -> NextStep | None:
    """The one step that may run next: phases in order, steps in order."""
    for phase in runbook.phases:
        for step in actionable(phase):
            if not step_done(state, step.id):
                return NextStep(phase, step)
    return None


def refusal_to_run(runbook: Runbook, state: SessionState, step_id: str,
                   now: datetime, retrying: bool = False) -> str | None:
    """Why `step_id` may not be acted on at `now`, or None if it may (invariants 1 and 2).
    A step waiting to retry is run again by the engine alone (`retrying`), at its time."""
    if state.halt is not None:
        return (f"the session is halted ({state.halt.reason}); no further step may run — "
                "follow the halt-and-contain protocol")
    if state.ended:
        return "the session has ended (decision recorded)"
    blocking = open_gates(runbook, state)
    if blocking:
        return f"gates are open: {', '.join(blocking)}"
    running = state.running_step()
    if running is not None:
        return f"step '{running}' is still running"
    upcoming = next_step(runbook, state)
    if upcoming is None:
        return "every phase is complete"
    if upcoming.step.id != step_id:
        return (f"out of order: the next step is '{upcoming.step.id}' "
                f"in phase {upcoming.phase.id}")
    if isinstance(upcoming.step, CommandStep):
        closed = window_refusal(current_window(runbook, state), now)
        if closed is not None:
            return closed
    current = state.steps.get(step_id)
    step = upcoming.step
    if current is not None and current.status == "held" \
            and current.stopped_before not in current.released:
        return (f"step '{step_id}' is HELD before revision {current.stopped_before}: it goes "
                f"on only on the operator's typed go-ahead (r, then {current.stopped_before})")
    if current is not None and current.status == "retry_wait" and not retrying:
        return (f"step '{step_id}' waits for its lock-timeout retry (it runs again by itself, "
                "or, left by a cockpit that stopped, on r and RETRY); cancel it (c) or halt (x)")
    if (current is not None and current.status in ("failed", "interrupted")
            and isinstance(step, CommandStep) and not step.rerunnable):
        return (f"step '{step_id}' is {current.status} and not idempotent: it may not be "
                "run again; record a decision after a reconciliation probe, or halt")
    return None


def pause_refusal(runbook: Runbook, state: SessionState, step_id: str) -> str | None:
    """Why the running step may not be asked to stop after its current revision: only a
    `per_revision` step stops between revisions, and once."""
    if state.halt is not None or state.ended:
        return "the session is halted or ended"
    if state.running_step() != step_id:
        return f"step '{step_id}' is not running"
    step = next((s for phase in runbook.phases for s in phase.steps if s.id == step_id), None)
    if not (isinstance(step, CommandStep) and step.per_revision):
        return f"step '{step_id}' does not run one revision at a time: it cannot pause"
    if state.steps[step_id].pause_asked:
        return f"step '{step_id}' pauses after the revision now running already"
    return None


def committed_text(state: SessionState, step_id: str) -> str | None:
    """What a `per_revision` step has left committed: "committed through revision 2 of 5
    (r2)", or that none is; None for a step that does not run a revision at a time."""
    s = state.steps.get(step_id)
    if s is None or s.of is None:
        return None
    if not s.committed:
        return f"step {step_id}: no revision committed (0 of {s.of})"
    return (f"step {step_id}: committed through revision {len(s.committed)} of {s.of} "
            f"({s.committed[-1]})")


def stopped_where(s: StepState) -> str:
    """Where a held or paused `per_revision` step stands: "r3 (3 of 5)"."""
    return f"{s.stopped_before} ({len(s.committed) + 1} of {s.of})"


def standstill_text(state: SessionState) -> str | None:
    """A `per_revision` step stopped between revisions, or about to: "HELD before r3 (3 of
    5)", "PAUSED before r2 (2 of 5)", "PAUSING after the revision running" — the header's
    and the mirror's word for it (None: none is)."""
    if state.halt is not None:
        return None  # halted: nothing goes on from there
    for s in state.steps.values():
        if s.status in ("held", "paused") and s.stopped_before:
            word = "HELD" if s.status == "held" else "PAUSED"
            return f"{word} before {stopped_where(s)}"
        if s.status == "running" and s.pause_asked:
            return "PAUSING after the revision running"
    return None


def halt_leaves_lines(runbook: Runbook, state: SessionState) -> list[str]:
    """What the runbook says a halt part way through each `per_revision` step that ran
    leaves behind (its `halt_leaves`)."""
    steps = {s.id: s for phase in runbook.phases for s in phase.steps
             if isinstance(s, CommandStep)}
    return [f"step {sid}: the runbook says a halt part way leaves: {steps[sid].halt_leaves}"
            for sid, s in state.steps.items()
            if s.of is not None and sid in steps and steps[sid].halt_leaves]


def committed_lines(state: SessionState) -> list[str]:
    """`committed_text` of every step that ran a revision at a time, in the order they ran."""
    return [text for sid in state.steps if (text := committed_text(state, sid)) is not None]


def cancel_refusal(runbook: Runbook, state: SessionState, step_id: str) -> str | None:
    """Why the running step `step_id` may not be cancelled, or None. Only a read-only step:
    one that changes the database is stopped by halt-and-contain, never quietly."""
    if state.halt is not None or state.ended:
        return "the session is halted or ended: its running step is stopped by the halt"
    if state.steps.get(step_id) is not None and state.steps[step_id].status == "retry_wait":
        return None  # cancelling a pending retry ends the wait; the failure then halts
    if state.running_step() != step_id:
        return f"step '{step_id}' is not running"
    step = next((s for phase in runbook.phases for s in phase.steps if s.id == step_id), None)
    if not (isinstance(step, CommandStep) and step.read_only):
        return (f"step '{step_id}' changes the database: it is stopped only by "
                "halt-and-contain (x)")
    if state.steps[step_id].cancel_asked:
        return f"step '{step_id}' is being cancelled already"
    return None


def watched_rules(runbook: Runbook, step: CommandStep) -> list[str]:
    """The abort rules that watch a command: its own and its phase's `abort_watch` items."""
    rules = list(step.abort_rules)
    for phase in runbook.phases:
        if step in phase.steps:
            for item in phase.steps:
                if isinstance(item, AbortWatch):
                    rules += [r for r in item.rules if r not in rules]
    return rules

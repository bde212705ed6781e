"""A checklist line's state, as the filled checklist, the report and the screens show it."""

from __future__ import annotations

from cockpit.runbook.model import (
    AnyItem,
    AttestationFileGate,
    AttestationGate,
    CheckStep,
    CommandStep,
    EnvVar,
    HaltItem,
    Manual,
    ProbeGate,
    Runbook,
    SetupScript,
    WorkingDirectory,
)
from cockpit.session.rules.gates import (
    open_gates,
    setup_checks,
    setup_confirmations,
    setup_confirmed,
)
from cockpit.session.rules.order import phase_complete, step_done
from cockpit.session.state import SessionState


def item_done(runbook: Runbook, state: SessionState, item: AnyItem) -> bool:
    """Whether a checklist line is ticked in the filled checklist."""
    checked = _checked_item_done(runbook, state, item)
    if checked is not None:
        return checked
    for phase in runbook.phases:  # statements and abort watches hold when their phase did
        if item in phase.steps:  # (a later halt does not undo a phase that completed)
            return phase_complete(state, phase)
    if isinstance(item, HaltItem):  # the halt protocol's and the rollback plan's
        return item.id in state.halt_items
    return _section_line_done(runbook, state, item)


def _checked_item_done(runbook: Runbook, state: SessionState, item: AnyItem) -> bool | None:
    """A line the session records a check or a step of (None: not such a line)."""
    if isinstance(item, AttestationGate | AttestationFileGate | ProbeGate):
        return (s := state.gates.get(item.id)) is not None and s.status == "passed"
    if isinstance(item, WorkingDirectory | EnvVar):
        return (s := state.setup.get(item.id)) is not None and s.status == "passed"
    if isinstance(item, SetupScript):
        return all(item_done(runbook, state, c) for c in setup_checks(runbook))
    if isinstance(item, Manual) and item in setup_confirmations(runbook):
        return setup_confirmed(state, item.id)
    if isinstance(item, CommandStep | CheckStep | Manual):
        return step_done(state, item.id)
    return None


def _section_line_done(runbook: Runbook, state: SessionState, item: AnyItem) -> bool:
    """A plain line of the boundary, gates, evidence or decision section: ticked when its
    section's work is."""
    if runbook.boundary and item in runbook.boundary.items:
        return bool(state.started_at)
    if runbook.gates and item in runbook.gates.items:  # "Abort if any unchecked."
        return not open_gates(runbook, state)
    if runbook.evidence and item in runbook.evidence.items:
        present = set(state.evidence.present if state.evidence else [])
        return getattr(item, "name", None) in present
    if runbook.decision and item in runbook.decision.items:
        return state.decision is not None
    return False


def not_checked(observed: object) -> bool:
    """A check's answer that says it did not look (`not checked (no rehearsal linked)`): it
    lets the run go on, but claims nothing."""
    return isinstance(observed, str) and observed.startswith("not checked")


def item_status(runbook: Runbook, state: SessionState, item: AnyItem) -> str:
    """What the checklist shows for an item: open, running, passed, not checked, failed,
    confirmed, interrupted, cancelled (a read-only step, to be run again), or halted (skipped by the
    halt)."""
    step = state.steps.get(item.id)
    if step is not None and step.status != "pending":
        return "not checked" if step.status == "passed" and not_checked(step.observed) \
            else step.status
    gate = state.gates.get(item.id) or state.setup.get(item.id)
    if gate is not None and gate.status != "open":
        return gate.status
    if item_done(runbook, state, item):
        return "confirmed" if isinstance(item, Manual) else "passed"
    in_phase = any(item in phase.steps for phase in runbook.phases)
    if state.halt is not None and in_phase and item.kind != "code":
        return "halted"
    return "open"

"""After the phases or a halt: the halt-and-contain protocol's open items, sealing the
evidence and recording the decision."""

from __future__ import annotations

from cockpit.runbook.model import HaltItem, Runbook
from cockpit.session.rules.order import all_phases_complete
from cockpit.session.state import SessionState


def open_protocol_items(runbook: Runbook, state: SessionState) -> list[HaltItem]:
    """The halt protocol's and the rollback plan's items not yet done."""
    return [item for item in runbook.protocol_items() if item.id not in state.halt_items]


def open_protocol_item(runbook: Runbook, state: SessionState) -> HaltItem | None:
    """The next halt-protocol item the operator must complete with a reference."""
    for item in runbook.protocol_items():  # the halt protocol, then the rollback plan
        if item.action in ("escalate", "manual") and item.id not in state.halt_items:
            return item
    return None


def may_seal(runbook: Runbook, state: SessionState) -> bool:
    """The evidence is sealed once the phases are complete or the session halted, with no
    step running, and before the decision."""
    return (not state.ended and state.running_step() is None
            and (state.halt is not None or all_phases_complete(runbook, state)))


def may_decide(state: SessionState) -> bool:
    """The decision is recorded on sealed evidence, with no step running, once."""
    return not state.ended and state.running_step() is None and state.evidence is not None


def restore_target(state: SessionState) -> str | None:
    """Where a point-in-time restore aims before: the WAL position read just before the
    first changing step started (nothing of the cutover's changes before it)."""
    first = next((r for r in state.restore_points if r.lsn), None)
    if first is None:
        failed = next((r for r in state.restore_points if r.error), None)
        return (f"restore target not recorded (before step {failed.step}: {failed.error})"
                if failed else None)
    return (f"restore target: before {first.server_time} (LSN {first.lsn}), read before step "
            f"{first.step}")

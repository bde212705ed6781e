"""The final decision record (the checklist's section J): what may be recorded, auto-filled
from what the session knows, and written as JSON and as Markdown in the checklist's format.

It fails closed: PASS only when every gate is green, every phase completed, every check
passed, nothing halted and the evidence pack is complete; BLOCKER needs the errors and a
root-cause classification.
"""

from __future__ import annotations

from typing import Any

from cockpit.engine import rules
from cockpit.runbook.model import CheckStep, DecisionField, Runbook
from cockpit.session.state import SessionState

PASS, BLOCKER = "PASS", "BLOCKER"


def decision_fields(runbook: Runbook) -> list[DecisionField]:
    items = runbook.decision.items if runbook.decision else []
    return [i for i in items if isinstance(i, DecisionField)]


def status_field(runbook: Runbook) -> DecisionField | None:
    """The field whose allowed values hold PASS and BLOCKER."""
    return next((f for f in decision_fields(runbook) if {PASS, BLOCKER} <= set(f.allowed)), None)


def session_errors(runbook: Runbook, state: SessionState) -> list[str]:
    errors: list[str] = []
    if state.halt is not None:
        errors.append(f"halted by {state.halt.by}: {state.halt.reason}")
    for step_id, step in state.steps.items():
        if step.status == "failed":
            if step.abort:
                errors.append(f"{step_id}: abort rule {step.abort['rule']}: {step.abort['line']}")
            elif step.exit_code is not None:
                last = f" — last output: {step.last_line}" if step.last_line else ""
                errors.append(f"{step_id}: exited {step.exit_code}{last}")
            else:
                errors.append(f"{step_id}: expected {step.expected!r}, observed "
                              f"{step.observed!r}" + (f" ({step.detail})" if step.detail else ""))
        elif step.status == "interrupted":
            errors.append(f"{step_id}: interrupted ({step.detail or 'cockpit died'})")
    return errors


def _last_observed(runbook: Runbook, state: SessionState, probe: str) -> Any:
    value = None
    for phase in runbook.phases:
        for step in phase.steps:
            if isinstance(step, CheckStep) and step.probe == probe:
                recorded = state.steps.get(step.id)
                if recorded is not None and recorded.observed is not None:
                    value = recorded.observed
    return value


def defaults(runbook: Runbook, state: SessionState) -> dict[str, str]:
    """What the session itself can say for each well-known field."""
    errors = session_errors(runbook, state)
    current = _last_observed(runbook, state, "alembic.current_equals")
    heads = _last_observed(runbook, state, "alembic.single_head")
    drift = _last_observed(runbook, state, "db.structural_parity")
    earned = (state.halt is None and not errors and rules.all_phases_complete(runbook, state)
              and bool(state.evidence and state.evidence.get("complete")))
    status = BLOCKER if state.halt is not None or errors else (PASS if earned else "")
    known = {
        "status": status,
        "final_revision": str(current) if current is not None else "",
        "heads_state": (f"single head {heads}" if isinstance(heads, str) else
                        str(heads) if heads is not None else ""),
        "errors": "; ".join(errors) if errors else "none",
        "drift_detected": _drift_words(drift) if drift is not None else (
            "none" if not errors else ""),
        "root_cause": _root_cause(state),
    }
    return {f.id: known.get(f.id, "") for f in decision_fields(runbook)}


def _drift_words(observed: Any) -> str:
    """The parity probe's finding, in words."""
    if not isinstance(observed, dict):
        return str(observed)
    drift, naming = observed.get("drift") or [], observed.get("naming_only") or []
    if not drift and not naming:
        return "none"
    parts = [f"drift: {'; '.join(drift)}"] if drift else []
    parts += [f"naming-only (accepted): {', '.join(naming)}"] if naming else []
    return " | ".join(parts)


def _root_cause(state: SessionState) -> str:
    if state.halt is None:
        return ""
    if state.halt.rule:
        return f"migration error: matched abort rule '{state.halt.rule}'"
    if state.halt.by == "failure":
        if state.halt.step is None:
            return f"go/no-go gate failed: {state.halt.reason}"
        return f"failed step or check: {state.halt.step}"
    return ""  # an operator's halt: only the operator can classify it


def refusal(runbook: Runbook, state: SessionState, values: dict[str, str]) -> str | None:
    """Why this decision may not be recorded, or None."""
    if state.decision is not None:
        return "a decision is already recorded for this session"
    field = status_field(runbook)
    status = values.get(field.id, "") if field else values.get("status", "")
    if field is not None and status not in field.allowed:
        return f"status must be one of {', '.join(field.allowed)}; got {status!r}"
    if status == PASS:
        if state.halt is not None:
            return "PASS is impossible: the session was halted"
        if state.running_step():
            return "PASS is impossible: a step is still running"
        opened = rules.open_gates(runbook, state)
        if opened:
            return f"PASS is impossible: gates open ({', '.join(opened)})"
        if not rules.all_phases_complete(runbook, state):
            upcoming = rules.next_step(runbook, state)
            return f"PASS is impossible: step '{upcoming.step.id if upcoming else '?'}' is not done"
        if state.evidence is None:
            return "PASS is impossible: the evidence pack is not sealed"
        if not state.evidence.get("complete"):
            missing = state.evidence.get("missing", []) + state.evidence.get("mismatched", [])
            return f"PASS is impossible: evidence incomplete ({', '.join(missing)})"
    elif status == BLOCKER:
        if not values.get("errors", "").strip() or values.get("errors") == "none":
            return "BLOCKER needs the errors that caused it"
        if not values.get("root_cause", "").strip():
            return "BLOCKER needs a root-cause classification"
    return None


def render_decision(runbook: Runbook, values: dict[str, str]) -> str:
    """Section J as the checklist writes it, each field ticked and filled in."""
    heading = runbook.decision.heading if runbook.decision else "Final Decision Record"
    lines = [f"## {heading}"]
    for field in decision_fields(runbook):
        value = values.get(field.id, "")
        lines.append(f"- [x] {field.label}: {value}" if value else f"- [ ] {field.label}:")
    return "\n".join(lines) + "\n"

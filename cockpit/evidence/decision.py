"""The final decision record (the checklist's section J): what may be recorded, auto-filled
from what the session knows, and written as JSON and as Markdown in the checklist's format.

Fields are known by their role (status, errors, root cause, ...), never by their id. It
fails closed: PASS only when every gate is green, every phase completed, every check
passed, nothing halted and the evidence pack is complete; BLOCKER needs the errors and a
root-cause classification.
"""

from __future__ import annotations

from typing import Any

# `X as X`: BLOCKER and PASS are re-exported, the engine takes a decision's verdicts from here.
from cockpit.runbook.model import BLOCKER as BLOCKER
from cockpit.runbook.model import (
    IMPLICIT_FIELD_PREFIX,
    CheckStep,
    DecisionField,
    DecisionRole,
    Runbook,
)
from cockpit.runbook.model import PASS as PASS
from cockpit.session import rules
from cockpit.session.inert import inert
from cockpit.session.state import SessionState

# Roles every record must hold, so that any session can be decided; where the runbook gives
# no field that role, the cockpit adds one (recorded, shown after the runbook's own fields).
CORE_ROLES: dict[DecisionRole, str] = {
    "status": "Status", "errors": "Errors", "root_cause": "Root-cause classification"}
# What a field filled from a check says when that check never ran: never `none`, which would
# claim a look nobody took.
NOT_CHECKED = "not checked"


def decision_fields(runbook: Runbook) -> list[DecisionField]:
    """The fields a decision records: the runbook's, then the cockpit's for a missing core
    role (a checklist without a status line can still record PASS or BLOCKER)."""
    items = runbook.decision.items if runbook.decision else []
    fields = [i for i in items if isinstance(i, DecisionField)]
    given = {f.role for f in fields}
    fields += [DecisionField(kind="field", id=f"{IMPLICIT_FIELD_PREFIX}{role}",
                             label=f"{label} (cockpit)", role=role,
                             allowed=[PASS, BLOCKER] if role == "status" else [])
               for role, label in CORE_ROLES.items() if role not in given]
    return fields


def field_for(runbook: Runbook, role: DecisionRole) -> DecisionField | None:
    return next((f for f in decision_fields(runbook) if f.role == role), None)


def status_field(runbook: Runbook) -> DecisionField:
    field = field_for(runbook, "status")
    assert field is not None  # decision_fields adds one where the runbook has none
    return field


def value_of(runbook: Runbook, values: dict[str, str], role: DecisionRole) -> str:
    field = field_for(runbook, role)
    return values.get(field.id, "") if field is not None else ""


def session_errors(runbook: Runbook, state: SessionState) -> list[str]:
    """What went wrong, as the decision's errors say it: text a person reads and signs, so
    the output it quotes (an abort's line, a last line) is inert."""
    errors: list[str] = []
    if state.halt is not None:
        errors.append(f"halted by {state.halt.by}: {state.halt.reason}")
    for step_id, step in state.steps.items():
        if step.status == "failed":
            if step.abort:
                errors.append(f"{step_id}: abort rule {step.abort['rule']}: {step.abort['line']}")
            elif step.exit_code is not None:
                halt = state.halt
                last = (f" — {halt.line}" if halt is not None and halt.step == step_id
                        and halt.rule is None and halt.line else
                        f" — last output: {step.last_line}" if step.last_line else "")
                errors.append(f"{step_id}: exited {step.exit_code}{last}")
            else:
                errors.append(f"{step_id}: expected {step.expected!r}, observed "
                              f"{step.observed!r}" + (f" ({step.detail})" if step.detail else ""))
        elif step.status == "interrupted":
            errors.append(f"{step_id}: interrupted ({step.detail or 'cockpit died'})")
    return [inert(error) for error in errors]


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
    """What the session itself can say for each field with a role."""
    errors = session_errors(runbook, state)
    at_halt = _revisions_at_halt(state)
    current = _last_observed(runbook, state, "alembic.current_equals")
    heads = _last_observed(runbook, state, "alembic.single_head")
    if state.halt is not None:  # the halt's own look at the database is the latest word
        current = _one_or_list(at_halt.get("current"), current)
        heads = _one_or_list(at_halt.get("heads"), heads)
    drift = _last_observed(runbook, state, "db.structural_parity")
    watched = bool(state.steps) or state.halt is not None  # the session saw steps run, or halted
    earned = (state.halt is None and not errors and rules.all_phases_complete(runbook, state)
              and bool(state.evidence and state.evidence.complete))
    status = BLOCKER if state.halt is not None or errors else (PASS if earned else "")
    known: dict[str, str] = {
        "status": status,
        "final_revision": str(current) if current is not None else NOT_CHECKED,
        "heads_state": (f"single head {heads}" if isinstance(heads, str) else
                        str(heads) if heads is not None else NOT_CHECKED),
        "errors": "; ".join(errors) if errors else ("none" if watched else NOT_CHECKED),
        "drift": _drift_words(drift) if drift is not None else NOT_CHECKED,
        "root_cause": _root_cause(state),
        # who signs: the identity of the key declared last (--sign-key), else the operator
        "operator": state.sign_keys[-1].identity if state.sign_keys else state.operator,
    }
    return {f.id: known.get(f.role or "", "") for f in decision_fields(runbook)}


def _revisions_at_halt(state: SessionState) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for captured in state.diagnostics:
        found.update(captured.revisions or {})
    return found


def _one_or_list(found: list[str] | None, otherwise: Any) -> Any:
    if found is None:
        return otherwise
    return found[0] if len(found) == 1 else (found or "(none)")


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
    status = values.get(field.id, "")
    if status not in (PASS, BLOCKER):
        return f"{field.label} must be {PASS} or {BLOCKER}; got {status!r}"
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
        if not state.evidence.complete:
            missing = state.evidence.missing + state.evidence.mismatched
            return f"PASS is impossible: evidence incomplete ({', '.join(missing)})"
        if empty := missing_required(runbook, values):
            return ("PASS needs the required fields filled: "
                    f"{', '.join(f.label for f in empty)}")
    else:  # decision_fields gives every record an errors and a root-cause field
        errors, cause = field_for(runbook, "errors"), field_for(runbook, "root_cause")
        assert errors is not None and cause is not None
        if value_of(runbook, values, "errors").strip() in ("", "none", NOT_CHECKED):
            return f"BLOCKER needs the errors that caused it ({errors.label})"
        if not value_of(runbook, values, "root_cause").strip():
            return f"BLOCKER needs a root-cause classification ({cause.label})"
    return None


def missing_required(runbook: Runbook, values: dict[str, str]) -> list[DecisionField]:
    """The fields the runbook requires for a PASS (its sign-off) that are still empty."""
    return [f for f in decision_fields(runbook)
            if f.required and not values.get(f.id, "").strip()]


def render_decision(runbook: Runbook, values: dict[str, str]) -> str:
    """Section J as the checklist writes it, each field ticked and filled in; the fields the
    cockpit added follow the runbook's own."""
    heading = runbook.decision.heading if runbook.decision else "Final Decision Record"
    lines = [f"## {heading}"]
    for field in decision_fields(runbook):
        value = values.get(field.id, "")
        lines.append(f"- [x] {field.label}: {value}" if value else f"- [ ] {field.label}:")
    return inert("\n".join(lines) + "\n")  # a value may quote a step's output

"""What a decision field means, read from its label: the importer gives each field its role
this way, and `validate` notes a field that reads like one but has none."""

from __future__ import annotations

from cockpit.runbook.model import BLOCKER, PASS, DecisionRole

_ROLE_WORDS: list[tuple[DecisionRole, tuple[str, ...]]] = [
    ("root_cause", ("root-cause", "root cause")),
    ("final_revision", ("final revision", "revision")),
    ("heads_state", ("heads",)),
    ("errors", ("error",)),
    ("drift", ("drift",)),
    ("risk_tier", ("risk",)),
    ("authorization", ("authoriz", "authoris")),
    ("reviewer", ("reviewer", "countersign")),
    ("operator", ("operator",)),
    ("status", ("status", "result", "outcome", "decision")),
]


def role_for_label(label: str, allowed: list[str]) -> DecisionRole | None:
    """What a field means, from its label: the engine knows fields by role, not by id. A
    status field must offer PASS and BLOCKER; otherwise the cockpit adds its own."""
    words = label.lower()
    role = next((r for r, keys in _ROLE_WORDS if any(k in words for k in keys)), None)
    if role == "status" and not {PASS, BLOCKER} <= set(allowed):
        return None
    if role != "status" and {PASS, BLOCKER} <= set(allowed):
        return "status"  # "Outcome: PASS / BLOCKER" and the like
    return role

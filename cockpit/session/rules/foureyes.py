"""Four eyes: the countersignature gates, who counts as a reviewer (never the operator, one
per person), and whether a recorded decision still waits for them."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.runbook.model import CommandStep, ProbeGate, Runbook
from cockpit.session.rules.gates import COUNTERSIGN_PROBE, gates
from cockpit.session.state import SessionState


def countersign_gates(runbook: Runbook) -> list[ProbeGate]:
    return [g for g in gates(runbook) if isinstance(g, ProbeGate)
            and g.probe == COUNTERSIGN_PROBE]


def countersign_count(gate: ProbeGate) -> int:
    """How many reviewers a countersignature gate asks for (validate refuses < 1)."""
    count = gate.args.get("count", 1)
    return max(count, 1) if isinstance(count, int) else 1


def open_countersign_gates(runbook: Runbook, state: SessionState) -> list[ProbeGate]:
    return [g for g in countersign_gates(runbook)
            if (s := state.gates.get(g.id)) is None or s.status != "passed"]


@dataclass(frozen=True)
class Signer:
    """Who made a signature: its key, and every identity known for it (the one it claims,
    and under `verify --allowed-signers` the principals that file gives its key)."""

    fingerprint: str
    identities: frozenset[str]


def self_approval(operators: list[Signer], reviewer: Signer) -> str | None:
    """The one choke point of "no self-approval": a reviewer sharing a key or an identity
    with the operator is not a second pair of eyes. None: four eyes."""
    for operator in operators:
        if operator.fingerprint and operator.fingerprint == reviewer.fingerprint:
            return f"key {reviewer.fingerprint} is the operator's own signing key"
        shared = {i.strip().lower() for i in operator.identities} & {
            i.strip().lower() for i in reviewer.identities}
        if shared:
            return f"identity {sorted(shared)[0]} is the operator's"
    return None


def operator_signers(state: SessionState) -> list[Signer]:
    """The operator: the keys declared with --sign-key and any that signed as operator,
    and the operator's name (a key whose identity is that name is the operator's too)."""
    found = [Signer(k.fingerprint, frozenset({k.identity} - {""})) for k in state.sign_keys]
    found += [Signer(s.fingerprint, frozenset({s.identity} - {""}))
              for s in state.signatures if s.role == "operator"]
    if state.operator:
        found.append(Signer("", frozenset({state.operator})))
    return found


def same_person(a: Signer, b: Signer) -> bool:
    return a.fingerprint == b.fingerprint or bool(
        {i.strip().lower() for i in a.identities} & {i.strip().lower() for i in b.identities})


def countersigned_already(state: SessionState, kind: str, reviewer: Signer,
                          subject: str | None = None) -> str | None:
    """Who, of the reviewers counted for `kind`, `reviewer` already is (by key or name)."""
    for counted in countersigners(state, kind, subject):
        if same_person(counted, reviewer):
            return next(iter(sorted(counted.identities)), counted.fingerprint)
    return None


def countersign_refusal(state: SessionState, kind: str, reviewer: Signer,
                        subject: str | None = None) -> str | None:
    """Why `reviewer` may not countersign this session's `kind` now — asked by `countersign`
    before it signs and by the attach before it keeps the file: a transcript after GO, the
    operator (no self-approval), or a reviewer already counted."""
    if kind == "transcript" and (state.steps or state.ended):
        return ("the transcript is countersigned before GO; this session is past it (steps "
                "have run)")
    if not state.sign_keys and not operator_signed(state):
        return ("the operator declared no signing key (--sign-key), so a countersignature "
                "cannot be told from the operator's own: four eyes are two known keys")
    if (why := self_approval(operator_signers(state), reviewer)) is not None:
        return (f"refused as self-approval: {why}; a countersignature is a second person's, "
                "with their own key")
    if (who := countersigned_already(state, kind, reviewer, subject)) is not None:
        return f"{who} has already countersigned the {kind}"
    return None


def countersigners(state: SessionState, kind: str, subject: str | None = None
                   ) -> list[Signer]:
    """The reviewers who count for `kind` (a hold's: of `subject`, that hold): one per
    person (a second key, or the same name, is the same reviewer), none of them the
    operator."""
    operators = operator_signers(state)
    counted: list[Signer] = []
    for sig in state.signatures:
        signer = Signer(sig.fingerprint, frozenset({sig.identity} - {""}))
        if (sig.role == "reviewer" and sig.kind == kind and sig.subject == subject
                and not any(same_person(c, signer) for c in counted)
                and self_approval(operators, signer) is None):
            counted.append(signer)
    return counted


def countersignatures_required(runbook: Runbook) -> int:
    return runbook.decision.countersignatures if runbook.decision else 0


def asks_four_eyes(runbook: Runbook) -> bool:
    """Whether the runbook wants countersignatures: then the operator must sign with a key
    (four eyes are two known people, and the operator is known by theirs)."""
    return countersignatures_required(runbook) > 0 or bool(countersign_gates(runbook)) \
        or any(step.hold_countersign for phase in runbook.phases for step in phase.steps
               if isinstance(step, CommandStep))


def hold_subject(state: SessionState, step_id: str) -> str | None:
    """The hold a held step stands at, as its countersignature names it."""
    s = state.steps.get(step_id)
    if s is None or s.status != "held" or not s.stopped_before:
        return None
    return f"{step_id}:{s.stopped_before}:{s.run}"


def hold_countersign_refusal(runbook: Runbook, state: SessionState, step_id: str
                             ) -> str | None:
    """Why a hold may not be gone past yet: the runbook asks a reviewer's countersignature
    of it, and none is attached."""
    step = next((s for phase in runbook.phases for s in phase.steps if s.id == step_id), None)
    subject = hold_subject(state, step_id)
    if not (isinstance(step, CommandStep) and step.hold_countersign) or subject is None:
        return None
    if countersigners(state, "hold", subject):
        return None
    return ("the runbook asks a reviewer's countersignature of this hold: the reviewer runs "
            "`cockpit countersign SESSION --hold`, and the file is attached (k, or `cockpit "
            "attach-signature`)")


def awaiting_countersign(runbook: Runbook, state: SessionState) -> tuple[int, int] | None:
    """(countersignatures attached, required) while a recorded decision waits for them."""
    need = countersignatures_required(runbook)
    if state.decision is None or not need:
        return None
    have = len(countersigners(state, "decision"))
    return (have, need) if have < need else None


def operator_signed(state: SessionState) -> bool:
    return any(s.role == "operator" and s.kind == "decision" for s in state.signatures)

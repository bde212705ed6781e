"""`verify`'s look at the signatures: each kept signature checks against the statement the
chain gives for it and against the key it names; with an allowed_signers file, its key is
someone's there (identity, namespace, validity when it was attached); and no reviewer is
the operator (`rules.self_approval`, the one choke point). Reports who signed what."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.evidence import signing
from cockpit.runbook.model import Runbook
from cockpit.session import events as ev
from cockpit.session import records, rules
from cockpit.session.events import Event
from cockpit.session.state import SessionState


@dataclass
class FourEyes:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)  # who signed what, one line each


def check_signatures(folder: Path, events: Sequence[Event], state: SessionState,
                     runbook: Runbook | None, allowed: Path | None) -> FourEyes:
    out = FourEyes()
    operators: list[rules.Signer] = []
    reviewers: list[tuple[rules.Signer, str, str]] = []  # signer, kind, where
    past_go = False  # a step has started, or the decision is recorded
    held: dict[str, str] = {}  # step -> the run that stopped at its hold
    released: list[str] = []  # the holds gone past, by their subject
    for event in events:
        past_go = past_go or event.type in (ev.STEP_STARTED, ev.DECISION_RECORDED)
        if (f := records.typed(event, records.StepFinished)) is not None and f.stop == "hold":
            held[f.step] = f.run
        if (h := records.typed(event, records.HoldReleased)) is not None:
            released.append(f"{h.step}:{h.revision}:{held.get(h.step)}")
        if (d := records.typed(event, records.SignatureAttached)) is None:
            continue
        where = f"{d.file} ({d.role}, {d.kind})"
        if d.kind == "transcript" and past_go:
            out.problems.append(f"{where}: attached after GO; a countersignature of the "
                                "transcript is given before it")
        signer = _check_one(folder, events, event, allowed, where, out)
        if signer is None:
            continue
        if d.role == "operator":
            operators.append(signer)
        else:
            reviewers.append((signer, f"hold {d.subject}" if d.kind == "hold" else d.kind,
                              where))
        verb = "signed" if d.role == "operator" else "countersigned"
        status = f" ({state.decision.status})" if d.kind == "decision" and state.decision \
            else ""
        out.signed.append(f"{d.role} {', '.join(sorted(signer.identities)) or '?'} "
                          f"({signer.fingerprint}) {verb} the {d.kind}{status}")
    operators += rules.operator_signers(state)  # the keys declared with --sign-key too
    counted = _count_reviewers(operators, reviewers, out)
    _check_counts(state, runbook, counted, out)
    _check_holds(runbook, released, counted, out)
    if out.signed and allowed is None:
        out.notes.append("identities not checked against an allowed_signers file (keys "
                         "only): give --allowed-signers FILE")
    return out


def _count_reviewers(operators: list[rules.Signer],
                     reviewers: Sequence[tuple[rules.Signer, str, str]],
                     out: FourEyes) -> dict[str, list[rules.Signer]]:
    """Each kind's reviewers who count as four eyes: none who is the operator, each person
    once."""
    counted: dict[str, list[rules.Signer]] = defaultdict(list)
    for reviewer, kind, where in reviewers:
        why = rules.self_approval(operators, reviewer)
        if why is not None:
            out.problems.append(f"{where}: not four eyes: {why}")
        elif any(rules.same_person(c, reviewer) for c in counted[kind]):
            out.notes.append(f"{where}: the same reviewer again; counted once")
        else:
            counted[kind].append(reviewer)
    return counted


def _check_holds(runbook: Runbook | None, released: Sequence[str],
                 counted: Mapping[str, Sequence[rules.Signer]], out: FourEyes) -> None:
    """Every hold the runbook asks countersigned, gone past with a reviewer's file."""
    asked = {step.id for phase in (runbook.phases if runbook else [])
             for step in phase.steps if getattr(step, "hold_countersign", False)}
    for subject in released:
        if subject.split(":", 1)[0] in asked and not counted.get(f"hold {subject}"):
            out.problems.append(f"hold {subject}: gone past without a reviewer's "
                                "countersignature, which the runbook asks")


def _check_counts(state: SessionState, runbook: Runbook | None,
                  counted: Mapping[str, Sequence[rules.Signer]], out: FourEyes) -> None:
    """The decision signed by its operator, and as many reviewers counted as the runbook
    asks for: of the transcript for a passed governance gate, of the decision."""
    need = rules.countersignatures_required(runbook) if runbook is not None else 0
    if state.decision is not None and state.decision.pinned \
            and not any(s.role == "operator" for s in state.signatures):  # since four eyes
        (out.problems if need else out.notes).append(
            "the decision is unsigned: no operator signature")
    gate_need = _gate_need(state, runbook)
    if len(counted["transcript"]) < gate_need:
        out.problems.append(f"the governance gate passed on {gate_need} countersignature(s) "
                            f"of the transcript; {len(counted['transcript'])} reviewer(s) "
                            "count as four eyes here")
    if state.decision is not None and len(counted["decision"]) < need:
        out.notes.append(f"AWAITING COUNTERSIGN: {len(counted['decision'])} of {need} "
                         "countersignature(s) of the decision")


def _gate_need(state: SessionState, runbook: Runbook | None) -> int:
    """The most countersignatures of the transcript a passed governance gate asked for."""
    if runbook is None:
        return 0
    return max((rules.countersign_count(g) for g in rules.countersign_gates(runbook)
                if (s := state.gates.get(g.id)) is not None and s.status == "passed"),
               default=0)


def _check_one(folder: Path, events: Sequence[Event], event: Event, allowed: Path | None,
               where: str, out: FourEyes) -> rules.Signer | None:
    if (d := records.typed(event, records.SignatureAttached)) is None:
        return None
    try:
        doc = signing.read_signature((folder / d.file).read_bytes(), d.file)
    except (OSError, CockpitError):
        return None  # missing or changed: the file check has named it
    recorded = (d.role, d.kind, d.fingerprint, d.identity, d.statement_sha256)
    if (doc.role, doc.kind, doc.fingerprint, doc.identity,
            signing.statement_sha256(doc.statement)) != recorded:
        out.problems.append(f"{where}: the file says {doc.role} {doc.identity} "
                            f"({doc.fingerprint}) signed the {doc.kind}; its event records "
                            "otherwise")
        return None
    try:  # the file names the key its event records (above): made by that key
        _statement, made_by = signing.check_against(doc, events)
    except CockpitError as exc:
        out.problems.append(f"{where}: {exc.message}")
        return None
    data = signing.file_signed_bytes(doc)
    identities = {d.identity} - {""}
    if allowed is not None:
        found = signing.principals_for(doc.signature, data, allowed, event.ts)
        if not found:
            out.problems.append(f"{where}: key {made_by} is not in {allowed} for namespace "
                                f"{signing.NAMESPACE} (or was not valid at {event.ts})")
            return None
        identities = set(found)
        if d.identity and d.identity not in found:
            out.notes.append(f"{where}: says it is {d.identity}; {allowed} knows the key as "
                             f"{', '.join(found)}")
    return rules.Signer(made_by, frozenset(identities))

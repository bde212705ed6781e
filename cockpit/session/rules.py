"""The cutover's rules as pure questions about a runbook and a session state.

The controller asks them before every verb; the TUI and the report ask them to show what
is allowed and what is done. Nothing here writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.runbook.model import (
    AbortWatch,
    AnyItem,
    AttestationFileGate,
    AttestationGate,
    CheckStep,
    CommandStep,
    EnvVar,
    HaltItem,
    Manual,
    Phase,
    ProbeGate,
    Runbook,
    SetupScript,
    WorkingDirectory,
)
from cockpit.runbook.validate import unlisted_scripts
from cockpit.session.state import SessionState

GateItem = AttestationGate | AttestationFileGate | ProbeGate
SetupCheck = WorkingDirectory | EnvVar
Actionable = CommandStep | CheckStep | Manual


def gates(runbook: Runbook) -> list[GateItem]:
    items = runbook.gates.items if runbook.gates else []
    return [i for i in items if isinstance(i, AttestationGate | AttestationFileGate | ProbeGate)]


def setup_checks(runbook: Runbook) -> list[SetupCheck]:
    items = runbook.setup.items if runbook.setup else []
    return [i for i in items if isinstance(i, WorkingDirectory | EnvVar)]


def setup_confirmations(runbook: Runbook) -> list[Manual]:
    """The setup lines the operator confirms by hand (a line the importer could not type,
    such as a DSN line it did not understand): each one is required before GO."""
    items = runbook.setup.items if runbook.setup else []
    return [i for i in items if isinstance(i, Manual)]


def setup_confirmed(state: SessionState, item_id: str) -> bool:
    return (s := state.setup.get(item_id)) is not None and s.status == "confirmed"


def unconfirmed_setup(runbook: Runbook, state: SessionState) -> list[Manual]:
    return [i for i in setup_confirmations(runbook) if not setup_confirmed(state, i.id)]


def open_gates(runbook: Runbook, state: SessionState) -> list[str]:
    """Everything that must be green before any phase step may run, by name."""
    out = [f"gate {g.id}" for g in gates(runbook)
           if (s := state.gates.get(g.id)) is None or s.status != "passed"]
    out += [f"setup {c.id}" for c in setup_checks(runbook)
            if (s := state.setup.get(c.id)) is None or s.status != "passed"]
    out += [f"setup {m.id} (unconfirmed)" for m in unconfirmed_setup(runbook, state)]
    out += [f"script {path}" for path in pinned_scripts(runbook)
            if (s := state.scripts.get(path)) is None or s.status != "passed"]
    return out


@dataclass(frozen=True)
class FailedCheck:
    name: str  # "gate single-head", "setup dsn", "script tools/x.py"
    key: str  # the gate's or setup item's id, or the script's path
    detail: str
    # A finding about the change itself (a probe that answered no, a script changed since
    # approval): the cutover cannot go on. Otherwise the operator can fix the cause before
    # anything has run — a setup item (DSN, password, TLS, working directory), an
    # attestation or its file, a probe that could not answer (its database unreachable,
    # its environment wrong) — and check again.
    finding: bool
    automated: bool  # a probe or a setup check (not an attestation, not a script pin)


def failed_checks(runbook: Runbook, state: SessionState) -> list[FailedCheck]:
    """Every gate, setup item and script pin whose last check failed, in the runbook's
    order."""
    out: list[FailedCheck] = []
    for gate in gates(runbook):
        if (s := state.gates.get(gate.id)) is not None and s.status == "failed":
            # awaiting a reviewer's countersignature is like awaiting an attestation
            probe = isinstance(gate, ProbeGate) and gate.probe != COUNTERSIGN_PROBE
            out.append(FailedCheck(f"gate {gate.id}", gate.id, s.detail or "",
                                   probe and s.reached, probe))
    for check in setup_checks(runbook):
        if (s := state.setup.get(check.id)) is not None and s.status == "failed":
            out.append(FailedCheck(f"setup {check.id}", check.id, s.detail or "", False, True))
    for path in pinned_scripts(runbook):
        if (s := state.scripts.get(path)) is not None and s.status == "failed":
            # a pinned script that is there and differs is a finding; a missing or unpinned
            # one is the runbook's or the folder's to mend
            finding = s.expected is not None and s.observed is not None
            out.append(FailedCheck(f"script {path}", path, s.detail or "", finding, False))
    return out


def pinned_scripts(runbook: Runbook) -> list[str]:
    """The scripts whose sha256 must match before a phase runs: those `[[scripts]]` lists and,
    in a production runbook, any other a command runs (unlisted, it can never match)."""
    listed = [script.path for script in runbook.scripts]
    if not runbook.production:
        return listed
    return listed + [path for _place, _step, path in unlisted_scripts(runbook)]


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
                   now: datetime) -> str | None:
    """Why `step_id` may not be acted on at `now`, or None if it may (invariants 1 and 2)."""
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
    if (current is not None and current.status in ("failed", "interrupted")
            and isinstance(step, CommandStep) and not step.rerunnable):
        return (f"step '{step_id}' is {current.status} and not idempotent: it may not be "
                "run again; record a decision after a reconciliation probe, or halt")
    return None


def item_done(runbook: Runbook, state: SessionState, item: AnyItem) -> bool:
    """Whether a checklist line is ticked in the filled checklist."""
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
    for phase in runbook.phases:  # statements and abort watches hold when their phase did
        if item in phase.steps:  # (a later halt does not undo a phase that completed)
            return phase_complete(state, phase)
    if isinstance(item, HaltItem):  # the halt protocol's and the rollback plan's
        return item.id in state.halt_items
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


def watched_rules(runbook: Runbook, step: CommandStep) -> list[str]:
    """The abort rules that watch a command: its own and its phase's `abort_watch` items."""
    rules = list(step.abort_rules)
    for phase in runbook.phases:
        if step in phase.steps:
            for item in phase.steps:
                if isinstance(item, AbortWatch):
                    rules += [r for r in item.rules if r not in rules]
    return rules


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


_UNTIL_RELATIVE = re.compile(r"until\s*\+\s*(\d+)\s*(h|m|min)\b", re.I)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})")


def is_window_gate(gate: GateItem) -> bool:
    return "maintenance window" in f"{gate.id.replace('-', ' ')} {gate.text}".lower()


def attested_window(reference: str, at: str | None) -> Window | None:
    """(start, end) of the window an attestation names: one ISO time with a zone is its end,
    two or more give its start and end ("... 2026-11-28T20:00Z to 2026-11-28T22:00Z"), and
    "until +2h" ends two hours after the moment it was attested. None if it names no end."""
    stamps = sorted(datetime.fromisoformat(m.replace("Z", "+00:00").replace(" ", "T"))
                    for m in _ISO.findall(reference))
    if stamps:
        return (stamps[0] if len(stamps) > 1 else None), stamps[-1]
    relative = _UNTIL_RELATIVE.search(reference)
    if relative and at:
        amount = int(relative[1]) * (60 if relative[2].lower() == "h" else 1)
        return None, datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(
            minutes=amount)
    return None


Window = tuple[datetime | None, datetime]  # (start if named, end)


def window_state(window: Window | None, now: datetime) -> str | None:
    """"before", "open" or "closed" at `now`; None when no window was named."""
    if window is None:
        return None
    start, end = window
    if now >= end:
        return "closed"
    return "before" if start is not None and now < start else "open"


def window_refusal(window: Window | None, now: datetime) -> str | None:
    """Why no command may start now, by the attested maintenance window (None: it may)."""
    state = window_state(window, now)
    if window is None or state == "open":
        return None
    start, end = window
    if state == "closed":
        return (f"the attested maintenance window closed at {end:%Y-%m-%d %H:%M %Z}: no "
                "command may start outside it — halt-and-contain (x), or record the decision")
    return (f"the attested maintenance window opens at {start:%Y-%m-%d %H:%M %Z}: no "
            "command may start before it")


def attestation_refusal(gate: GateItem, reference: str, now: datetime) -> str | None:
    """A maintenance window already over when it is attested is a typo, not a window."""
    if not is_window_gate(gate):
        return None
    window = attested_window(reference, now.isoformat())
    if window is not None and window_state(window, now) == "closed":
        return (f"gate '{gate.id}': the window in this reference ended at "
                f"{window[1]:%Y-%m-%d %H:%M %Z}; check the date")
    return None


def current_window(runbook: Runbook, state: SessionState) -> Window | None:
    for gate in gates(runbook):
        recorded = state.gates.get(gate.id)
        if is_window_gate(gate) and recorded is not None and recorded.reference:
            return attested_window(recorded.reference, recorded.at)
    return None


def maintenance_window_end(runbook: Runbook, state: SessionState) -> datetime | None:
    """When the maintenance window closes, if its attestation says so."""
    window = current_window(runbook, state)
    return window[1] if window else None


REHEARSAL_PROBE = "rehearsal.pass"


def asks_operator(state: SessionState, gate: ProbeGate) -> bool:
    """Whether the operator types this probe gate's value: the runbook leaves it out and
    nothing else answers it — a `rehearsal.pass` gate is answered by the linked rehearsal."""
    if gate.probe == REHEARSAL_PROBE and state.rehearsal is not None:
        return False
    return gate.asks_operator()


def rehearsal_proved(runbook: Runbook, state: SessionState) -> bool:
    """Whether the linked rehearsal proved this cutover: its gate passed on its proof."""
    return state.rehearsal is not None and any(
        isinstance(g, ProbeGate) and g.probe == REHEARSAL_PROBE
        and (s := state.gates.get(g.id)) is not None and s.status == "passed"
        and isinstance(s.observed, dict) and s.observed.get("proved") is True
        for g in gates(runbook))


def attestable_gates(runbook: Runbook, state: SessionState) -> list[GateItem]:
    """Open gates an operator answers: attestations, and probe gates whose value they give."""
    return [g for g in gates(runbook)
            if (isinstance(g, AttestationGate) or (isinstance(g, ProbeGate)
                                                   and asks_operator(state, g)))
            and not ((s := state.gates.get(g.id)) and s.status == "passed")]


def open_protocol_items(runbook: Runbook, state: SessionState) -> list[HaltItem]:
    """The halt protocol's and the rollback plan's items not yet done."""
    return [item for item in runbook.protocol_items() if item.id not in state.halt_items]


def open_protocol_item(runbook: Runbook, state: SessionState) -> HaltItem | None:
    """The next halt-protocol item the operator must complete with a reference."""
    for item in runbook.protocol_items():  # the halt protocol, then the rollback plan
        if item.action in ("escalate", "manual") and item.id not in state.halt_items:
            return item
    return None


def cancel_refusal(runbook: Runbook, state: SessionState, step_id: str) -> str | None:
    """Why the running step `step_id` may not be cancelled, or None. Only a read-only step:
    one that changes the database is stopped by halt-and-contain, never quietly."""
    if state.halt is not None or state.ended:
        return "the session is halted or ended: its running step is stopped by the halt"
    if state.running_step() != step_id:
        return f"step '{step_id}' is not running"
    step = next((s for phase in runbook.phases for s in phase.steps if s.id == step_id), None)
    if not (isinstance(step, CommandStep) and step.read_only):
        return (f"step '{step_id}' changes the database: it is stopped only by "
                "halt-and-contain (x)")
    if state.steps[step_id].cancel_asked:
        return f"step '{step_id}' is being cancelled already"
    return None


def password_placeholder(runbook: Runbook) -> str:
    """What a DSN template writes where the password goes."""
    return runbook.setup.password_placeholder if runbook.setup else "<PASSWORD>"


def password_dsns(runbook: Runbook) -> list[EnvVar]:
    """The DSN variables whose template holds the password placeholder."""
    setup = runbook.setup
    if setup is None:
        return []
    return [i for i in setup.items
            if isinstance(i, EnvVar) and setup.password_placeholder in i.template]


def password_refusal(runbook: Runbook, state: SessionState) -> str | None:
    """Why the database password may not be entered again now, or None. Only before the
    first step: every step after it must run with the environment the setup checked."""
    if state.halt is not None:
        return f"the session is halted ({state.halt.reason})"
    if not password_dsns(runbook):
        return (f"the runbook's setup names no DSN with a password "
                f"({password_placeholder(runbook)} in its "
                "template)")
    if state.steps:
        return ("a step has already been done with the password given; it can be entered "
                "again only before the first step")
    return None


def verb_allowed(runbook: Runbook, state: SessionState, verb: str, now: datetime) -> bool:
    """Whether an operator's verb may be offered now (the controller still rules on it)."""
    halted, ended = state.halt is not None, state.ended
    running = state.running_step() is not None
    if verb == "diagnostics":
        return bool(state.diagnostics)
    if verb == "halt":
        return not halted and not ended
    if verb == "cancel":
        return running and cancel_refusal(runbook, state, state.running_step() or "") is None
    if verb == "gates":
        return not halted and not ended and not running
    if verb == "password":  # offered once a DSN that takes it has failed its check
        return not ended and password_refusal(runbook, state) is None and any(
            (s := state.setup.get(i.id)) is not None and s.status == "failed"
            for i in password_dsns(runbook))
    if verb == "attest":  # a gate's attestation, or a setup line's confirmation
        return not halted and not ended and bool(attestable_gates(runbook, state)
                                                 or unconfirmed_setup(runbook, state))
    if verb == "run_next":
        upcoming = next_step(runbook, state)
        return upcoming is not None and refusal_to_run(runbook, state, upcoming.step.id,
                                                      now) is None
    if verb == "resolve":
        return not halted and any(s.status == "interrupted" for s in state.steps.values())
    if verb == "protocol":
        return halted and not ended and open_protocol_item(runbook, state) is not None
    if verb == "seal":
        return not ended and not running and (halted or all_phases_complete(runbook, state))
    if verb == "decision":
        return not ended and not running and state.evidence is not None
    if verb == "countersignature":  # the decision's, or the transcript's before GO
        return ended or (not halted and not state.steps
                         and bool(open_countersign_gates(runbook, state)))
    return False


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
class NextAction:
    """What the operator can do now: a verb (the screen shows its key) and on what, or no
    verb when the thing to do is to wait or to fix something outside the cockpit."""

    verb: str | None
    what: str
    word: str | None = None  # the word the verb will ask to be typed


def next_action(runbook: Runbook, state: SessionState, now: datetime) -> NextAction | None:
    """The one thing to do next, as the rules see it; None once the session has ended
    (and has the countersignatures its runbook requires)."""
    if state.ended:
        waiting = awaiting_countersign(runbook, state)
        if waiting is None:
            return None
        return NextAction("countersignature", f"AWAITING COUNTERSIGN ({waiting[0]} of "
                          f"{waiting[1]}): attach the file a reviewer's `cockpit countersign` "
                          "wrote")
    if state.halt is not None:
        item = open_protocol_item(runbook, state)
        if item is not None:
            return NextAction("protocol", f"Halt protocol: {item.text}")
        if state.evidence is None:
            return NextAction("seal", "Seal the evidence (the halt protocol is done)")
        return NextAction("decision", "Record the decision (BLOCKER)")
    running = state.running_step()
    if running is not None:
        if cancel_refusal(runbook, state, running) is None:
            return NextAction("cancel", f"Wait for {running}; it is read-only: it may be "
                              "cancelled and run again")
        return NextAction("halt", f"Wait for {running}; HALT if an abort condition shows")
    interrupted = next((k for k, s in state.steps.items() if s.status == "interrupted"), None)
    if interrupted is not None:
        return NextAction("resolve", f"Resolve the interrupted step {interrupted}")
    if open_gates(runbook, state):
        return _next_for_gates(runbook, state)
    upcoming = next_step(runbook, state)
    if upcoming is None:
        if state.evidence is None:
            return NextAction("seal", "Seal the evidence: every phase is complete")
        return NextAction("decision", "Record the decision")
    refused = refusal_to_run(runbook, state, upcoming.step.id, now)
    if refused is not None:
        return NextAction(None, f"{upcoming.step.id} may not run: {refused}")
    step = upcoming.step
    where = f"{upcoming.phase.id} step {actionable(upcoming.phase).index(step) + 1}"
    if isinstance(step, CommandStep):
        again = " again" if (s := state.steps.get(step.id)) and s.attempts else ""
        return NextAction("run_next", f"Run {where}{again}: {step.id}", step.confirm)
    if isinstance(step, CheckStep):
        return NextAction("run_next", f"Check {where}: {step.id}")
    return NextAction("run_next", f"Confirm {where}: {step.text}")


def _next_for_gates(runbook: Runbook, state: SessionState) -> NextAction:
    failed = failed_checks(runbook, state)
    finding = next((f for f in failed if f.finding), None)
    if finding is not None:  # about the change itself: no retry makes it right
        return NextAction("halt", f"NO-GO on a finding: {finding.name} ({finding.detail}); "
                          "halt-and-contain")
    if password_refusal(runbook, state) is None:
        dsn = next((f for f in failed for i in password_dsns(runbook)
                    if f.name == f"setup {i.id}"), None)
        if dsn is not None:  # the cause may be the password, or the DSN's form outside
            return NextAction("password", f"Fix {dsn.name} ({dsn.detail}) — or enter the "
                              "database password again")
    attestable = attestable_gates(runbook, state)
    if attestable:
        return NextAction("attest", f"Attest '{attestable[0].text}'")
    if (unconfirmed := unconfirmed_setup(runbook, state)):
        return NextAction("attest", f"Confirm setup '{unconfirmed[0].text}' (required before GO)")
    if open_countersign_gates(runbook, state):
        gate = open_countersign_gates(runbook, state)[0]
        return NextAction("countersignature", f"'{gate.text}': attach the file a reviewer's "
                          "`cockpit countersign --transcript` wrote")
    if failed:
        return NextAction("gates", f"Fix {failed[0].name} ({failed[0].detail}), then check again")
    return NextAction("gates", "Check the gates and the setup")


def radar_dsn_var(runbook: Runbook) -> str:
    """The variable whose DSN the lock radar watches with: the setup's first DSN variable
    (the one Alembic reads, in a runbook shaped like the reference), else DATABASE_URL."""
    return next((item.name for item in setup_checks(runbook) if isinstance(item, EnvVar)),
                "DATABASE_URL")


# ---------------------------------------------------------------- four eyes

COUNTERSIGN_PROBE = "review.countersigned"


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


def countersigned_already(state: SessionState, kind: str, reviewer: Signer) -> str | None:
    """Who, of the reviewers counted for `kind`, `reviewer` already is (by key or name)."""
    for counted in countersigners(state, kind):
        if same_person(counted, reviewer):
            return next(iter(sorted(counted.identities)), counted.fingerprint)
    return None


def countersign_refusal(state: SessionState, kind: str, reviewer: Signer) -> str | None:
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
    if (who := countersigned_already(state, kind, reviewer)) is not None:
        return f"{who} has already countersigned the {kind}"
    return None


def countersigners(state: SessionState, kind: str) -> list[Signer]:
    """The reviewers who count for `kind`: one per person (a second key, or the same name,
    is the same reviewer), none of them the operator."""
    operators = operator_signers(state)
    counted: list[Signer] = []
    for sig in state.signatures:
        signer = Signer(sig.fingerprint, frozenset({sig.identity} - {""}))
        if (sig.role == "reviewer" and sig.kind == kind
                and not any(same_person(c, signer) for c in counted)
                and self_approval(operators, signer) is None):
            counted.append(signer)
    return counted


def countersignatures_required(runbook: Runbook) -> int:
    return runbook.decision.countersignatures if runbook.decision else 0


def asks_four_eyes(runbook: Runbook) -> bool:
    """Whether the runbook wants countersignatures: then the operator must sign with a key
    (four eyes are two known people, and the operator is known by theirs)."""
    return countersignatures_required(runbook) > 0 or bool(countersign_gates(runbook))


def awaiting_countersign(runbook: Runbook, state: SessionState) -> tuple[int, int] | None:
    """(countersignatures attached, required) while a recorded decision waits for them."""
    need = countersignatures_required(runbook)
    if state.decision is None or not need:
        return None
    have = len(countersigners(state, "decision"))
    return (have, need) if have < need else None


def operator_signed(state: SessionState) -> bool:
    return any(s.role == "operator" and s.kind == "decision" for s in state.signatures)

"""The one thing the operator should do next, in words, with the verb that does it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.runbook.model import CheckStep, CommandStep, Runbook
from cockpit.session.rules.foureyes import awaiting_countersign
from cockpit.session.rules.gates import password_dsns, password_refusal
from cockpit.session.rules.order import actionable, cancel_refusal, stopped_where
from cockpit.session.rules.retry import retry_armed
from cockpit.session.rules.situation import Situation
from cockpit.session.state import SessionState, StepState


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
    return next_action_in(Situation(runbook, state, now))


def next_action_in(now: Situation) -> NextAction | None:
    """As next_action, reading a situation's answers (the overview's, worked out once)."""
    if now.ended:
        return _after_end(now)
    if now.halted:
        return _while_halted(now)
    if now.running is not None:
        if cancel_refusal(now.runbook, now.state, now.running) is None:
            return NextAction("cancel", f"Wait for {now.running}; it is read-only: it may be "
                              "cancelled and run again")
        return NextAction("halt", f"Wait for {now.running}; HALT if an abort condition shows")
    if now.interrupted is not None:
        return NextAction("resolve", f"Resolve the interrupted step {now.interrupted}")
    if now.open_gates:
        return _next_for_gates(now)
    return _next_in_phases(now)


def _after_end(now: Situation) -> NextAction | None:
    waiting = awaiting_countersign(now.runbook, now.state)
    if waiting is None:
        return None
    return NextAction("countersignature", f"AWAITING COUNTERSIGN ({waiting[0]} of "
                      f"{waiting[1]}): attach the file a reviewer's `cockpit countersign` "
                      "wrote")


def _while_halted(now: Situation) -> NextAction:
    if now.protocol_item is not None:
        return NextAction("protocol", f"Halt protocol: {now.protocol_item.text}")
    if now.state.evidence is None:
        return NextAction("seal", "Seal the evidence (the halt protocol is done)")
    return NextAction("decision", "Record the decision (BLOCKER)")


def _next_in_phases(now: Situation) -> NextAction:
    upcoming = now.upcoming
    if upcoming is None:
        if now.state.evidence is None:
            return NextAction("seal", "Seal the evidence: every phase is complete")
        return NextAction("decision", "Record the decision")
    standing = now.state.steps.get(upcoming.step.id)
    if standing is not None and standing.status in ("held", "paused", "retry_wait"):
        return _standing(now, upcoming.step.id, standing)
    if now.refusal is not None:
        return NextAction(None, f"{upcoming.step.id} may not run: {now.refusal}")
    step = upcoming.step
    where = f"{upcoming.phase.id} step {actionable(upcoming.phase).index(step) + 1}"
    if isinstance(step, CommandStep):
        again = " again" if (s := now.state.steps.get(step.id)) and s.attempts else ""
        return NextAction("run_next", f"Run {where}{again}: {step.id}", step.confirm)
    if isinstance(step, CheckStep):
        return NextAction("run_next", f"Check {where}: {step.id}")
    return NextAction("run_next", f"Confirm {where}: {step.text}")


def _standing(now: Situation, step_id: str, s: StepState) -> NextAction:
    """A step stopped part way, waiting for a person (or its retry's time)."""
    where = stopped_where(s)
    if s.status == "held":
        return NextAction("run_next", f"HELD: {step_id} before {where} — r, then type "
                          f"{s.stopped_before}, goes on")
    if s.status == "paused":
        return NextAction("pause", f"PAUSED: {step_id} before {where} — z continues")
    pending = s.retry
    if pending is not None and not retry_armed(now.state, pending):
        return NextAction("run_next", f"The retry of {step_id} (attempt {pending.attempt} of "
                          f"{pending.of}) was pending when the cockpit stopped — r, then "
                          "type RETRY, goes on; c cancels it")
    return NextAction("cancel", f"{step_id} runs again by itself (a lock-timeout retry"
                      + (f", attempt {pending.attempt} of {pending.of}" if pending else "")
                      + "); c cancels the retry")


def _next_for_gates(now: Situation) -> NextAction:
    failed = now.failed_checks
    finding = next((f for f in failed if f.finding), None)
    if finding is not None:  # about the change itself: no retry makes it right
        return NextAction("halt", f"NO-GO on a finding: {finding.name} ({finding.detail}); "
                          "halt-and-contain")
    if password_refusal(now.runbook, now.state) is None:
        dsn = next((f for f in failed for i in password_dsns(now.runbook)
                    if f.name == f"setup {i.id}"), None)
        if dsn is not None:  # the cause may be the password, or the DSN's form outside
            return NextAction("password", f"Fix {dsn.name} ({dsn.detail}) — or enter the "
                              "database password again")
    if now.attestable_gates:
        return NextAction("attest", f"Attest '{now.attestable_gates[0].text}'")
    if now.unconfirmed_setup:
        return NextAction("attest", f"Confirm setup '{now.unconfirmed_setup[0].text}' "
                          "(required before GO)")
    if now.open_countersign_gates:
        gate = now.open_countersign_gates[0]
        return NextAction("countersignature", f"'{gate.text}': attach the file a reviewer's "
                          "`cockpit countersign --transcript` wrote")
    if failed:
        return NextAction("gates", f"Fix {failed[0].name} ({failed[0].detail}), then check again")
    return NextAction("gates", "Check the gates and the setup")

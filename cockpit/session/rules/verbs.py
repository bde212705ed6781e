"""Which of the operator's verbs may be offered now: one small rule per verb (the controller
still rules on each when it is asked)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cockpit.runbook.model import Runbook
from cockpit.session.rules.closeout import may_decide, may_seal
from cockpit.session.rules.foureyes import hold_countersign_refusal
from cockpit.session.rules.gates import password_dsns, password_refusal
from cockpit.session.rules.order import cancel_refusal, pause_refusal
from cockpit.session.rules.retry import retry_armed, retry_waiting
from cockpit.session.rules.situation import Situation
from cockpit.session.state import SessionState

VerbRule = Callable[[Situation], bool]


def _diagnostics(now: Situation) -> bool:
    return bool(now.state.diagnostics)


def _halt(now: Situation) -> bool:
    return not now.halted and not now.ended


def _cancel(now: Situation) -> bool:
    """A running read-only step, or a lock-timeout retry's wait."""
    target = now.running or retry_waiting(now.state)
    return target is not None and cancel_refusal(now.runbook, now.state, target) is None


def _unarmed_retry(now: Situation) -> bool:
    """A retry left pending by a cockpit that stopped during its wait: the go-ahead."""
    step = retry_waiting(now.state)
    pending = now.state.steps[step].retry if step else None
    return not now.halted and pending is not None and not retry_armed(now.state, pending)


def _gates(now: Situation) -> bool:
    return not now.halted and not now.ended and now.running is None


def _password(now: Situation) -> bool:
    """Offered once a DSN that takes the password has failed its check."""
    state = now.state
    return not now.ended and password_refusal(now.runbook, state) is None and any(
        (s := state.setup.get(i.id)) is not None and s.status == "failed"
        for i in password_dsns(now.runbook))


def _attest(now: Situation) -> bool:
    """A gate's attestation, or a setup line's confirmation."""
    return not now.halted and not now.ended and bool(now.attestable_gates
                                                     or now.unconfirmed_setup)


def _held(now: Situation) -> bool:
    return not now.halted and not now.ended and any(
        s.status == "held" for s in now.state.steps.values())


def _run_next(now: Situation) -> bool:
    """The next step; a retry's go-ahead; a hold's go-ahead (typed)."""
    return now.may_run_next or _unarmed_retry(now) or _held(now)


def _pause(now: Situation) -> bool:
    """Pause a `per_revision` run after its current revision, or continue a paused one."""
    if now.running is not None:
        return pause_refusal(now.runbook, now.state, now.running) is None
    return not now.halted and not now.ended and any(
        s.status == "paused" for s in now.state.steps.values())


def _resolve(now: Situation) -> bool:
    return not now.halted and now.interrupted is not None


def _protocol(now: Situation) -> bool:
    return now.halted and not now.ended and now.protocol_item is not None


def _seal(now: Situation) -> bool:
    return may_seal(now.runbook, now.state)


def _decision(now: Situation) -> bool:
    return may_decide(now.state)


def _countersignature(now: Situation) -> bool:
    """The decision's, the transcript's before GO, or a hold's the runbook asks for."""
    held = any(hold_countersign_refusal(now.runbook, now.state, sid) is not None
               for sid in now.state.steps)
    return now.ended or (not now.halted and (held or (not now.state.steps
                                                      and bool(now.open_countersign_gates))))


VERB_RULES: dict[str, VerbRule] = {
    "diagnostics": _diagnostics,
    "halt": _halt,
    "cancel": _cancel,
    "pause": _pause,
    "gates": _gates,
    "password": _password,
    "attest": _attest,
    "run_next": _run_next,
    "resolve": _resolve,
    "protocol": _protocol,
    "seal": _seal,
    "decision": _decision,
    "countersignature": _countersignature,
}


def allowed_verbs(now: Situation) -> frozenset[str]:
    """Every verb that may be offered in this situation."""
    return frozenset(verb for verb, rule in VERB_RULES.items() if rule(now))


def verb_allowed(runbook: Runbook, state: SessionState, verb: str, now: datetime) -> bool:
    """Whether an operator's verb may be offered now (the controller still rules on it)."""
    rule = VERB_RULES.get(verb)
    return rule is not None and rule(Situation(runbook, state, now))

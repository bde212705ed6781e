"""The questions every "what may happen now" rule asks of a session, each answered at most
once: the verbs' rules, the next action and the overview read one Situation."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from cockpit.runbook.model import HaltItem, Manual, ProbeGate, Runbook
from cockpit.session.rules.closeout import open_protocol_item
from cockpit.session.rules.foureyes import open_countersign_gates
from cockpit.session.rules.gates import (
    FailedCheck,
    GateItem,
    attestable_gates,
    failed_checks,
    open_gates,
    unconfirmed_setup,
)
from cockpit.session.rules.order import NextStep, next_step, refusal_to_run
from cockpit.session.state import SessionState


class Situation:
    """A runbook, a session state and a moment; each answer is worked out when first read."""

    def __init__(self, runbook: Runbook, state: SessionState, now: datetime) -> None:
        self.runbook, self.state, self.now = runbook, state, now
        self.halted = state.halt is not None
        self.ended = state.ended
        self.running = state.running_step()

    @cached_property
    def upcoming(self) -> NextStep | None:
        return next_step(self.runbook, self.state)

    @cached_property
    def refusal(self) -> str | None:
        """Why the next step may not run now (None: it may, or there is none) — the one
        evaluation of "may run_next run?"."""
        if self.upcoming is None:
            return None
        return refusal_to_run(self.runbook, self.state, self.upcoming.step.id, self.now)

    @property
    def may_run_next(self) -> bool:
        return self.upcoming is not None and self.refusal is None

    @cached_property
    def open_gates(self) -> list[str]:
        return open_gates(self.runbook, self.state)

    @cached_property
    def failed_checks(self) -> list[FailedCheck]:
        return failed_checks(self.runbook, self.state)

    @cached_property
    def attestable_gates(self) -> list[GateItem]:
        return attestable_gates(self.runbook, self.state)

    @cached_property
    def unconfirmed_setup(self) -> list[Manual]:
        return unconfirmed_setup(self.runbook, self.state)

    @cached_property
    def open_countersign_gates(self) -> list[ProbeGate]:
        return open_countersign_gates(self.runbook, self.state)

    @cached_property
    def protocol_item(self) -> HaltItem | None:
        return open_protocol_item(self.runbook, self.state)

    @cached_property
    def interrupted(self) -> str | None:
        """The first interrupted step, if any."""
        return next((k for k, s in self.state.steps.items() if s.status == "interrupted"),
                    None)

"""What may happen now, in one object: the verbs allowed, the next step and why it may not
run, the open gates, the next action. Computed once per state change (and again when the
maintenance window opens or closes); the screens, the footer and the next-action line read it
instead of asking the rules each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.runbook.model import HaltItem, Manual, Runbook
from cockpit.session.rules.closeout import open_protocol_items
from cockpit.session.rules.foureyes import awaiting_countersign
from cockpit.session.rules.gates import FailedCheck, GateItem, setup_notes
from cockpit.session.rules.nextaction import NextAction, next_action_in
from cockpit.session.rules.order import NextStep
from cockpit.session.rules.situation import Situation
from cockpit.session.rules.verbs import allowed_verbs
from cockpit.session.rules.window import (
    Window,
    current_window,
    window_changes_at,
    window_state,
)
from cockpit.session.state import SessionState


@dataclass(frozen=True)
class Overview:
    """The rules' answers for one session state at one moment."""

    seq: int  # the state's last event
    at: datetime  # the moment it was worked out for
    valid_until: datetime | None  # the window opens or closes then (None: no such moment)
    allowed: frozenset[str]  # the verbs that may be offered
    next_action: NextAction | None
    upcoming: NextStep | None  # the step that runs next
    refusal: str | None  # why `upcoming` may not run now (None: it may, or there is none)
    open_gates: tuple[str, ...]  # by name: "gate signoff", "setup dsn", …
    failed_checks: tuple[FailedCheck, ...]
    setup_notes: tuple[tuple[str, str], ...]  # (item, WARNING/NOTE) of passed setup checks
    attestable: tuple[GateItem | Manual, ...]  # gates to attest, then setup lines to confirm
    protocol_item: HaltItem | None  # the next halt-protocol item to complete by hand
    open_protocol_items: int  # the halt protocol's and rollback plan's items not yet done
    awaiting_countersign: tuple[int, int] | None  # (attached, required) after the decision
    window: Window | None  # the attested maintenance window
    window_state: str | None  # "before", "open", "closed"; None when none was named

    def allows(self, verb: str) -> bool:
        return verb in self.allowed

    @property
    def window_end(self) -> datetime | None:
        """When the attested maintenance window closes (None: no window attested)."""
        return self.window[1] if self.window else None

    def holds_for(self, state: SessionState, now: datetime) -> bool:
        """Whether this is still the answer for `state` at `now`."""
        return state.seq == self.seq and (self.valid_until is None or now < self.valid_until)


def overview(runbook: Runbook, state: SessionState, now: datetime) -> Overview:
    """Every rule the screens read, asked once."""
    seen = Situation(runbook, state, now)
    window = current_window(runbook, state)
    return Overview(
        seq=state.seq, at=now, valid_until=window_changes_at(window, now),
        allowed=allowed_verbs(seen), next_action=next_action_in(seen),
        upcoming=seen.upcoming, refusal=seen.refusal, open_gates=tuple(seen.open_gates),
        failed_checks=tuple(seen.failed_checks),
        setup_notes=tuple(setup_notes(runbook, state)),
        attestable=(*seen.attestable_gates, *seen.unconfirmed_setup),
        protocol_item=seen.protocol_item,
        open_protocol_items=len(open_protocol_items(runbook, state)),
        awaiting_countersign=awaiting_countersign(runbook, state),
        window=window, window_state=window_state(window, now))

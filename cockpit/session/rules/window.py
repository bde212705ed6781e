"""The maintenance window an attestation names: when it opens and closes, and the refusal
of any command outside it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from cockpit.runbook.model import Runbook
from cockpit.session.rules.gates import GateItem, gates
from cockpit.session.state import SessionState

_UNTIL_RELATIVE = re.compile(r"until\s*\+\s*(\d+)\s*(h|m|min)\b", re.I)


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})")


Window = tuple[datetime | None, datetime]  # (start if named, end)


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


def window_changes_at(window: Window | None, now: datetime) -> datetime | None:
    """The next moment after `now` the window opens or closes (None: it never will again),
    until which an answer that reads the window holds."""
    if window is None or now >= window[1]:
        return None
    start, end = window
    return start if start is not None and now < start else end


def is_backup_gate(gate: GateItem) -> bool:
    """The attestation of the backup a rollback restores from (its PITR window)."""
    said = f"{gate.id.replace('-', ' ')} {getattr(gate, 'text', '')}".lower()
    return "backup" in said or "pitr" in said


def backup_window_verdict(attested: str | None, target: str | None) -> dict[str, object]:
    """Whether the restore target (the server's time before the first change) lies inside
    the window the backup attestation states as an ISO time range (two stamps or more);
    `stated` False when it states none."""
    stamps = sorted(datetime.fromisoformat(m.replace("Z", "+00:00").replace(" ", "T"))
                    for m in _ISO.findall(attested or ""))
    if len(stamps) < 2:
        return {"stated": False, "said": "backup window not stated (the attestation gives "
                                         "no ISO time range)"}
    start, end = stamps[0], stamps[-1]
    found: dict[str, object] = {"stated": True, "start": start.isoformat(),
                                "end": end.isoformat()}
    if target is None:
        return {**found, "said": f"backup window {start.isoformat()} to {end.isoformat()}; "
                                 "no restore target to weigh"}
    at = datetime.fromisoformat(target.replace("Z", "+00:00"))
    inside = start <= at <= end
    return {**found, "inside": inside,
            "said": f"backup window {start.isoformat()} to {end.isoformat()}: the restore "
                    f"target lies {'inside' if inside else 'OUTSIDE'} it"}

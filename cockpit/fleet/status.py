"""Where a fleet stands, for a person (`cockpit fleet status`) and as JSON: its state, each
wave's totals, the targets that halted or wait (named, with why), a row per target, and
the next action."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from cockpit.fleet import records as fr
from cockpit.fleet.folder import ledger_folder, target_folder
from cockpit.fleet.ledger import PASS, FleetState, TargetLine, fleet_record
from cockpit.fleet.outcome import decided_word, session_state, taken_over
from cockpit.session.events import Event
from cockpit.session.inert import inert
from cockpit.session.lock import holder_alive, holder_text, read_lock_info


def fleet_word(state: FleetState) -> str:
    if state.ended is not None:
        return state.ended.status
    if state.halted is not None:
        return "HALTING"
    if state.go is None:
        return "WAITING FOR GO"
    if any(t.running for t in state.targets.values()):
        return "RUNNING"
    started = state.started
    assert started is not None
    waiting = [t for t in state.targets.values() if t.ended is not None and t.outcome != PASS]
    if waiting:
        return "WAITING FOR A PERSON"
    if any(w.name not in state.waves_started for w in started.waves):
        return "WAITING FOR APPROVAL"
    return "NOT RUNNING"


def wave_word(state: FleetState, wave: str) -> str:
    if wave in state.waves_ended:
        return "ended"
    if state.halted is not None and state.halted.wave == wave:
        return "halted"
    if wave in state.waves_started:
        return "running"
    return "not started"


def ended_line(folder: Path, state: FleetState) -> str:
    """An ended fleet, said once: its status, its totals, and that it is final."""
    assert state.ended is not None
    counts = ", ".join(f"{n} {o}" for o, n in sorted(state.ended.outcomes.items()))
    why = f" ({state.halted.reason})" if state.halted else ""
    return (f"fleet {folder.name}: {state.ended.status}{why} — {counts}; it has ended and "
            f"nothing more runs in it (`cockpit fleet status {folder}`)")


def status_lines(folder: Path, state: FleetState) -> list[str]:
    started = state.started
    assert started is not None
    lines = [f"fleet    {folder.name}  {fleet_word(state)}",
             f"runbook  {started.runbook_id}  sha256 {started.runbook_sha256[:12]}…  "
             f"{'production' if started.production else 'rehearsal'}",
             f"targets  {len(state.targets)}  file sha256 {started.targets_sha256[:12]}…  "
             f"dispatch {started.dispatch}",
             f"GO       {'by ' + state.go.approver if state.go else 'not yet approved'}"]
    if state.halted is not None:
        lines.append(f"HALTED   {state.halted.reason}")
    for wave in started.waves:
        counts = state.outcomes(wave.name)
        said = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        approved = state.approved.get(wave.name)
        by = f"  approved by {approved.approver}" if approved else ""
        lines.append(f"wave {wave.name:<10} {wave_word(state, wave.name):<12} {said}{by}")
    if (held := lock_line(folder)) is not None:
        lines.append(held)
    trouble = [t for t in state.targets.values()
               if t.ended is not None and t.ended.outcome != PASS]
    for line in trouble:
        lines.append(f"{_label(line):<8} {line.name}  {line.outcome} — "
                     f"{inert(line.ended.detail if line.ended else '')}")
    lines.append("")
    for t in state.targets.values():
        session = session_state(target_folder(folder, t.name)) if t.dispatched else None
        now = decided_word(session) if session is not None else None
        later = f"  (its session now: {now})" if now is not None and now != t.outcome else ""
        later += f"  (sent {len(t.dispatched)} times)" if len(t.dispatched) > 1 else ""
        over = taken_over(session) if session is not None else ""
        later += f"  ({over.lstrip(', ')})" if over else ""
        word = running_word(folder, t.name) if t.running else t.outcome
        lines.append(f"  {t.name:<16} {t.wave:<10} {word}{later}")
    return lines


def running_word(folder: Path, name: str) -> str:
    """What a running target is doing: held by its cockpit (here, or on which host), or
    sent and not taken yet (queued for a worker)."""
    info = read_lock_info(target_folder(folder, name))
    if not info:
        return "sent, not taken yet"
    host = _elsewhere(info)
    return f"running on {host}" if host else "running"


def held_on(folder: Path, name: str) -> str | None:
    """The host whose cockpit holds target `name`'s session now (a worker, in a Celery
    fleet), when that is not this one."""
    return _elsewhere(read_lock_info(target_folder(folder, name)) or {})


def _elsewhere(info: dict[str, object]) -> str | None:
    host = info.get("host")
    return inert(host) if isinstance(host, str) and host != socket.gethostname() else None


def lock_line(folder: Path) -> str | None:
    """Who holds the fleet's lock, and whether that process is alive (on this machine)."""
    info = read_lock_info(ledger_folder(folder))
    if not info:
        return None
    alive = holder_alive(ledger_folder(folder))
    said = {True: "alive", False: "gone without releasing it: `cockpit fleet resume "
            f"{folder} --take-over`", None: "on another host"}[alive]
    return f"lock     held by {holder_text(info)} — {said}"


def _label(line: TargetLine) -> str:
    return "FAILED" if line.outcome in ("BLOCKER", "halted", "failed") else "WAITING"


def status_json(folder: Path, state: FleetState) -> str:
    started = state.started
    assert started is not None
    return json.dumps({
        "fleet": folder.name, "state": fleet_word(state),
        "runbook_sha256": started.runbook_sha256, "targets_sha256": started.targets_sha256,
        "go": state.go.approver if state.go else None,
        "halted": state.halted.model_dump() if state.halted else None,
        "waves": {w.name: {"state": wave_word(state, w.name),
                           "outcomes": state.outcomes(w.name)} for w in started.waves},
        "targets": {t.name: {"wave": t.wave, "outcome": t.outcome,
                             "detail": t.ended.detail if t.ended else None,
                             "dispatches": len(t.dispatched),
                             "held_on": held_on(folder, t.name) if t.running else None,
                             "now": running_word(folder, t.name) if t.running else None}
                    for t in state.targets.values()},
    }, indent=2)


def _counts(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))


def _started(r: fr.FleetStarted) -> str:
    targets = sum(len(w.targets) for w in r.waves)
    return f"fleet started: runbook {r.runbook_id}, {targets} targets in {len(r.waves)} waves"


def _ended(r: fr.TargetEnded) -> str:
    return f"{r.target}: {r.outcome}" + (f" — {r.detail}" if r.detail else "")


_LINES: dict[type, Callable[..., str]] = {
    fr.FleetStarted: _started,
    fr.FleetGo: lambda r: f"GO approved by {r.approver}",
    fr.WaveApproved: lambda r: f"wave {r.wave} approved by {r.approver} ({r.how})",
    fr.ApprovalCountersigned:
        lambda r: f"{r.subject} countersigned by {r.identity} ({r.fingerprint})",
    fr.WaveStarted: lambda r: f"wave {r.wave} started: {len(r.targets)} targets",
    fr.TargetDispatched:
        lambda r: f"{r.target}: {'resumed' if r.resume else 'dispatched'} ({r.how})",
    fr.TargetEnded: _ended,
    fr.WaveEnded: lambda r: f"wave {r.wave} ended: {_counts(r.outcomes)}",
    fr.FleetHalted: lambda r: f"FLEET HALTED: {r.reason}",
    fr.FleetEnded: lambda r: f"FLEET: {r.status} — {_counts(r.outcomes)}",
    fr.FleetResumed: lambda r: "fleet resumed" + (" (a dead holder's lock taken over)"
                                                  if r.taken_over else ""),
}


def event_line(event: Event) -> str:
    """One ledger event as a line, for the plain mirror of a fleet."""
    record = fleet_record(event)
    said = _LINES[type(record)](record) if type(record) in _LINES else event.type
    return inert(f"{event.ts[11:19]} {event.actor.name} {said}")

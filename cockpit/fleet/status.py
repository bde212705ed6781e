"""Where a fleet stands, for a person (`cockpit fleet status`) and as JSON: its state, each
wave's totals, the targets that halted or wait (named, with why), a row per target, and
the next action."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.fleet.ledger import PASS, FleetState, TargetLine
from cockpit.session.inert import inert


def fleet_word(state: FleetState) -> str:
    if state.ended is not None:
        return state.ended.status
    if state.halted is not None:
        return "HALTING"
    if state.go is None:
        return "WAITING FOR GO"
    return "RUNNING" if any(t.running for t in state.targets.values()) else "STOPPED"


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
    trouble = [t for t in state.targets.values()
               if t.ended is not None and t.ended.outcome != PASS]
    for line in trouble:
        lines.append(f"{_label(line):<8} {line.name}  {line.outcome} — "
                     f"{inert(line.ended.detail if line.ended else '')}")
    lines.append("")
    lines += [f"  {t.name:<16} {t.wave:<10} {t.outcome}" for t in state.targets.values()]
    return lines


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
                             "dispatches": len(t.dispatched)}
                    for t in state.targets.values()},
    }, indent=2)

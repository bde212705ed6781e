"""What a reviewer signs to approve a fleet's GO or one of its waves (`countersign =
true`), from its ledger alone: the fleet, its runbook, targets file and answers as pinned,
its waves — and for a wave, how the wave before it ended (that event's hash). Pure: the
reviewer's `countersign`, the attach and `verify` work it out the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cockpit.evidence.signing import NAMESPACE
from cockpit.fleet import records as fr
from cockpit.fleet.ledger import FleetState, fleet_record, fold_fleet
from cockpit.session.events import Event

GO = "go"


def wave_subject(wave: str) -> str:
    return f"wave {wave}"


def pending_subject(state: FleetState) -> str | None:
    """What the fleet waits to have countersigned next: its GO, else the next wave once the
    wave before it ended; None when nothing waits (or the fleet asks for no countersign)."""
    started = state.started
    if started is None or not started.countersign or state.ended or state.halted:
        return None
    if state.go is None:
        return None if GO in state.countersigned else GO
    for index, wave in enumerate(started.waves):
        if wave.name in state.waves_started:
            continue
        before = started.waves[index - 1].name if index else None
        if before is not None and before not in state.waves_ended:
            return None
        subject = wave_subject(wave.name)
        return None if index == 0 or subject in state.countersigned else subject
    return None


def approval_statement(subject: str, events: Sequence[Event]) -> dict[str, Any] | None:
    """What a countersignature of `subject` signs, from the ledger's events as they stand;
    None while there is nothing to sign (a wave whose wave before has not ended)."""
    state = fold_fleet(list(events))
    started = state.started
    if started is None:
        return None
    statement: dict[str, Any] = {
        "namespace": NAMESPACE, "kind": "approval", "subject": subject,
        "fleet_id": started.fleet_id, "fleet_started_hash": events[0].hash,
        "runbook_sha256": started.runbook_sha256,
        "transcript_sha256": started.transcript_sha256,
        "targets_sha256": started.targets_sha256, "answers_sha256": started.answers_sha256,
        "waves": [{"name": w.name, "targets": list(w.targets)} for w in started.waves]}
    if subject == GO:
        return statement
    names = [w.name for w in started.waves]
    wave = subject.removeprefix("wave ")
    if not subject.startswith("wave ") or wave not in names or names.index(wave) == 0:
        return None
    before = names[names.index(wave) - 1]
    ended = next((e for e in events if e.type == fr.WAVE_ENDED
                  and isinstance(r := fleet_record(e), fr.WaveEnded) and r.wave == before),
                 None)
    if ended is None:
        return None
    record = fleet_record(ended)
    assert isinstance(record, fr.WaveEnded)
    return {**statement, "wave": wave, "after": {"wave": before, "seq": ended.seq,
                                                 "hash": ended.hash,
                                                 "outcomes": record.outcomes}}


def describe(statement: dict[str, Any]) -> list[str]:
    lines = [f"fleet:       {statement['fleet_id']} — approval of {statement['subject']}",
             f"runbook:     sha256 {statement['runbook_sha256']}",
             f"targets:     sha256 {statement['targets_sha256']}",
             f"answers:     sha256 {statement['answers_sha256']}",
             *(f"wave:        {w['name']}: {len(w['targets'])} targets "
               f"({', '.join(w['targets'][:6])}{' …' if len(w['targets']) > 6 else ''})"
               for w in statement["waves"])]
    if "after" in statement:
        after = statement["after"]
        counts = ", ".join(f"{n} {o}" for o, n in sorted(after["outcomes"].items()))
        lines.append(f"after:       wave {after['wave']} ended {counts} (event {after['seq']}, "
                     f"hash {after['hash'][:16]}…)")
    return lines



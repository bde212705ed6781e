"""A fleet's state, folded from its ledger (the fleet folder's events): what was approved,
which waves started and ended, each target's dispatches and end, the halt. Pure: the
fleet's driver, `fleet status`, the board and the mirror read the same fold."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.fleet import records as fr
from cockpit.fleet.folder import ledger_folder
from cockpit.session.events import Event
from cockpit.session.layout import EVENTS
from cockpit.session.records import Record, record_in
from cockpit.session.store import read_event_log

RECORDS: dict[str, type[Record]] = {cls.KIND: cls for cls in (
    fr.FleetStarted, fr.FleetResumed, fr.FleetGo, fr.WaveApproved, fr.WaveStarted,
    fr.TargetDispatched, fr.TargetEnded, fr.WaveEnded, fr.FleetHalted, fr.FleetEnded,
    fr.ApprovalCountersigned)}

PASS = "PASS"
BLOCKER = "BLOCKER"
HALTED_OUTCOMES = (BLOCKER, "halted")  # what the stop rule counts
DONE_OUTCOMES = (PASS, BLOCKER)  # a decision: the target's session is closed


@dataclass
class TargetLine:
    name: str
    wave: str
    dispatched: list[fr.TargetDispatched] = field(default_factory=list)
    ended: fr.TargetEnded | None = None  # its last end (a re-dispatch clears it)

    @property
    def running(self) -> bool:
        return bool(self.dispatched) and self.ended is None

    @property
    def outcome(self) -> str:
        if self.ended is not None:
            return self.ended.outcome
        return "running" if self.dispatched else "not started"


@dataclass
class FleetState:
    started: fr.FleetStarted | None = None
    go: fr.FleetGo | None = None
    approved: dict[str, fr.WaveApproved] = field(default_factory=dict)
    countersigned: dict[str, fr.ApprovalCountersigned] = field(default_factory=dict)
    waves_started: list[str] = field(default_factory=list)
    waves_ended: dict[str, fr.WaveEnded] = field(default_factory=dict)
    targets: dict[str, TargetLine] = field(default_factory=dict)
    halted: fr.FleetHalted | None = None
    ended: fr.FleetEnded | None = None
    operator: str = ""
    seq: int = 0
    last_hash: str = ""
    last_ts: str = ""

    def wave_targets(self, wave: str) -> list[TargetLine]:
        return [t for t in self.targets.values() if t.wave == wave]

    def outcomes(self, wave: str | None = None) -> dict[str, int]:
        lines = self.targets.values() if wave is None else self.wave_targets(wave)
        return dict(Counter(t.outcome for t in lines))

    def halts(self, wave: str) -> list[str]:
        return [t.name for t in self.wave_targets(wave) if t.outcome in HALTED_OUTCOMES]


def fleet_record(event: Event) -> Record | None:
    return record_in(event, RECORDS)


def fold_fleet(events: list[Event]) -> FleetState:
    state = FleetState()
    for event in events:
        record = fleet_record(event)
        state.seq, state.last_hash, state.last_ts = event.seq, event.hash, event.ts
        if isinstance(record, fr.FleetStarted):
            state.started = record
            state.operator = event.actor.name
            for wave in record.waves:
                for name in wave.targets:
                    state.targets[name] = TargetLine(name, wave.name)
        elif isinstance(record, fr.FleetGo):
            state.go = record
        elif isinstance(record, fr.WaveApproved):
            state.approved[record.wave] = record
        elif isinstance(record, fr.WaveStarted):
            state.waves_started.append(record.wave)
        elif isinstance(record, fr.TargetDispatched):
            line = state.targets[record.target]
            line.dispatched.append(record)
            line.ended = None
        elif isinstance(record, fr.TargetEnded):
            state.targets[record.target].ended = record
        elif isinstance(record, fr.WaveEnded):
            state.waves_ended[record.wave] = record
        elif isinstance(record, fr.FleetHalted):
            state.halted = record
        elif isinstance(record, fr.FleetEnded):
            state.ended = record
        elif isinstance(record, fr.ApprovalCountersigned):
            state.countersigned[record.subject] = record
    return state


def read_fleet(folder: Path) -> FleetState:
    """The fold of the fleet in `folder` (a torn last line left out, as a session's)."""
    path = ledger_folder(folder) / EVENTS
    if not path.is_file():
        raise CockpitError(f"{folder}: not a fleet folder (no {EVENTS}); "
                           "`cockpit fleet run` makes one")
    state = fold_fleet(read_event_log(path).events)
    if state.started is None:
        raise CockpitError(f"{folder}: not a fleet folder (its first event is no "
                           f"{fr.FLEET_STARTED}); is it a session? `cockpit status` reads those")
    return state

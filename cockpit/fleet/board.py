"""What the fleet board shows, worked out here and only drawn by the screen: a row per
target (wave, phase, progress k of N, the lock radar's line, outcome) read from its own
session, each wave's totals, the header, and the next action — for the operator (with the
key that does it) or for a mirror (who waits for what)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.fleet.folder import ledger_folder, target_folder
from cockpit.fleet.ledger import PASS, FleetState, TargetLine, read_fleet
from cockpit.fleet.outcome import taken_over
from cockpit.fleet.statements import GO, pending_subject
from cockpit.fleet.status import fleet_word, running_word, wave_word
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from cockpit.session import rules
from cockpit.session.layout import EVENTS, RUNBOOK_COPY
from cockpit.session.radarview import radar_text
from cockpit.session.reader import session_at
from cockpit.session.runfiles import running_files
from cockpit.session.state import SessionState


@dataclass(frozen=True)
class TargetRow:
    name: str
    wave: str
    phase: str
    progress: str
    radar: str
    outcome: str


@dataclass(frozen=True)
class Board:
    state: FleetState
    header: str
    waves: list[str]
    rows: list[TargetRow]
    next: str


class BoardReader:
    """Reads a fleet's ledger and its targets' sessions for the board; a target's session
    is read again only once its events grew."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runbook: Runbook = parse_runbook((ledger_folder(folder) / RUNBOOK_COPY)
                                              .read_bytes(), RUNBOOK_COPY)
        self.steps = [step.id for phase in self.runbook.phases for step in phase.steps]
        self.phase_of = {step.id: phase.id for phase in self.runbook.phases
                         for step in phase.steps}
        self._sessions: dict[str, tuple[int, SessionState]] = {}

    def read(self, operator: bool) -> Board:
        state = read_fleet(self.folder)
        rows = [self._row(line) for line in state.targets.values()]
        return Board(state, header_line(self.folder, state), wave_lines(state), rows,
                     next_action(self.folder, state, operator))

    def _session(self, name: str) -> SessionState | None:
        folder = target_folder(self.folder, name)
        try:
            size = (folder / EVENTS).stat().st_size
        except OSError:
            return None
        kept = self._sessions.get(name)
        if kept is None or kept[0] != size:
            try:
                kept = (size, session_at(folder).state)
            except CockpitError:
                return kept[1] if kept else None
            self._sessions[name] = kept
        return kept[1]

    def _row(self, line: TargetLine) -> TargetRow:
        session = self._session(line.name) if line.dispatched else None
        if session is None:
            return TargetRow(line.name, line.wave, "-", f"0 of {len(self.steps)}", "",
                             running_word(self.folder, line.name) if line.running
                             else line.outcome)
        done = sum(1 for step in self.steps if rules.step_done(session, step))
        running = session.running_step()
        last = running or next((s for s in reversed(self.steps) if s in session.steps), None)
        phase = self.phase_of.get(last, "gates") if last else "gates"
        radar = ""
        if running is not None:
            found = running_files(target_folder(self.folder, line.name), session)
            radar = radar_text(found[1].radar) if found else ""
        outcome = running_word(self.folder, line.name) if line.running else line.outcome
        outcome += taken_over(session)
        if line.running and session.halt is not None:
            outcome = "HALTED"
        decided = session.decision.status if session.decision else None
        if line.ended is not None and decided is not None and decided != line.outcome:
            outcome = f"{line.outcome} (now {decided})"  # taken up after the ledger's record
        return TargetRow(line.name, line.wave, phase, f"{done} of {len(self.steps)}",
                         radar.removeprefix("radar: "), outcome)


def header_line(folder: Path, state: FleetState) -> str:
    started = state.started
    assert started is not None
    go = f"GO by {state.go.approver}" if state.go else "GO not yet approved"
    return (f"FLEET {folder.name} · {fleet_word(state)} · runbook {started.runbook_id} · "
            f"{len(state.targets)} targets (sha256 {started.targets_sha256[:12]}) · "
            f"dispatch {started.dispatch} · {go}")


def wave_lines(state: FleetState) -> list[str]:
    started = state.started
    assert started is not None
    lines = []
    for wave in started.waves:
        counts = ", ".join(f"{n} {o}" for o, n in sorted(state.outcomes(wave.name).items()))
        lines.append(f"{wave.name:<12} {wave_word(state, wave.name):<12} {counts}")
    return lines


def next_action(folder: Path, state: FleetState, operator: bool) -> str:
    """The one thing that happens next, and — on the operator's board — the key for it."""
    started = state.started
    assert started is not None
    if state.ended is not None:
        return (f"FLEET {state.ended.status} — it has ended; nothing more runs in it"
                + (f" ({state.halted.reason})" if state.halted else ""))
    running = [t for t in state.targets.values() if t.running]
    if state.halted is not None:
        return (f"HALTING ({state.halted.reason}): nothing new starts; "
                f"{len(running)} target(s) stop before their next step")
    subject = pending_subject(state)
    if subject is not None:
        return (f"{'GO' if subject == GO else subject} waits for a reviewer's "
                f"countersignature: `cockpit countersign {folder} --key KEY -o FILE`"
                + (", then k attaches the file" if operator else ""))
    if state.go is None:
        typed = f"GO {started.targets_sha256[:12]}"
        return (f"GO: press g and type {typed!r} to approve this targets file" if operator
                else "waiting for the operator's GO")
    for wave in started.waves:
        if wave.name in state.waves_ended:
            continue
        if wave.name not in state.waves_started:
            if operator:
                return f"wave {wave.name} waits for its approval: press a and type {wave.name!r}"
            return f"wave {wave.name} waits for the operator's approval"
        lines = state.wave_targets(wave.name)
        waiting = [t.name for t in lines if t.ended is not None and t.outcome != PASS]
        if running:
            done = sum(1 for t in lines if t.ended is not None)
            return (f"wave {wave.name}: {len(running)} running, {done} of {len(lines)} "
                    "ended")
        if waiting:
            again = "press r to send them again" if operator else \
                "the operator sends them again"
            return (f"wave {wave.name}: {', '.join(waiting)} wait for a person (their "
                    f"sessions under {folder}/targets); once seen to, {again}")
        return f"wave {wave.name}: starting"
    return "every wave ended"

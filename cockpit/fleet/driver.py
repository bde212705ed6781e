"""Drives a fleet through its waves: the GO, each wave's approval, its targets dispatched
within the limits (at once in the wave, at once on one database server, each target's
window), each target's end read from its own session and written to the ledger, and the
stop rule — so many halted targets in a wave, and the fleet halts: nothing new starts, the
targets running stop before their next step, and the halt is final. Every fact is a ledger
event before it is said; a fleet resumed after its process died goes on from the ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cockpit.errors import EXIT_BLOCKER, EXIT_OK, EXIT_REFUSED, CockpitError
from cockpit.fleet import records as fr
from cockpit.fleet.approvals import Approvals, go_words
from cockpit.fleet.folder import console_file, target_folder, write_stop
from cockpit.fleet.ledger import HALTED_OUTCOMES, PASS, FleetState, fold_fleet
from cockpit.fleet.local import DispatchTrouble, Ended, Note, last_line
from cockpit.fleet.outcome import target_outcome
from cockpit.fleet.plan import FleetPlan, PlannedWave
from cockpit.fleet.statements import GO, wave_subject
from cockpit.session.events import HALTED, Actor
from cockpit.session.inert import inert
from cockpit.session.layout import EVENTS
from cockpit.session.records import Record
from cockpit.session.store import SessionStore, read_event_log

Print = Callable[[str], None]
POLL_S = 0.1
REDISPATCH = ("waiting", "failed")  # ended for a reason a person fixes; a resume sends again


class Dispatcher(Protocol):
    name: str

    def dispatch(self, target: str) -> str: ...

    def adopt(self, target: str, how: str) -> bool: ...

    @property
    def running(self) -> set[str]: ...

    def ended(self) -> list[Ended]: ...

    def notes(self) -> list[Note]: ...

    def close(self) -> None: ...


class FleetDriver:
    def __init__(self, folder: Path, store: SessionStore, actor: Actor, plan: FleetPlan,
                 dispatcher: Dispatcher, approvals: Approvals, out: Print,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.folder = folder
        self.store = store
        self.actor = actor
        self.plan = plan
        self.dispatcher = dispatcher
        self.approvals = approvals
        self.out: Print = lambda line: out(inert(line))  # a target's words among them
        self.clock = clock
        self.state: FleetState = fold_fleet(store.events)
        self._said_waiting: set[str] = set()
        self._sent: set[str] = set()  # dispatched by this process: never sent twice by it
        self._sizes: dict[str, int] = {}  # each running target's events, as last read
        self._halted_seen: set[str] = set()  # running targets whose session has halted
        self.stopping = False  # set from another thread (the board's quit): the drive returns
        self.turn = threading.RLock()  # the ledger's one writer at a time (the board attaches)

    def append(self, record: Record) -> None:
        with self.turn:
            self.store.append(self.actor, record.KIND, record.data())
            self.state = fold_fleet(self.store.events)

    # ------------------------------------------------------------------ the drive

    def drive(self) -> int:
        with self.turn:
            self.state = fold_fleet(self.store.events)  # a countersignature kept meanwhile
        self._adopt()
        if self.state.ended is None and self.state.go is None and not self._go():
            return EXIT_REFUSED
        while self.state.ended is None:
            if self.stopping:  # the targets go on by themselves; a resume follows them again
                return EXIT_REFUSED
            self._reap()
            if self.state.halted is not None:
                if not self.dispatcher.running:
                    self._end("HALTED")
                    break
            else:
                code = self._step_waves()
                if code is not None:
                    return code
            time.sleep(POLL_S)
        return EXIT_OK if self.state.ended is not None and self.state.ended.status == PASS \
            else EXIT_BLOCKER

    def _adopt(self) -> None:
        """Targets an earlier fleet process dispatched and never saw end: watched again if
        they still run, else their end read now from their sessions."""
        for line in self.state.targets.values():
            if not line.running or line.name in self.dispatcher.running:
                continue
            last = line.dispatched[-1]
            if self.dispatcher.adopt(line.name, last.how):
                self.out(f"{line.name}: still running ({last.how}); followed again")
            else:  # what it said last tells a stop from a wait
                self._record_end(Ended(line.name, None,
                                       last_line(console_file(self.folder, line.name))))

    def _go(self) -> bool:
        started = self.state.started
        assert started is not None
        if not self._countersigned(GO, "the fleet's GO"):
            return False
        expected = go_words(started.targets_sha256)
        approval = self.approvals.go(expected)
        if approval is None:
            self.out(f"WAITING: the fleet's GO — {len(self.state.targets)} targets in "
                     f"{len(started.waves)} waves, targets file sha256 "
                     f"{started.targets_sha256}; to approve it, type {expected!r} "
                     f"{self.approvals.how_to(f'[fleet] go = {expected!r}', self.folder)}")
            return False
        self.append(fr.FleetGo(approver=approval.approver, typed=approval.typed,
                               targets_sha256=started.targets_sha256))
        self.out(f"GO: approved by {approval.approver} ({approval.how}: {approval.typed!r})")
        return True

    def _current(self) -> PlannedWave | None:
        return next((w for w in self.plan.waves if w.name not in self.state.waves_ended), None)

    def _step_waves(self) -> int | None:
        wave = self._current()
        if wave is None:
            self._end(PASS)
            return None
        if wave.name not in self.state.waves_started:
            if not self._wave_approved(wave):
                return EXIT_REFUSED
            self.append(fr.WaveStarted(wave=wave.name, targets=list(wave.targets)))
            self.out(f"wave {wave.name}: started — {len(wave.targets)} target(s), at most "
                     f"{wave.parallel} at once")
        self._dispatch_within_limits(wave)
        lines = self.state.wave_targets(wave.name)
        if any(t.ended is None for t in lines) or self.dispatcher.running:
            return None
        outcomes = self.state.outcomes(wave.name)
        if all(t.outcome == PASS for t in lines):
            self.append(fr.WaveEnded(wave=wave.name, outcomes=outcomes))
            self.out(f"wave {wave.name}: ended — {_counts(outcomes)}")
            return None
        # Some ended for a person to see to (open gates, a refusal): the wave is not done.
        for line in lines:
            if line.outcome != PASS:
                detail = line.ended.detail if line.ended else ""
                self.out(f"  {line.name}: {line.outcome} — {detail}")
        self.out(f"WAITING: wave {wave.name} has {_counts(outcomes)}; see to those targets "
                 f"(their sessions: {self.folder}/targets/NAME), then send them again: "
                 f"cockpit fleet resume {self.folder} (on the board: r)")
        return EXIT_REFUSED

    def _wave_approved(self, wave: PlannedWave) -> bool:
        started = self.state.started
        assert started is not None
        if wave.name == started.waves[0].name or not started.approve_waves \
                or wave.name in self.state.approved:
            return True
        if not self._countersigned(wave_subject(wave.name), f"wave {wave.name}"):
            return False
        approval = self.approvals.wave(wave.name)
        if approval is None:
            done = [w for w in self.state.waves_ended]
            self.out(f"WAITING: wave {wave.name} ({len(wave.targets)} targets) needs a "
                     f"person's approval after {', '.join(done)}; type {wave.name!r} "
                     + self.approvals.how_to(f"[fleet.waves] {wave.name} = {wave.name!r}",
                                             self.folder))
            return False
        self.append(fr.WaveApproved(wave=wave.name, approver=approval.approver,
                                    typed=approval.typed, how=approval.how))
        self.out(f"wave {wave.name}: approved by {approval.approver} ({approval.how})")
        return True

    def send_again(self) -> None:
        """The targets that ended for a person to see to may be sent again by this process
        (the board's r, once the person saw to them); a new `fleet resume` does so anyway."""
        with self.turn:
            self._sent = {n for n in self._sent
                          if (t := self.state.targets[n]).ended is None
                          or t.ended.outcome not in REDISPATCH}

    def _countersigned(self, subject: str, what: str) -> bool:
        """Four eyes, when the fleet asks them: a reviewer's countersignature of `subject`
        is kept in the ledger before the operator's own approval is taken."""
        started = self.state.started
        assert started is not None
        if not started.countersign or subject in self.state.countersigned:
            return True
        self.out(f"WAITING: {what} needs a reviewer's countersignature (countersign = true): "
                 f"the reviewer runs `cockpit countersign {self.folder} --key KEY -o "
                 f"{subject.replace(' ', '-')}.sig`, then `cockpit attach-signature "
                 f"{self.folder} FILE` keeps it (on the board: k), then the operator's "
                 "approval goes on")
        return False

    def _dispatch_within_limits(self, wave: PlannedWave) -> None:
        running = self.dispatcher.running
        per_server = self.plan.shape.per_server
        now = self.clock()
        for name in wave.targets:
            if len(running) >= wave.parallel:
                return
            line = self.state.targets[name]
            # one that ended for a person to see to is sent again by the next `fleet resume`
            if line.running or name in running or name in self._sent or (
                    line.ended is not None and line.ended.outcome not in REDISPATCH):
                continue
            target = self.plan.target(name)
            server = self.plan.server_of(target)
            if per_server is not None and sum(
                    1 for other in running
                    if self.plan.server_of(self.plan.target(other)) == server) >= per_server:
                continue
            if target.window is not None:
                if target.window.opens is not None and now < target.window.opens:
                    if name not in self._said_waiting:
                        self._said_waiting.add(name)
                        self.out(f"{name}: waits for its window, opening "
                                 f"{target.window.opens.isoformat()}")
                    continue
                if target.window.closes is not None and now >= target.window.closes:
                    self.append(fr.TargetEnded(target=name, wave=wave.name, outcome="waiting",
                                               detail="its window closed at "
                                               f"{target.window.closes.isoformat()}"))
                    continue
            resume = (target_folder(self.folder, name) / EVENTS).is_file()
            try:
                how = self.dispatcher.dispatch(name)
            except DispatchTrouble:
                return  # said by the dispatcher's note; sent at a later turn
            self._sent.add(name)
            self.append(fr.TargetDispatched(target=name, wave=wave.name,
                                            folder=f"targets/{name}", how=how, resume=resume))
            self.out(f"{name}: {'resumed' if resume else 'dispatched'} ({how})")
            running = self.dispatcher.running

    def _reap(self) -> None:
        for ended in self.dispatcher.ended():
            self._record_end(ended)
        for note in self.dispatcher.notes():
            self._note(note)
        if self.state.halted is None:
            for name in sorted(self.dispatcher.running - self._halted_seen):
                if self._session_halted(name):  # the stop rule acts at the halt, not later
                    self._halted_seen.add(name)
                    self._apply_stop_rule(self.state.targets[name].wave)

    def _note(self, note: Note) -> None:
        if note.resent is not None and note.target is not None:
            line = self.state.targets[note.target]
            self.append(fr.TargetDispatched(target=note.target, wave=line.wave,
                                            folder=f"targets/{note.target}", how=note.resent,
                                            resume=True))
        self.out(note.said)

    def _session_halted(self, name: str) -> bool:
        """Whether a running target's session has halted (read again only once it grew)."""
        path = target_folder(self.folder, name) / EVENTS
        try:
            size = path.stat().st_size
        except OSError:
            return False
        if self._sizes.get(name) == size:
            return False
        self._sizes[name] = size
        try:
            return any(e.type == HALTED for e in read_event_log(path).events)
        except CockpitError:
            return False  # read again at its end, by target_outcome

    def _record_end(self, ended: Ended) -> None:
        line = self.state.targets[ended.target]
        record = target_outcome(target_folder(self.folder, ended.target), ended.target,
                                line.wave, ended.exit_code, ended.said)
        self.append(record)
        detail = f" — {record.detail}" if record.detail else ""
        self.out(f"{ended.target}: {record.outcome}{detail}")
        if record.outcome in HALTED_OUTCOMES:
            self._apply_stop_rule(line.wave)

    def _apply_stop_rule(self, wave: str) -> None:
        seen = {n for n in self._halted_seen if self.state.targets[n].wave == wave}
        halts = sorted(set(self.state.halts(wave)) | seen)
        if self.state.halted is None and len(halts) >= self.plan.shape.stop_after_halts:
            self._halt(wave, halts)

    def _halt(self, wave: str, halts: list[str]) -> None:
        reason = (f"stop rule: {len(halts)} target(s) of wave {wave} halted "
                  f"({', '.join(halts)}); the rule stops at "
                  f"{self.plan.shape.stop_after_halts}")
        write_stop(self.folder, f"the fleet halted — {reason}")
        self.append(fr.FleetHalted(wave=wave, targets=halts, reason=reason))
        running = sorted(self.dispatcher.running - set(halts))
        self.out(f"FLEET HALTED: {reason}; nothing new starts"
                 + (f"; {', '.join(running)} stop before their next step" if running else ""))

    def _end(self, status: str) -> None:
        outcomes = self.state.outcomes()
        self.append(fr.FleetEnded(status=status, outcomes=outcomes))
        self.out(f"FLEET: {status} — {_counts(outcomes)}")


def _counts(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))

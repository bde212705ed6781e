"""`cockpit verify`: the event chain, and every file whose hash the session recorded — all
of them inside the session folder. A published copy in the working folder that changed
since is noted, never counted as damage: the session's own copy is the evidence."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cockpit.errors import CockpitError
from cockpit.evidence.foureyes import check_signatures
from cockpit.evidence.inventory import PINNED_ELSEWHERE, session_files
from cockpit.runbook.model import Runbook
from cockpit.session import events as ev
from cockpit.session import records
from cockpit.session.events import Event
from cockpit.session.integrity import file_problem
from cockpit.session.layout import EVENTS, RUNBOOK_COPY, STEPS
from cockpit.session.logcheck import edited_tail_problem, snapshot_problem, whole_event
from cockpit.session.reader import session_runbook
from cockpit.session.state import SessionState, fold
from cockpit.session.store import EventLog, read_event_log

PACK_REPORT = "report.md"  # the filled checklist an export adds beside the session's files
PACK_ABOUT = "pack.json"  # how the exporting cockpit rendered it (report_format)


def _check_file(path: Path, recorded: str | None, what: str, problems: list[str],
                inside: Path | None = None) -> None:
    """`inside`: the folder the path must not leave (a pack's: nothing outside is read)."""
    if inside is not None and not path.resolve().is_relative_to(inside.resolve()):
        problems.append(f"{what}: the recorded path {path} leads outside the pack")
    elif recorded is not None and (problem := file_problem(path, recorded)) is not None:
        problems.append(f"{what}: {problem}")


@dataclass(frozen=True)
class Verification:
    problems: list[str]  # what does not match: the session is damaged
    notes: list[str]  # what changed outside the session and leaves it intact
    summary: str
    signed: tuple[str, ...] = ()  # who signed what


class _RecordedFiles:
    """The walk over the events: each file an event recorded, checked against its hash —
    one small check per kind of event that records a file."""

    def __init__(self, folder: Path, contained: bool) -> None:
        self.folder = folder
        self.inside = folder if contained else None
        self.problems: list[str] = []
        self.looked: set[tuple[str | Path, str | None]] = set()
        self.exits = 0  # exit records read
        self.started: dict[str, records.StepStarted] = {}  # by run
        self.copies: list[tuple[str, str, str]] = []  # published: (run, path, recorded sha256)

    def check(self, name: str | Path, recorded: str | None, what: str) -> None:
        # `name`: inside the folder, or absolute. A file recorded again with the same hash
        # (an input captured at every gate check) is read once — keyed by its name as
        # recorded (a str for the captures a long session holds a hundred thousand of: no
        # Path built for each); its problem, if any, is reported at the first event naming
        # it.
        if (name, recorded) not in self.looked:
            self.looked.add((name, recorded))
            _check_file(self.folder / name, recorded, what, self.problems, self.inside)

    def check_kept(self, kept: Any, kind: str) -> None:  # a file a probe found (a risk report)
        if not (isinstance(kept, dict) and kept.get("captured")):
            return
        if not kept.get("sha256"):
            self.problems.append(f"file kept by a probe ({kind}): {kept['captured']} has no "
                                 "recorded sha256")
        else:
            self.check(kept["captured"], kept["sha256"], f"file kept by a probe ({kind})")

    def check_written(self, written: str | None, recorded: str | None, event: Event) -> None:
        """A file the cockpit wrote and recorded (diagnostics, the manifest)."""
        if written is None:  # no event the cockpit writes; reported, not a crash
            self.problems.append(f"event {event.seq} ({event.type}) names no file")
        else:
            self.check(written, recorded, event.type.replace("_", " "))

    @property
    def files(self) -> int:
        """Each file once, however often recorded: the runbook copy, logs, captures,
        records."""
        return sum(recorded is not None for _, recorded in self.looked) + self.exits

    def take(self, event: Event) -> None:
        record = records.among(event, _CHECKED)  # only the kinds that record files
        if record is not None and (check := _CHECKS.get(type(record))) is not None:
            check(self, record, event)


_Check = Callable[[_RecordedFiles, Any, Event], None]
_CHECKS: dict[type[records.Record], _Check] = {}
R = TypeVar("R", bound=records.Record)


def _checks(*kinds: type[R]) -> Callable[[Callable[[_RecordedFiles, R, Event], None]],
                                         Callable[[_RecordedFiles, R, Event], None]]:
    """Registers the check of the files that events of these kinds record."""
    def register(check: Callable[[_RecordedFiles, R, Event], None],
                 ) -> Callable[[_RecordedFiles, R, Event], None]:
        _CHECKS.update(dict.fromkeys(kinds, check))
        return check
    return register


@_checks(records.GateEvaluated)
def _gate_evaluated(walk: _RecordedFiles, r: records.GateEvaluated, event: Event) -> None:
    seen = r.observed
    if isinstance(seen, dict):
        if (capture := seen.get("captured")) and (capture, seen["sha256"]) not in walk.looked:
            walk.check(capture, seen["sha256"], "captured input")
        for kept in seen.get("files") or ():
            walk.check_kept(kept, event.type)


@_checks(records.CheckEvaluated)
def _check_evaluated(walk: _RecordedFiles, r: records.CheckEvaluated, event: Event) -> None:
    seen = r.observed
    for kept in seen.get("files") or () if isinstance(seen, dict) else ():
        walk.check_kept(kept, event.type)


@_checks(records.ScriptChecked)
def _script_checked(walk: _RecordedFiles, r: records.ScriptChecked, event: Event) -> None:
    if r.captured:
        walk.check(r.captured, r.observed, "captured input")


@_checks(records.SessionStarted)
def _session_started(walk: _RecordedFiles, r: records.SessionStarted, event: Event) -> None:
    walk.check(RUNBOOK_COPY, r.runbook_sha256, "runbook copy")


@_checks(records.StepStarted)
def _step_started(walk: _RecordedFiles, r: records.StepStarted, event: Event) -> None:
    walk.started[r.run] = r


@_checks(records.StepFinished)
def _step_finished(walk: _RecordedFiles, r: records.StepFinished, event: Event) -> None:
    start = walk.started.get(r.run)
    walk.check((start.log if start else None) or "", r.sha256, f"log of {r.run}")
    if start is not None and start.published:
        walk.copies.append((r.run, start.published, r.sha256))
    if r.radar:
        walk.check(r.radar, r.radar_sha256, f"lock radar of {r.run}")
    path = walk.folder / STEPS / f"{r.run}.exit.json"
    walk.exits += 1
    if path.is_file():
        if json.loads(path.read_text(encoding="utf-8")).get("sha256") != r.sha256:
            walk.problems.append(f"exit record {path} disagrees with event {event.seq}")
    else:
        walk.problems.append(f"exit record {path} is missing")


@_checks(records.LogPreserved)
def _log_preserved(walk: _RecordedFiles, r: records.LogPreserved, event: Event) -> None:
    walk.check(Path(r.moved_to), r.sha256, f"preserved log of {r.step}")  # an older session's


@_checks(records.LogDisplaced)
def _log_displaced(walk: _RecordedFiles, r: records.LogDisplaced, event: Event) -> None:
    walk.check(r.to, r.sha256, f"file displaced by {r.run}")


@_checks(records.DiagnosticsCaptured)
def _diagnostics(walk: _RecordedFiles, r: records.DiagnosticsCaptured, event: Event) -> None:
    walk.check_written(r.file, r.sha256, event)


@_checks(records.EvidenceSealed)
def _sealed(walk: _RecordedFiles, r: records.EvidenceSealed, event: Event) -> None:
    walk.check_written(r.manifest, r.sha256, event)


@_checks(records.DecisionRecorded)
def _decision_recorded(walk: _RecordedFiles, r: records.DecisionRecorded, event: Event) -> None:
    walk.check(r.json_ or "", r.json_sha256, "decision record (JSON)")
    walk.check(r.markdown or "", r.markdown_sha256, "decision record (Markdown)")
    for name, sha in (r.files or {}).items():  # every file, as decided
        walk.check(name, sha, "file pinned by the decision")


@_checks(records.ChecklistWritten)
def _checklist_written(walk: _RecordedFiles, r: records.ChecklistWritten, event: Event) -> None:
    walk.check(r.file, r.sha256, "filled checklist")


@_checks(records.SignatureAttached)
def _signature_attached(walk: _RecordedFiles, r: records.SignatureAttached,
                        event: Event) -> None:
    walk.check(r.file, r.sha256, f"signature ({r.role}, {r.kind})")


_CHECKED = records.kinds_of(*_CHECKS)


def verify_session(folder: Path, contained: bool = False,
                   allowed_signers: Path | None = None) -> Verification:
    """Every recorded hash against the session's own files; no problems means intact.
    Published copies in the working folder are looked at too, and only noted — unless
    `contained` (a pack away from its machine): then nothing outside the folder is read,
    and a recorded path that leads outside it is a problem."""
    try:
        log = read_event_log(folder / EVENTS)
    except CockpitError as exc:
        return Verification([exc.message], [], "")
    events = log.events
    state = fold(events)
    walk = _RecordedFiles(folder, contained)
    for event in events:
        walk.take(event)
    problems, notes = walk.problems, _published_notes(walk, events, contained)
    problems += [p for p in (snapshot_problem(folder, state, events),) if p is not None]
    eyes = check_signatures(folder, events, state, _runbook(folder), allowed_signers)
    problems += eyes.problems
    notes += eyes.notes
    if state.decision is not None and state.decision.pinned:
        problems += _added_after_decision(folder, events, contained)
    problems += _log_problems(folder, log, state)
    torn = f"; a torn last line of {len(log.torn.data)} bytes is ignored" if log.torn else ""
    summary = (f"{len(events)} events chained, {walk.files} recorded files match, "
               f"last hash {state.last_hash[:16]}{torn}")
    return Verification(problems, notes, summary, tuple(eyes.signed))


def _published_notes(walk: _RecordedFiles, events: list[Event], contained: bool) -> list[str]:
    """The published copies that changed since (a copy a later session displaced, kept in
    that session, aside): noted, the session's own copy being the evidence."""
    if contained:
        return []
    kept = {(r.from_, r.sha256) for r in records.of_kind(events, records.LogDisplaced)}
    return [f"published copy of {run} {note}; the session's copy is intact"
            for run, path, sha in walk.copies if (path, sha) not in kept
            and (note := _published_note(Path(path), sha)) is not None]


def _log_problems(folder: Path, log: EventLog, state: SessionState) -> list[str]:
    """What the event log's tail shows: bytes added to a closed session, an edited tail."""
    problems = []
    if log.torn is not None and state.closed and not whole_event(log.torn.data):
        problems.append(f"{folder / EVENTS}: {len(log.torn.data)} bytes after its last event, "
                        "in a closed session: added after writing (or an append torn by a "
                        "crash: opening the session to attach sets those aside)")
    if (edited := edited_tail_problem(folder, log)) is not None:
        problems.append(edited)
    return problems


def _added_after_decision(folder: Path, events: list[Event], contained: bool) -> list[str]:
    """Files of a decided session that neither the decision's inventory nor a later event
    accounts for: put there afterwards, by hand."""
    decided = next(i for i, e in enumerate(events) if e.type == ev.DECISION_RECORDED)
    decision = records.typed(events[decided], records.DecisionRecorded)
    known = {*((decision.files if decision else None) or {}), *PINNED_ELSEWHERE}
    before = events[:decided]
    started = {r.run for r in records.of_kind(before, records.StepStarted)}
    ended: set[str | None] = {r.run for r in records.of_kind(before, records.StepFinished)}
    for kind in (records.StepInterrupted, records.StepNotStarted):
        ended.update(r.run for r in records.of_kind(before, kind))
    # a run going at the decision (a halted step being stopped) keeps writing its own files
    runs = [f"{STEPS}/{run}." for run in started - ended if run is not None]
    for event in events[decided + 1:]:
        known.update(records.files_named(event))
        if (finished := records.typed(event, records.StepFinished)) is not None:
            runs.append(f"{STEPS}/{finished.run}.")  # a halted step that ended after it
    if contained:
        known.update((PACK_REPORT, PACK_ABOUT))
    return [f"{folder / name}: added after the decision (no event records it)"
            for relative in session_files(folder)
            if (name := relative.as_posix()) not in known
            and not any(name.startswith(run) for run in runs)]


def _runbook(folder: Path) -> Runbook | None:
    try:
        return session_runbook(folder)
    except CockpitError:  # its copy is checked by hash above; the count of
        return None  # countersignatures it requires is then not known


def _published_note(path: Path, recorded: str) -> str | None:
    """How a published copy differs from what the step wrote, in words; None if it does
    not (a later session moving it away, or anyone editing it, leaves the evidence)."""
    problem = file_problem(path, recorded)
    if problem is None:
        return None
    if not path.exists():
        return f"{path} is gone since (moved or removed)"
    return f"{path} changed since"

"""`cockpit verify`: the event chain, and every file whose hash the session recorded — all
of them inside the session folder. A published copy in the working folder that changed
since is noted, never counted as damage: the session's own copy is the evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError
from cockpit.evidence.foureyes import check_signatures
from cockpit.evidence.inventory import PINNED_ELSEWHERE, session_files
from cockpit.runbook.model import Runbook
from cockpit.session import events as ev
from cockpit.session.events import Event
from cockpit.session.integrity import file_problem
from cockpit.session.layout import EVENTS, RUNBOOK_COPY, STEPS
from cockpit.session.logcheck import edited_tail_problem, snapshot_problem, whole_event
from cockpit.session.reader import session_runbook
from cockpit.session.state import fold
from cockpit.session.store import read_event_log

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


def verify_session(folder: Path, contained: bool = False,
                   allowed_signers: Path | None = None) -> Verification:
    """Every recorded hash against the session's own files; no problems means intact.
    Published copies in the working folder are looked at too, and only noted — unless
    `contained` (a pack away from its machine): then nothing outside the folder is read,
    and a recorded path that leads outside it is a problem."""
    problems: list[str] = []
    try:
        log = read_event_log(folder / EVENTS)
    except CockpitError as exc:
        return Verification([exc.message], [], "")
    events = log.events
    state = fold(events)
    inside = folder if contained else None

    looked: set[tuple[str | Path, str | None]] = set()

    def check(name: str | Path, recorded: str | None, what: str) -> None:
        # `name`: inside the folder, or absolute. A file recorded again with the same hash
        # (an input captured at every gate check) is read once — keyed by its name as
        # recorded (a str for the captures a long session holds a hundred thousand of: no
        # Path built for each); its problem, if any, is reported at the first event naming
        # it.
        if (name, recorded) not in looked:
            looked.add((name, recorded))
            _check_file(folder / name, recorded, what, problems, inside)

    def check_kept(kept: Any, kind: str) -> None:  # a file a probe found (a risk report)
        if not (isinstance(kept, dict) and kept.get("captured")):
            return
        if not kept.get("sha256"):
            problems.append(f"file kept by a probe ({kind}): {kept['captured']} has no "
                            "recorded sha256")
        else:
            check(kept["captured"], kept["sha256"], f"file kept by a probe ({kind})")

    exits = 0
    started: dict[str, dict[str, Any]] = {}
    copies: list[tuple[str, str, str]] = []  # published: (run, path, recorded sha256)
    kept = {(e.data["from"], e.data["sha256"]) for e in events if e.type == ev.LOG_DISPLACED}
    for event in events:
        d = event.data
        if event.type == ev.GATE_EVALUATED:  # most events: first, and the least work
            seen = d.get("observed")
            if isinstance(seen, dict):
                if (capture := seen.get("captured")) and (capture, seen["sha256"]) not in looked:
                    check(capture, seen["sha256"], "captured input")
                for kept in seen.get("files") or ():
                    check_kept(kept, event.type)
        elif event.type == ev.CHECK_EVALUATED:
            seen = d.get("observed")
            for kept in seen.get("files") or () if isinstance(seen, dict) else ():
                check_kept(kept, event.type)
        elif event.type == ev.SCRIPT_CHECKED:
            if capture := d.get("captured"):
                check(capture, d["observed"], "captured input")
        elif event.type == ev.SESSION_STARTED:
            check(RUNBOOK_COPY, d["runbook_sha256"], "runbook copy")
        elif event.type == ev.STEP_STARTED:
            started[d["run"]] = d
        elif event.type == ev.STEP_FINISHED:
            start = started.get(d["run"], {})
            check(start.get("log") or "", d["sha256"], f"log of {d['run']}")
            if start.get("published"):
                copies.append((d["run"], start["published"], d["sha256"]))
            if d.get("radar"):
                check(d["radar"], d.get("radar_sha256"), f"lock radar of {d['run']}")
            record = folder / STEPS / f"{d['run']}.exit.json"
            exits += 1
            if record.is_file():
                if json.loads(record.read_text(encoding="utf-8")).get("sha256") != d["sha256"]:
                    problems.append(f"exit record {record} disagrees with event {event.seq}")
            else:
                problems.append(f"exit record {record} is missing")
        elif event.type == ev.LOG_PRESERVED:  # an older session's renamed log
            check(Path(d["moved_to"]), d["sha256"], f"preserved log of {d['step']}")
        elif event.type == ev.LOG_DISPLACED:
            check(d["to"], d["sha256"], f"file displaced by {d['run']}")
        elif event.type in (ev.DIAGNOSTICS_CAPTURED, ev.EVIDENCE_SEALED):
            written = d.get("file") or d.get("manifest")
            if written is None:  # no event the cockpit writes; reported, not a crash
                problems.append(f"event {event.seq} ({event.type}) names no file")
            else:
                check(written, d["sha256"], event.type.replace("_", " "))
        elif event.type == ev.DECISION_RECORDED:
            check(d["json"], d["json_sha256"], "decision record (JSON)")
            check(d["markdown"], d["markdown_sha256"], "decision record (Markdown)")
            for name, sha in (d.get("files") or {}).items():  # every file, as decided
                check(name, sha, "file pinned by the decision")
        elif event.type == ev.CHECKLIST_WRITTEN:
            check(d["file"], d["sha256"], "filled checklist")
        elif event.type == ev.SIGNATURE_ATTACHED:
            check(d["file"], d["sha256"], f"signature ({d['role']}, {d['kind']})")
    # each file once, however often recorded: the runbook copy, logs, captures, records
    files = sum(recorded is not None for _, recorded in looked) + exits
    notes = [f"published copy of {run} {note}; the session's copy is intact"
             for run, path, sha in ([] if contained else copies) if (path, sha) not in kept
             and (note := _published_note(Path(path), sha)) is not None]
    problems += [p for p in (snapshot_problem(folder, state, events),) if p is not None]
    eyes = check_signatures(folder, events, state, _runbook(folder), allowed_signers)
    problems += eyes.problems
    notes += eyes.notes
    if state.decision is not None and state.decision.pinned:
        problems += _added_after_decision(folder, events, contained)
    if log.torn is not None and state.closed and not whole_event(log.torn.data):
        problems.append(f"{folder / EVENTS}: {len(log.torn.data)} bytes after its last event, "
                        "in a closed session: added after writing (or an append torn by a "
                        "crash: opening the session to attach sets those aside)")
    if (edited := edited_tail_problem(folder, log)) is not None:
        problems.append(edited)
    torn = f"; a torn last line of {len(log.torn.data)} bytes is ignored" if log.torn else ""
    summary = (f"{len(events)} events chained, {files} recorded files match, "
               f"last hash {state.last_hash[:16]}{torn}")
    return Verification(problems, notes, summary, tuple(eyes.signed))


def _added_after_decision(folder: Path, events: list[Event], contained: bool) -> list[str]:
    """Files of a decided session that neither the decision's inventory nor a later event
    accounts for: put there afterwards, by hand."""
    decided = next(i for i, e in enumerate(events) if e.type == ev.DECISION_RECORDED)
    known = {*(events[decided].data.get("files") or {}), *PINNED_ELSEWHERE}
    started = {e.data["run"] for e in events[:decided] if e.type == ev.STEP_STARTED}
    ended = {e.data["run"] for e in events[:decided] if e.type in (
        ev.STEP_FINISHED, ev.STEP_INTERRUPTED, ev.STEP_NOT_STARTED)}
    # a run going at the decision (a halted step being stopped) keeps writing its own files
    runs = [f"{STEPS}/{run}." for run in started - ended]
    for event in events[decided + 1:]:
        d = event.data
        known.update(str(d[key]) for key in ("file", "to", "manifest") if d.get(key))
        if event.type == ev.STEP_FINISHED:  # a halted step that ended after the decision
            runs.append(f"{STEPS}/{d['run']}.")
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

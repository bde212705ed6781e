"""`cockpit verify FLEET`: the fleet's ledger chained, its pinned copies matching their
pins, and every target's session checked against the ledger — it verifies on its own, it
names this fleet, this target, this runbook and targets file, and its decision and manifest
are the ones the ledger pinned when it ended. A session the ledger never sent is named."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.evidence import signing
from cockpit.evidence.verify import verify_session
from cockpit.fleet import records as fr
from cockpit.fleet.folder import (
    ANSWERS_COPY,
    TARGETS,
    TARGETS_COPY,
    ledger_folder,
    sha256_of,
    target_folder,
)
from cockpit.fleet.ledger import FleetState, TargetLine, fleet_record, fold_fleet
from cockpit.fleet.outcome import MANIFEST, session_now
from cockpit.fleet.statements import approval_statement
from cockpit.session import records as sr
from cockpit.session.events import Event
from cockpit.session.layout import EVENTS, RUNBOOK_COPY
from cockpit.session.store import read_event_log


@dataclass
class FleetVerification:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one per target
    summary: str = ""


def verify_fleet(folder: Path, contained: bool = False) -> FleetVerification:
    result = FleetVerification()
    ledger = ledger_folder(folder)
    try:
        log = read_event_log(ledger / EVENTS)
    except CockpitError as exc:
        result.problems.append(exc.message)
        return result
    state = fold_fleet(log.events)
    if state.started is None:
        result.problems.append(f"{ledger / EVENTS}: no fleet_started event: not a fleet")
        return result
    _check_pins(ledger, state, result)
    _check_countersignatures(ledger, log.events, result)
    sent = 0
    for line in state.targets.values():
        if line.dispatched:
            sent += 1
            _check_target(folder, state, line, contained, result)
        elif (target_folder(folder, line.name) / EVENTS).exists():
            result.problems.append(f"{target_folder(folder, line.name)}: a session the "
                                   "ledger never sent")
    known = set(state.targets)
    for extra in sorted((folder / TARGETS).iterdir() if (folder / TARGETS).is_dir() else []):
        if extra.name not in known:
            result.problems.append(f"{extra}: no target of this fleet is named so")
    torn = f"; a torn last line of {len(log.torn.data)} bytes is ignored" if log.torn else ""
    result.summary = (f"ledger: {len(log.events)} events chained, last hash "
                      f"{state.last_hash[:16]}; {sent} of {len(state.targets)} targets sent, "
                      f"each checked{torn}")
    return result


def _check_pins(ledger: Path, state: FleetState, result: FleetVerification) -> None:
    started = state.started
    assert started is not None
    pins = [(RUNBOOK_COPY, started.runbook_sha256), (TARGETS_COPY, started.targets_sha256)]
    if started.answers_sha256 is not None:
        pins.append((ANSWERS_COPY, started.answers_sha256))
    for name, pinned in pins:
        try:
            found = sha256_of(ledger / name)
        except OSError as exc:
            result.problems.append(f"{ledger / name}: cannot be read ({exc.strerror})")
            continue
        if found != pinned:
            result.problems.append(f"{ledger / name}: sha256 {found[:16]}… is not the one "
                                   f"the fleet pinned ({pinned[:16]}…)")


def _check_countersignatures(ledger: Path, events: list[Event],
                             result: FleetVerification) -> None:
    """Each countersignature the ledger kept: its file as recorded, a reviewer's signature
    by the key it names, over the statement the ledger gave when it was attached."""
    for index, event in enumerate(events):
        record = fleet_record(event)
        if not isinstance(record, fr.ApprovalCountersigned):
            continue
        path = ledger / record.file
        try:
            raw = path.read_bytes()
        except OSError as exc:
            result.problems.append(f"{path}: countersignature of {record.subject} cannot be "
                                   f"read ({exc.strerror})")
            continue
        if hashlib.sha256(raw).hexdigest() != record.sha256:
            result.problems.append(f"{path}: countersignature of {record.subject} changed "
                                   "since it was attached (its sha256 differs)")
            continue
        try:
            doc = signing.read_signature(raw, str(path))
            made_by = signing.signer_of(doc.signature, signing.file_signed_bytes(doc))
        except CockpitError as exc:
            result.problems.append(exc.message)
            continue
        if doc.statement != approval_statement(record.subject, events[:index]) or \
                made_by != record.fingerprint:
            result.problems.append(f"{path}: does not countersign the fleet's "
                                   f"{record.subject} as its ledger stood")
        else:
            result.lines.append(f"countersigned {record.subject}: {record.identity} "
                                f"({record.fingerprint})")


def _check_target(folder: Path, state: FleetState, line: TargetLine, contained: bool,
                  result: FleetVerification) -> None:
    session = target_folder(folder, line.name)
    name = line.name
    if not (session / EVENTS).is_file():
        if line.ended is not None and line.ended.outcome == "failed":
            result.lines.append(f"{name}: failed before its session began — "
                                f"{line.ended.detail}")
        else:
            result.problems.append(f"{session}: the ledger sent it, and it has no session")
        return
    checked = verify_session(session, contained=contained)
    result.problems += [f"{name}: {p}" for p in checked.problems]
    events = read_event_log(session / EVENTS).events
    result.problems += [f"{name}: {p}" for p in _against_ledger(state, line, events)]
    outcome = line.ended.outcome if line.ended else "running"
    said = "verify ok" if not checked.problems else f"{len(checked.problems)} problem(s)"
    now = session_now(session)
    later = f"; its session now: {now} (after the ledger's record)" \
        if now is not None and now != outcome else ""
    result.lines.append(f"{name}: {outcome}{later} — {said} ({checked.summary})")


def _against_ledger(state: FleetState, line: TargetLine, events: list[Event]) -> list[str]:
    started = state.started
    assert started is not None
    first = sr.typed(events[0], sr.SessionStarted) if events else None
    if first is None:
        return ["its first event is no session_started"]
    problems = []
    ref = first.fleet
    if ref is None or ref.fleet_id != started.fleet_id or ref.target != line.name:
        problems.append(f"its session names {'no fleet' if ref is None else ref.fleet_id} "
                        f"{'' if ref is None else 'target ' + ref.target}, not "
                        f"{started.fleet_id} target {line.name}")
    elif ref.targets_sha256 != started.targets_sha256:
        problems.append("its session took its values from another targets file")
    if first.runbook_sha256 != started.runbook_sha256:
        problems.append("its session ran another runbook than the fleet pinned")
    ended = line.ended
    if ended is None or ended.decision_seq is None:
        return problems
    decided = events[ended.decision_seq - 1] if len(events) >= ended.decision_seq else None
    record = sr.typed(decided, sr.DecisionRecorded) if decided is not None else None
    if decided is None or record is None or decided.hash != ended.decision_hash:
        problems.append(f"its decision is not the event the ledger pinned (seq "
                        f"{ended.decision_seq}, hash {(ended.decision_hash or '')[:16]}…)")
    elif ended.manifest_sha256 and (record.files or {}).get(MANIFEST) not in (
            None, ended.manifest_sha256):
        problems.append("its manifest is not the one the ledger pinned at its decision")
    return problems

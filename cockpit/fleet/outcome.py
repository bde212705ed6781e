"""Where a target's session stands once its process ended, read from its own events (never
from what the process said): its decision with the event that records it and the manifest's
sha256 pinned there, a halt without a decision yet, a stop, or a wait for a person."""

from __future__ import annotations

from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.fleet import records as fr
from cockpit.session import records as sr
from cockpit.session.events import Event
from cockpit.session.inert import inert
from cockpit.session.layout import EVENTS
from cockpit.session.records import record_of
from cockpit.session.state import SessionState, fold
from cockpit.session.store import read_event_log

MANIFEST = "evidence/manifest.json"


def target_outcome(folder: Path, target: str, wave: str, exit_code: int | None,
                   said: str = "") -> fr.TargetEnded:
    """The `target_ended` record for the session in `folder`; `said`: the last line its
    process printed, kept when the session does not say more."""
    path = folder / EVENTS
    if not path.is_file():
        return fr.TargetEnded(target=target, wave=wave, outcome="failed", exit_code=exit_code,
                              detail=said or "no session was started")
    try:
        events = read_event_log(path).events
    except CockpitError as exc:
        return fr.TargetEnded(target=target, wave=wave, outcome="failed", exit_code=exit_code,
                              detail=f"its session cannot be read: {exc.message}")
    state = fold(events)
    last = events[-1] if events else None
    common = {"target": target, "wave": wave, "exit_code": exit_code,
              "last_hash": last.hash if last else None, "events": len(events)}
    decided = next((e for e in reversed(events) if e.type == sr.DecisionRecorded.KIND), None)
    if decided is not None:
        record = record_of(decided)
        assert isinstance(record, sr.DecisionRecorded)
        manifest = (record.files or {}).get(MANIFEST) or _sealed_manifest(events)
        detail = (state.halt.line or state.halt.reason) if state.halt is not None else ""
        return fr.TargetEnded(outcome=record.status, decision_seq=decided.seq,
                              decision_hash=decided.hash, manifest_sha256=manifest,
                              detail=detail, **common)
    if state.halt is not None:
        return fr.TargetEnded(outcome="halted", detail=state.halt.line or state.halt.reason,
                              **common)
    if said.startswith("STOPPED "):  # "STOPPED before step X: why (file); resumable: …"
        return fr.TargetEnded(outcome="stopped", detail=said[len("STOPPED "):].split(":")[0],
                              **common)
    return fr.TargetEnded(outcome="waiting", detail=said or "stopped before its decision",
                          **common)


def _sealed_manifest(events: list[Event]) -> str | None:
    for event in reversed(events):
        record = record_of(event)
        if isinstance(record, sr.EvidenceSealed):
            return record.sha256
    return None


def taken_over(state: SessionState) -> str:
    """", taken over from HOST" for each time the session's lock was taken from a cockpit
    that was gone (a lost worker), else ""."""
    hosts = [str(t.previous.get("host", "?")) if isinstance(t.previous, dict) else "?"
             for t in state.takeovers]
    return "".join(f", taken over from {inert(host)}" for host in hosts)


def session_now(folder: Path) -> str | None:
    """Where a target's session stands now, in the ledger's words (its decision, `halted`),
    None while it has neither (or no session): a target taken up after the ledger recorded
    its end — by a person, or by its own process after the fleet's stopped — shows here."""
    state = session_state(folder)
    return None if state is None else decided_word(state)


def decided_word(state: SessionState) -> str | None:
    if state.decision is not None:
        return state.decision.status
    return "halted" if state.halt is not None else None


def session_state(folder: Path) -> SessionState | None:
    """The session in `folder` as its events fold; None: none yet, or it cannot be read."""
    try:
        return fold(read_event_log(folder / EVENTS).events)
    except (CockpitError, OSError):
        return None

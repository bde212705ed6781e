"""The events of a session: the one source of truth everything else is folded from.

Each event is a fact, frozen once written: its sequence number, UTC time, actor, type, data,
the hash of the event before it and its own hash over all of that (a tamper-evident chain).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import msgspec

GENESIS = "0" * 64

# Event types. What each one records is its record's fields, in records.py (one model per
# type); the fold (state.py) gives them meaning.
SESSION_STARTED = "session_started"
WORKDIR_OVERRIDDEN = "workdir_overridden"
SESSION_RESUMED = "session_resumed"
OPERATOR_CHANGED = "operator_changed"
LOCK_TAKEN_OVER = "lock_taken_over"
TORN_TAIL_SET_ASIDE = "torn_tail_set_aside"
GATE_ATTESTED = "gate_attested"
GATE_EVALUATED = "gate_evaluated"
SETUP_CHECKED = "setup_checked"
SCRIPT_CHECKED = "script_checked"
SETUP_CONFIRMED = "setup_confirmed"
STEP_STARTED = "step_started"
STEP_FINISHED = "step_finished"
STEP_CANCEL_ASKED = "step_cancel_asked"
STEP_INTERRUPTED = "step_interrupted"
STEP_NOT_STARTED = "step_not_started"
STEP_RESOLVED = "step_resolved"
LOG_DISPLACED = "log_displaced"
LOG_PRESERVED = "log_preserved"
CHECK_EVALUATED = "check_evaluated"
MANUAL_CONFIRMED = "manual_confirmed"
HALTED = "halted"
DIAGNOSTICS_CAPTURED = "diagnostics_captured"
HALT_ITEM_DONE = "halt_item_done"
EVIDENCE_SEALED = "evidence_sealed"
DECISION_RECORDED = "decision_recorded"
FAULT_NOTED = "fault_noted"
REHEARSAL_MOVED = "rehearsal_moved"
REHEARSAL_LINKED = "rehearsal_linked"
DRIFT_NOTED = "drift_noted"
SIGNATURE_ATTACHED = "signature_attached"
CHECKLIST_WRITTEN = "checklist_written"
PASSWORD_ENTERED = "password_entered"
RESTORE_POINT = "restore_point"
RETRY_SCHEDULED = "retry_scheduled"
RETRY_DROPPED = "retry_dropped"
RETRY_RESUMED = "retry_resumed"
HOLD_RELEASED = "hold_released"
STEP_PAUSE_ASKED = "step_pause_asked"
GATES_CHECKED = "gates_checked"
NOTICE_SENT = "notice_sent"


# The envelope is a msgspec Struct, not a pydantic model: reading a long session builds one
# per line, and msgspec decodes and checks the whole log into these in a tenth of the time
# (bench/resume.py). The typed content of `data` is pydantic's, in records.py, and only
# records.py reads `data`: `records.record_of(event)` is the event's record, decoded once
# and kept in the event's `__dict__` (dict=True), never in the fields that are written.
class Actor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    host: str


class Event(msgspec.Struct, frozen=True, forbid_unknown_fields=True, dict=True):
    seq: int
    ts: str
    actor: Actor
    type: str
    data: dict[str, Any]
    prev: str
    hash: str

    def recomputed_hash(self) -> str:
        """The hash its content gives (a line whose hash is not this was altered)."""
        return event_hash(self.seq, self.ts, self.actor, self.type, self.data, self.prev)

    def line(self) -> bytes:
        """The event as one line of events.jsonl."""
        return (canonical(msgspec.structs.asdict(self) | {"actor": _actor(self.actor)})
                + "\n").encode("utf-8")


def _actor(actor: Actor) -> dict[str, str]:
    return {"name": actor.name, "host": actor.host}


# One encoder for every event: json.dumps with options builds a new one per call, which
# was a third of the time `status` took on a long session.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
HASH_FIELD = b',"hash":"'


def canonical(value: Any) -> str:
    return _CANONICAL.encode(value)


def written_hash(raw: bytes, start: int = 0, stop: int | None = None) -> str | None:
    """The hash of the line `raw[start:stop]` as written (canonical JSON, keys sorted) once
    its own `"hash"` field is taken out — the same bytes `event_hash` would encode, without
    encoding them again — if that field holds it; None when the line does not show it
    this way, and the caller then checks the canonical form, so a line written otherwise
    is still judged by its content."""
    stop = len(raw) if stop is None else stop
    # Keys are sorted: after "hash" come only prev, seq, ts and type (strings and an int,
    # whose values cannot hold an unescaped quote), so the last match is the top-level one.
    cut = raw.rfind(HASH_FIELD, start, stop)
    if cut < 0:
        return None
    value = cut + len(HASH_FIELD)
    after = value + 65  # 64 hex digits and the closing quote
    if raw[after - 1:after] != b'"':
        return None
    digest = hashlib.sha256(raw[start:cut] + raw[after:stop]).hexdigest()
    return digest if raw[value:after - 1] == digest.encode() else None


def event_hash(seq: int, ts: str, actor: Actor, type_: str, data: dict[str, Any],
               prev: str) -> str:
    body = {"seq": seq, "ts": ts, "actor": _actor(actor), "type": type_, "data": data,
            "prev": prev}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def make_event(seq: int, actor: Actor, type_: str, data: dict[str, Any], prev: str,
               now: datetime | None = None) -> Event:
    ts = (now or datetime.now(UTC)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return Event(seq=seq, ts=ts, actor=actor, type=type_, data=data, prev=prev,
                 hash=event_hash(seq, ts, actor, type_, data, prev))

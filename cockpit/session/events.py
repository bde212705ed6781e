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

# Event types. Data keys are documented beside each; the fold (state.py) gives them meaning.
SESSION_STARTED = "session_started"  # runbook_path, runbook_id, title, production, pins, workdir
WORKDIR_OVERRIDDEN = "workdir_overridden"  # item, approved (the runbook's), used, by
SESSION_RESUMED = "session_resumed"  # pid
OPERATOR_CHANGED = "operator_changed"  # previous, operator: resumed by another (--operator)
LOCK_TAKEN_OVER = "lock_taken_over"  # previous: the dead holder's lock info
TORN_TAIL_SET_ASIDE = "torn_tail_set_aside"  # offset, bytes, sha256, file
GATE_ATTESTED = "gate_attested"  # gate, reference
GATE_EVALUATED = "gate_evaluated"  # gate, ok, expected, observed, detail, seconds
SETUP_CHECKED = "setup_checked"  # item, ok, detail
SCRIPT_CHECKED = "script_checked"  # path, ok, expected, observed
SETUP_CONFIRMED = "setup_confirmed"  # item, note, assumed: a setup line the operator confirmed
STEP_STARTED = "step_started"  # step, phase, run, command, log (in the session), published
STEP_FINISHED = "step_finished"  # step, run, exit_code, ok, bytes, lines, sha256, abort,
#                                   publish_error (the published copy could not be written)
STEP_CANCEL_ASKED = "step_cancel_asked"  # step, run: the operator stops a read-only step; its
#                                          step_finished (not ok) then leaves it cancelled
STEP_INTERRUPTED = "step_interrupted"  # step, run, detail
STEP_NOT_STARTED = "step_not_started"  # step, run, detail (its child provably never ran)
STEP_RESOLVED = "step_resolved"  # step, run, outcome (passed|failed), note, probe
LOG_DISPLACED = "log_displaced"  # step, run, from, to, sha256, bytes (a file at the log path)
LOG_PRESERVED = "log_preserved"  # step, log, moved_to, sha256: sessions before LOG_DISPLACED
CHECK_EVALUATED = "check_evaluated"  # step, ok, expected, observed, detail
MANUAL_CONFIRMED = "manual_confirmed"  # step, note
HALTED = "halted"  # reason, by (operator|abort_rule|failure), step, rule, line
DIAGNOSTICS_CAPTURED = "diagnostics_captured"  # file, sha256, probes
HALT_ITEM_DONE = "halt_item_done"  # item, note
EVIDENCE_SEALED = "evidence_sealed"  # manifest, sha256, present, missing
DECISION_RECORDED = "decision_recorded"  # status, fields, json, markdown (+ their sha256)
FAULT_NOTED = "fault_noted"  # action, error (redacted): the cockpit itself failed at a task
REHEARSAL_MOVED = "rehearsal_moved"  # folder: the linked rehearsal, found (same identity) there
REHEARSAL_LINKED = "rehearsal_linked"  # rehearsal, replaced: linked (again) before any step ran
DRIFT_NOTED = "drift_noted"  # kind (step_slow|forecast_late), step, run, running_s,
#                               rehearsed_s, forecast_end, window_end: against the rehearsal
SIGNATURE_ATTACHED = "signature_attached"  # role (operator|reviewer), kind (decision|transcript),
#                                         file, sha256, fingerprint, identity, statement_sha256
CHECKLIST_WRITTEN = "checklist_written"  # file, sha256: the filled checklist at the decision
PASSWORD_ENTERED = "password_entered"  # vars: the DSNs given a new password (never the value)


# The envelope is a msgspec Struct, not a pydantic model: reading a long session builds one
# per line, and msgspec decodes and checks the whole log into these in a tenth of the time
# (bench/resume.py). The typed content of `data` is pydantic's, in records.py.
class Actor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    host: str


class Event(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seq: int
    ts: str
    actor: Actor
    type: str
    data: dict[str, Any]
    prev: str
    hash: str

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

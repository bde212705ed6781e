"""What each kind of event records: one pydantic model per event type.

The controller appends records, never loose dicts: a misspelt key, a missing one or a value
of the wrong type is refused before it reaches the log. A record is written as the dict of
the fields it was given (`exclude_unset`), so `events.jsonl` holds the same bytes as before
records existed, and sessions written before still read: fields a session may lack have
defaults, and keys a record does not name are kept (extra="allow"), never dropped.
Values are `Any` where the event keeps a probe's answer as it came (a number must stay a
number: no coercion that would change a byte).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from cockpit.session import events as ev
from cockpit.session.events import Event


class Record(BaseModel):
    # A key that is a Python word or a BaseModel name ("from", "json") is a field with an
    # alias: read by either, always written by the alias, as the event has it.
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True,
                              serialize_by_alias=True)
    KIND: ClassVar[str]

    def data(self) -> dict[str, Any]:
        """The event's data: exactly the fields given, as they were given."""
        return self.model_dump(exclude_unset=True)


class RehearsalLink(BaseModel):
    folder: str
    session_id: str
    last_hash: str  # its identity: the hash of its last event when linked
    events: int


class SigningKeyRef(BaseModel):
    """The operator's signing key, declared with --sign-key: its fingerprint and identity
    (never the key)."""

    fingerprint: str
    identity: str


class FleetTarget(BaseModel):
    """The fleet a session is one target of (`cockpit fleet run`): the fleet's folder and id,
    the target's name and wave, who approved that wave (and the reviewer who countersigned
    it, when the fleet asks for four eyes), and the pin of the targets file its environment
    values came from."""

    fleet_id: str
    folder: str
    target: str
    wave: str
    approved_by: str
    targets_sha256: str
    countersigned_by: str | None = None  # the reviewer who countersigned that approval


class SessionStarted(Record):
    KIND = ev.SESSION_STARTED
    session_id: str
    runbook_path: str
    runbook_id: str
    title: str
    production: bool
    runbook_sha256: str
    transcript_sha256: str
    workdir: str
    pid: int | None = None
    # the backend repository's HEAD as the session started (a later session proves against it)
    git_head: str | None = None
    git_dirty: bool | None = None  # tracked files differed from that HEAD
    # the rehearsal this cutover is proved by (`--rehearsal`): its folder, id and last hash
    rehearsal: RehearsalLink | None = None
    sign_key: SigningKeyRef | None = None  # --sign-key: the decision will be signed with it
    environment: str | None = None  # --environment: whose values the setup is checked against
    # a fleet target's own values (database, host, workdir) in place of the environment's
    environment_values: dict[str, str] | None = None
    fleet: FleetTarget | None = None  # the fleet this session is one target of
    # where the named logs are published in place of the working directory (a fleet's
    # targets share one working directory; each publishes in a folder of its own)
    publish_root: str | None = None


class WorkdirOverridden(Record):
    """The runbook's working directory replaced for this session (`item`, the approved
    path, the one used)."""

    KIND = ev.WORKDIR_OVERRIDDEN
    item: str
    approved: str
    used: str


class SessionResumed(Record):
    KIND = ev.SESSION_RESUMED
    pid: int | None = None
    sign_key: SigningKeyRef | None = None


class OperatorChanged(Record):
    """Resumed by another operator (--operator)."""

    KIND = ev.OPERATOR_CHANGED
    previous: str
    operator: str


class LockTakenOver(Record):
    KIND = ev.LOCK_TAKEN_OVER
    previous: Any = None  # the dead holder's lock file, as it was


class TornTailSetAside(Record):
    KIND = ev.TORN_TAIL_SET_ASIDE
    offset: int
    bytes: int
    sha256: str
    file: str


class GateAttested(Record):
    KIND = ev.GATE_ATTESTED
    gate: str
    reference: str


class _Outcome(Record):
    """What a check found: passed or not, what was expected and what was seen."""

    ok: bool
    expected: Any = None
    observed: Any = None
    detail: str | None = None


class GateEvaluated(_Outcome):
    KIND = ev.GATE_EVALUATED
    gate: str
    reached: bool = True  # written only when False: the probe could not answer
    seconds: float | None = None  # how long its probe took (sessions before: not known)


class SetupChecked(Record):
    KIND = ev.SETUP_CHECKED
    item: str
    ok: bool
    observed: Any = None
    detail: str | None = None
    pins: dict[str, str] | None = None  # a verify-full DSN's CA file -> its sha256


class SetupConfirmed(Record):
    KIND = ev.SETUP_CONFIRMED
    item: str
    note: str | None = None
    assumed: bool | None = None  # --assume-yes in a rehearsal: nobody looked


class ScriptChecked(Record):
    KIND = ev.SCRIPT_CHECKED
    path: str
    ok: bool
    expected: str | None = None
    observed: str | None = None
    detail: str | None = None
    captured: str | None = None


class StepStarted(Record):
    KIND = ev.STEP_STARTED
    step: str
    phase: str | None = None
    run: str
    command: str | None = None
    log: str | None = None
    published: str | None = None
    abort_rules: list[str] | None = None
    # an Alembic upgrade: the revisions it is expected to run, in order ([]: not known), and
    # the database's revisions it starts from (a later session's path is worked out from them)
    path: list[str] | None = None
    start: list[str] | None = None
    # a `per_revision` step: the revisions this run upgrades one at a time, and the hold it
    # stops before (None: none on its path, or all released)
    plan: list[str] | None = None
    stop_before: str | None = None


class StepCancelAsked(Record):
    """The operator stops a read-only step; its step_finished (not ok) then leaves it
    cancelled."""

    KIND = ev.STEP_CANCEL_ASKED
    step: str
    run: str


class StepFinished(Record):
    KIND = ev.STEP_FINISHED
    step: str
    run: str
    exit_code: int | None
    ok: bool
    bytes: int
    lines: int
    sha256: str
    abort: dict[str, Any] | None = None
    ended_at: str
    detail: str | None = None
    last_line: str | None = None
    publish_error: str | None = None
    cancelled: bool = False  # written only when True: stopped as the operator asked
    # the lock radar's samples of the run (written only when a watcher ran)
    radar: str | None = None
    radar_sha256: str | None = None
    radar_samples: int | None = None
    # a `per_revision` run: the revisions it committed, and where it stopped between two
    # (`stop`: hold | pause) — the step is then held or paused, not passed
    done: list[str] | None = None
    stopped_before: str | None = None
    stop: str | None = None


class _StepUnfinished(Record):
    """A run that ended without its exit record, and why."""

    step: str
    run: str | None = None
    detail: str | None = None


class StepInterrupted(_StepUnfinished):
    KIND = ev.STEP_INTERRUPTED


class StepNotStarted(_StepUnfinished):
    """Its child provably never ran: as if never asked, it may be started again."""

    KIND = ev.STEP_NOT_STARTED


class StepResolved(Record):
    KIND = ev.STEP_RESOLVED
    step: str
    outcome: str
    note: str | None = None
    probe: Any = None


class LogDisplaced(Record):
    """A file found at the step's published log path, moved into the session."""

    KIND = ev.LOG_DISPLACED
    step: str
    run: str
    from_: str = Field(alias="from")
    to: str
    sha256: str
    bytes: int


class LogPreserved(Record):
    """What sessions before `log_displaced` wrote for a file found at the log path."""

    KIND = ev.LOG_PRESERVED
    step: str
    log: str | None = None
    moved_to: str
    sha256: str


class CheckEvaluated(_Outcome):
    KIND = ev.CHECK_EVALUATED
    step: str


class ManualConfirmed(Record):
    KIND = ev.MANUAL_CONFIRMED
    step: str
    note: str | None = None
    assumed: bool | None = None


class RestorePoint(Record):
    """Where the server's WAL stood just before a changing step started: what a DBA's
    point-in-time restore aims before, after a halt."""

    KIND = ev.RESTORE_POINT
    step: str
    lsn: str | None = None  # pg_current_wal_lsn()
    server_time: str | None = None  # the server's now(), ISO
    error: str | None = None  # why it could not be read (the step starts regardless)


class HoldReleased(Record):
    """The operator's typed go-ahead past a hold point of a `per_revision` step."""

    KIND = ev.HOLD_RELEASED
    step: str
    revision: str
    note: str | None = None


class StepPauseAsked(Record):
    """The operator asks a `per_revision` run to stop after the revision now running."""

    KIND = ev.STEP_PAUSE_ASKED
    step: str
    run: str


class RetryScheduled(Record):
    """A run ended on its lock-timeout rule alone with the database where it started: the
    step runs again as a new run at `due_at` instead of halting (its [retry], approved with
    the runbook). `blocker`: who held the lock, as the radar last saw it."""

    KIND = ev.RETRY_SCHEDULED
    step: str
    run: str  # the run that failed
    attempt: int  # the attempt to come, 2..of
    of: int
    delay_s: float
    due_at: str
    why: str
    revisions: list[str] = []  # the database's, read back: equal to the run's start
    blocker: str | None = None


class RetryDropped(Record):
    """A pending retry not made — the operator cancelled it, or at its time the database
    had moved or the window had closed: the failure stands, and the session halts."""

    KIND = ev.RETRY_DROPPED
    step: str
    why: str


class RetryResumed(Record):
    """A cockpit that stopped during a retry's wait, resumed: the pending attempt goes on,
    its conditions read again (and, on a screen, the operator's say-so)."""

    KIND = ev.RETRY_RESUMED
    step: str
    attempt: int
    revisions: list[str] = []


class Halted(Record):
    KIND = ev.HALTED
    reason: str
    by: str
    step: str | None = None
    rule: str | None = None
    line: str | None = None


class DiagnosticsCaptured(Record):
    KIND = ev.DIAGNOSTICS_CAPTURED
    file: str | None = None
    sha256: str | None = None
    probes: list[str] | None = None
    revisions: dict[str, Any] | None = None


class HaltItemDone(Record):
    KIND = ev.HALT_ITEM_DONE
    item: str
    note: str | None = None


class EvidenceSealed(Record):
    KIND = ev.EVIDENCE_SEALED
    manifest: str | None = None
    sha256: str | None = None
    present: list[str] = []
    missing: list[str] = []
    mismatched: list[str] = []
    complete: bool | None = None


class DecisionRecorded(Record):
    KIND = ev.DECISION_RECORDED
    status: str
    fields: dict[str, str] = {}
    recorded_with_note: dict[str, str] | None = None
    json_: str | None = Field(default=None, alias="json")
    markdown: str | None = None
    json_sha256: str | None = None
    markdown_sha256: str | None = None
    # every other file of the session as the decision found it (name -> sha256): after the
    # decision, a byte changed anywhere in the folder is a mismatch `verify` names
    files: dict[str, str] | None = None


class ChecklistWritten(Record):
    """The filled checklist, written at the decision."""

    KIND = ev.CHECKLIST_WRITTEN
    file: str
    sha256: str


class SignatureAttached(Record):
    """A signature kept in the session (evidence/signatures/): the operator's of the
    decision, or a reviewer's countersignature of the decision or of the transcript."""

    KIND = ev.SIGNATURE_ATTACHED
    role: str
    kind: str
    file: str
    sha256: str
    fingerprint: str
    identity: str
    statement_sha256: str
    subject: str | None = None  # a hold's: "step:revision:run", the hold it lets past


class PasswordEntered(Record):
    """The DSNs given a new password (their names, never the value)."""

    KIND = ev.PASSWORD_ENTERED
    vars: list[str]


class FaultNoted(Record):
    """The cockpit itself failed at a task (`error` redacted)."""

    KIND = ev.FAULT_NOTED
    action: str
    error: str


class RehearsalMoved(Record):
    """The linked rehearsal is read from another folder from now on: the same session (its
    id and last event hash), moved or archived since the link."""

    KIND = ev.REHEARSAL_MOVED
    folder: str


class RehearsalLinked(Record):
    """The session is proved by this rehearsal from now on: linked on resume while no
    phase step had run (`replaced`: the one linked before, if any)."""

    KIND = ev.REHEARSAL_LINKED
    rehearsal: RehearsalLink
    replaced: RehearsalLink | None = None


class DriftNoted(Record):
    """The cutover is running behind its rehearsal: a step past twice its rehearsed time
    (`step_slow`), or the forecast end past the maintenance window's (`forecast_late`)."""

    KIND = ev.DRIFT_NOTED
    kind: str
    step: str | None = None
    run: str | None = None
    running_s: float | None = None
    rehearsed_s: float | None = None
    forecast_end: str | None = None
    window_end: str | None = None


class GatesChecked(Record):
    """A check of every automated gate ended: GO, or what it left open (NO-GO)."""

    KIND = ev.GATES_CHECKED
    go: bool
    open: list[str] = []


class NoticeSent(Record):
    """One attempt to deliver one message to one destination, and how it went — never its
    body: `delivered`, `failed` (tried again after `retry_in` seconds unless the attempts
    are spent), or `undelivered` (given up in this cockpit; the next resume or `cockpit
    notify --flush` tries again)."""

    KIND = ev.NOTICE_SENT
    destination: str
    message: str  # the message's id: the session and the moment's event seq
    moment: str
    outcome: str
    attempt: int | None = None
    status: int | None = None  # the HTTP status, or the command's exit code
    detail: str | None = None
    retry_in: float | None = None


def _kinds(base: type[Record]) -> list[type[Record]]:
    """The record classes defined here (the state's subclasses elsewhere are not kinds)."""
    found = []
    for cls in base.__subclasses__():
        if cls.__module__ == __name__:
            found += [cls] if "KIND" in vars(cls) else []
            found += _kinds(cls)
    return found


R = TypeVar("R", bound=Record)
RECORDS: dict[str, type[Record]] = {cls.KIND: cls for cls in _kinds(Record)}


_KEPT = "record"  # where an event keeps its record once decoded (its __dict__, not a field)


def record_of(event: Event) -> Record | None:
    """The event's data as its record (None for a kind this version does not know): the one
    way code reads an event's content. Decoded once per event and kept on it, so the fold,
    verify and the mirror reading the same event share one record."""
    kept = event.__dict__
    if _KEPT not in kept:
        kind = RECORDS.get(event.type)
        kept[_KEPT] = None if kind is None else kind.model_validate(event.data)
    record: Record | None = kept[_KEPT]
    return record


def record_in(event: Event, kinds: Mapping[str, type[Record]]) -> Record | None:
    """The event's record among the kinds of another log written in the same envelope (a
    fleet's ledger), decoded once and kept on the event as `record_of` keeps its own."""
    kept = event.__dict__
    if _KEPT not in kept:
        kind = kinds.get(event.type)
        kept[_KEPT] = None if kind is None else kind.model_validate(event.data)
    record: Record | None = kept[_KEPT]
    return record


def of_kind(events: Iterable[Event], kind: type[R]) -> Iterator[R]:
    """The records of one kind, in order: only those events are decoded (a long session is
    mostly gate re-evaluations that a reader of steps never needs to decode)."""
    for event in events:
        if event.type == kind.KIND and isinstance(record := record_of(event), kind):
            yield record


def typed(event: Event, kind: type[R]) -> R | None:
    """The event's record if it is of `kind`, else None (no decoding for another kind)."""
    record = record_of(event) if event.type == kind.KIND else None
    return record if isinstance(record, kind) else None


def kinds_of(*classes: type[Record]) -> frozenset[str]:
    """The event types of these record classes, for `among`."""
    return frozenset(cls.KIND for cls in classes)


def among(event: Event, kinds: frozenset[str]) -> Record | None:
    """The event's record if its type is one of `kinds` (see `kinds_of`), else None —
    without decoding it: a reader that draws steps and gates neither pays for the other
    events nor asks of them that they be whole."""
    return record_of(event) if event.type in kinds else None


def subject_of(event: Event, key: str) -> Any:
    """One key of the event's data, read without decoding its record: the fold keeps only a
    check's latest evaluation of each gate, item or script, and a long session holds
    thousands of re-evaluations it needs only the name of."""
    return event.data[key]


def files_named(event: Event) -> list[str]:
    """The session files an event of any kind names (its `file`, `to` or `manifest`): after
    the decision, a file no event names was put there by hand."""
    return [str(event.data[key]) for key in ("file", "to", "manifest") if event.data.get(key)]


def written(event: Event) -> dict[str, Any]:
    """The event's data exactly as written, every key (a kind this version does not know
    too): for showing a person the whole event, never for reading its meaning."""
    return event.data

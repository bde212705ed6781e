"""What each event of a fleet's ledger records: one model per event type, as a session's
records are (the same envelope, hash chain and store)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cockpit.session.records import Record, SigningKeyRef

FLEET_STARTED = "fleet_started"
FLEET_RESUMED = "fleet_resumed"
FLEET_GO = "fleet_go"
WAVE_APPROVED = "wave_approved"
WAVE_STARTED = "wave_started"
TARGET_DISPATCHED = "target_dispatched"
TARGET_ENDED = "target_ended"
WAVE_ENDED = "wave_ended"
FLEET_HALTED = "fleet_halted"
FLEET_ENDED = "fleet_ended"
APPROVAL_COUNTERSIGNED = "approval_countersigned"


class WaveLine(BaseModel):
    name: str
    targets: list[str]
    parallel: int


class FleetStarted(Record):
    """The fleet as approved: its runbook and targets file pinned by sha256, its waves
    worked out, its limits and stop rule."""

    KIND = FLEET_STARTED
    fleet_id: str
    runbook_path: str
    runbook_id: str
    runbook_sha256: str
    transcript_sha256: str
    production: bool
    targets_path: str
    targets_sha256: str
    answers_sha256: str | None = None
    waves: list[WaveLine]
    per_server: int | None = None
    stop_after_halts: int
    approve_waves: bool
    countersign: bool
    dispatch: str
    pid: int | None = None
    sign_key: SigningKeyRef | None = None  # the operator's (--sign-key): four eyes are two keys
    rehearsal: str | None = None  # --rehearsal: the PASS every target is proved by (its folder)
    lease_s: float = 30.0  # a target is taken over from another host only after this long
    visibility_timeout_s: float | None = None  # Celery: a message's time with one worker
    broker_env: str | None = None  # Celery: the variable holding the broker's URL


class FleetResumed(Record):
    KIND = FLEET_RESUMED
    pid: int | None = None
    taken_over: dict[str, Any] | None = None  # a dead holder's lock, taken with --take-over


class FleetGo(Record):
    """The fleet approved to start: the operator typed the targets file's pin."""

    KIND = FLEET_GO
    approver: str
    typed: str
    targets_sha256: str


class WaveApproved(Record):
    """A wave after the first approved by a person's typed confirmation."""

    KIND = WAVE_APPROVED
    wave: str
    approver: str
    typed: str
    how: str  # "answers", "screen"


class WaveStarted(Record):
    KIND = WAVE_STARTED
    wave: str
    targets: list[str]


class TargetDispatched(Record):
    """A target sent to run: its session folder (relative to the fleet's), how it was sent
    (`local pid N`, `celery task ID`), and whether it starts or resumes its session."""

    KIND = TARGET_DISPATCHED
    target: str
    wave: str
    folder: str
    how: str
    resume: bool = False


class TargetEnded(Record):
    """A target's process ended, and where its session stands: `PASS`, `BLOCKER`,
    `halted` (no decision yet), `stopped` (before a step, by the fleet's halt), `waiting`
    (for a person: open gates, a hold), or `failed` (no session, or one that cannot be read);
    its decision's event and the manifest's sha256 pinned there."""

    KIND = TARGET_ENDED
    target: str
    wave: str
    outcome: str
    detail: str = ""
    exit_code: int | None = None
    decision_seq: int | None = None
    decision_hash: str | None = None
    manifest_sha256: str | None = None
    last_hash: str | None = None
    events: int | None = None


class WaveEnded(Record):
    KIND = WAVE_ENDED
    wave: str
    outcomes: dict[str, int]


class FleetHalted(Record):
    """The stop rule met: nothing new starts; running targets stop before their next step.
    Final, as a session's halt is."""

    KIND = FLEET_HALTED
    wave: str
    targets: list[str]
    reason: str


class FleetEnded(Record):
    KIND = FLEET_ENDED
    status: str  # PASS, HALTED
    outcomes: dict[str, int]


class ApprovalCountersigned(Record):
    """A reviewer's countersignature of the GO (`go`) or of a wave (`wave NAME`), kept in
    the ledger's folder: its file, sha256, and who signed with which key."""

    KIND = APPROVAL_COUNTERSIGNED
    subject: str
    file: str
    sha256: str
    identity: str
    fingerprint: str

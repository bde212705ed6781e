"""Opening a session: the checks made before a cockpit starts or resumes one — the session's
log and runbook are still the approved ones, its rehearsal is the one it began with, it is
signed with the key it declared — and where its commands run. Each refuses with the reason
and the fix; none writes to the session, locks it or starts a step."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cockpit.engine.gates import rehearsal_repo
from cockpit.engine.setup import approved_workdir
from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.evidence.rehearsal import check_link, link_to
from cockpit.evidence.signing import SigningKey
from cockpit.probes.git_probe import git_dirty, git_head
from cockpit.runbook.identity import runbook_identity
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import Runbook
from cockpit.session import records, rules
from cockpit.session.layout import EVENTS, RUNBOOK_COPY
from cockpit.session.logcheck import log_problems
from cockpit.session.place import check_own_name
from cockpit.session.state import SessionState, fold
from cockpit.session.store import SessionDamaged, read_event_log


class RunbookChanged(CockpitError):
    exit_code = EXIT_REFUSED


class SessionUntrusted(CockpitError):
    """The session's log fails a check `cockpit verify` makes: resume goes on from nothing
    verify would reject."""

    exit_code = EXIT_REFUSED


def _names_linked(state: SessionState, given: Path) -> Literal["here", "moved"] | None:
    """Whether `given` is the session's own rehearsal: "here" in the folder it was linked
    from, "moved" to another folder (the same session id and last event hash), else None."""
    linked = state.rehearsal
    if linked is None:
        return None
    if Path(linked.folder).resolve() == given.resolve():
        return "here"
    found = link_to(given)
    if (found.session_id, found.last_hash) == (linked.session_id, linked.last_hash):
        return "moved"
    return None


def same_rehearsal(state: SessionState, given: Path) -> Path | None:
    """A session keeps the rehearsal it started with: resume may name it again — or the same
    session (its id and last event hash) moved to another folder, returned to be recorded.
    Anything else is refused (exit 3), as a changed runbook is."""
    named = _names_linked(state, given)
    if named is not None:
        return given if named == "moved" else None
    linked = state.rehearsal
    raise RunbookChanged(
        f"{given}: this session was started "
        + (f"with rehearsal {linked.session_id} (last hash {linked.last_hash[:16]}), "
           f"which {given} is not" if linked else "without a rehearsal")
        + "; a session's rehearsal is fixed once a phase step has run — resume without "
        "--rehearsal, or name where that same rehearsal is now")


def checked_link(runbook: Runbook, workdir: Path, rehearsal: Path) -> records.RehearsalLink:
    """The link to `rehearsal`, refused (exit 3, nothing made) unless it is a PASS of this
    runbook at the commit the working directory's repository is at."""
    repo = rehearsal_repo(runbook, workdir)
    return check_link(rehearsal, runbook, git_head(repo), git_dirty(repo))


def relinked(state: SessionState, runbook: Runbook, given: Path) -> records.RehearsalLink | None:
    """On resume, `--rehearsal` naming another rehearsal than the session's: while no phase
    step has run (nothing halted or decided), the new link, checked as at start — else None
    (resume then refuses as `same_rehearsal` says)."""
    if _names_linked(state, given) is not None:
        return None  # the session's own, here or moved: `same_rehearsal` follows it
    if state.steps or state.halt is not None or state.ended:
        return None
    return checked_link(runbook, Path(state.workdir), given)


def check_signer(folder: Path, state: SessionState, runbook: Runbook,
                 signer: SigningKey | None, allow_unsigned: bool) -> None:
    """A session that declared a signing key is resumed with one until its decision is
    signed (else the decision would close unsigned), unless --no-sign says so — which a
    runbook asking for four eyes does not take (its countersignatures need the operator's)."""
    if allow_unsigned and rules.asks_four_eyes(runbook) and not rules.operator_signed(state):
        raise CockpitError(f"{folder}: its runbook asks for reviewers' countersignatures, "
                           "which sign the operator's signed decision: --no-sign is refused; "
                           "resume with --sign-key KEY")
    if state.sign_keys and signer is None and not allow_unsigned and not state.closed \
            and not rules.operator_signed(state):
        declared = state.sign_keys[-1]
        raise CockpitError(f"{folder}: this session signs its decision with "
                           f"{declared.identity}'s key {declared.fingerprint}; resume with "
                           "--sign-key KEY (or --no-sign to record the decision unsigned)")


def resolve_workdir(runbook: Runbook, runbook_path: Path, override: Path | None) -> Path:
    """Where commands run: --workdir, else the runbook's working directory (relative paths
    are taken from the runbook file's folder), else that folder."""
    if override is not None:
        return override.resolve()
    return approved_workdir(runbook, runbook_path)[1]


def check_resumable(folder: Path) -> tuple[SessionState, Runbook]:
    """The session's state and its approved runbook, or the reason it cannot be resumed —
    read-only: nothing is written, locked or started."""
    check_own_name(folder)
    if not (folder / EVENTS).exists():
        raise CockpitError(f"{folder}: not a session folder (no {EVENTS})")
    refused = f"resume refused — `cockpit verify {folder}` names the damage"
    try:
        log = read_event_log(folder / EVENTS)
    except SessionDamaged as exc:
        raise SessionUntrusted(f"{exc.message}; {refused}") from None
    if not log.events:
        raise CockpitError(f"{folder}: this session never started (no events); "
                           "start a new one with `cockpit run`")
    state = fold(log.events)
    if problems := log_problems(folder, log, state):
        raise SessionUntrusted(f"{problems[0]}; {refused}; restore the session from a copy, "
                               "the cockpit will not repair it")
    runbook_path = Path(state.runbook_path)
    try:
        identity = runbook_identity(runbook_path)
    except (OSError, CockpitError) as exc:
        raise RunbookChanged(f"{runbook_path}: the session's runbook cannot be loaded "
                             f"({exc}); resume refused") from None
    if identity.runbook_sha256 != state.runbook_sha256:
        raise RunbookChanged(f"{runbook_path}: changed since the session started "
                             "(sha256 differs); the approved runbook is the one that "
                             f"runs — restore it (a copy is in {folder / RUNBOOK_COPY})")
    if identity.transcript_sha256 != state.transcript_sha256:
        raise RunbookChanged(f"{runbook_path}: its transcript changed; resume refused")
    return state, load_runbook(runbook_path)

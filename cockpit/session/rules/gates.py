"""The gates, the setup and the script pins: what must be green before any phase step may
run, what failed and why, and what the operator answers (attestations, the password)."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.runbook.model import (
    AttestationFileGate,
    AttestationGate,
    CommandStep,
    EnvVar,
    Manual,
    ProbeGate,
    Runbook,
    WorkingDirectory,
)
from cockpit.runbook.validate import unlisted_scripts
from cockpit.session.state import SessionState

COUNTERSIGN_PROBE = "review.countersigned"  # a gate a reviewer's countersignature answers


GateItem = AttestationGate | AttestationFileGate | ProbeGate


SetupCheck = WorkingDirectory | EnvVar


def gates(runbook: Runbook) -> list[GateItem]:
    items = runbook.gates.items if runbook.gates else []
    return [i for i in items if isinstance(i, AttestationGate | AttestationFileGate | ProbeGate)]


def setup_checks(runbook: Runbook) -> list[SetupCheck]:
    items = runbook.setup.items if runbook.setup else []
    return [i for i in items if isinstance(i, WorkingDirectory | EnvVar)]


def setup_confirmations(runbook: Runbook) -> list[Manual]:
    """The setup lines the operator confirms by hand (a line the importer could not type,
    such as a DSN line it did not understand): each one is required before GO."""
    items = runbook.setup.items if runbook.setup else []
    return [i for i in items if isinstance(i, Manual)]


def setup_confirmed(state: SessionState, item_id: str) -> bool:
    return (s := state.setup.get(item_id)) is not None and s.status == "confirmed"


def unconfirmed_setup(runbook: Runbook, state: SessionState) -> list[Manual]:
    return [i for i in setup_confirmations(runbook) if not setup_confirmed(state, i.id)]


def open_gates(runbook: Runbook, state: SessionState) -> list[str]:
    """Everything that must be green before any phase step may run, by name."""
    out = [f"gate {g.id}" for g in gates(runbook)
           if (s := state.gates.get(g.id)) is None or s.status != "passed"]
    out += [f"setup {c.id}" for c in setup_checks(runbook)
            if (s := state.setup.get(c.id)) is None or s.status != "passed"]
    out += [f"setup {m.id} (unconfirmed)" for m in unconfirmed_setup(runbook, state)]
    out += [f"script {path}" for path in pinned_scripts(runbook)
            if (s := state.scripts.get(path)) is None or s.status != "passed"]
    return out


@dataclass(frozen=True)
class FailedCheck:
    name: str  # "gate single-head", "setup dsn", "script tools/x.py"
    key: str  # the gate's or setup item's id, or the script's path
    detail: str
    # A finding about the change itself (a probe that answered no, a script changed since
    # approval): the cutover cannot go on. Otherwise the operator can fix the cause before
    # anything has run — a setup item (DSN, password, TLS, working directory), an
    # attestation or its file, a probe that could not answer (its database unreachable,
    # its environment wrong) — and check again.
    finding: bool
    automated: bool  # a probe or a setup check (not an attestation, not a script pin)


def failed_checks(runbook: Runbook, state: SessionState) -> list[FailedCheck]:
    """Every gate, setup item and script pin whose last check failed, in the runbook's
    order."""
    out: list[FailedCheck] = []
    for gate in gates(runbook):
        if (s := state.gates.get(gate.id)) is not None and s.status == "failed":
            # awaiting a reviewer's countersignature is like awaiting an attestation
            probe = isinstance(gate, ProbeGate) and gate.probe != COUNTERSIGN_PROBE
            out.append(FailedCheck(f"gate {gate.id}", gate.id, s.detail or "",
                                   probe and s.reached, probe))
    for check in setup_checks(runbook):
        if (s := state.setup.get(check.id)) is not None and s.status == "failed":
            out.append(FailedCheck(f"setup {check.id}", check.id, s.detail or "", False, True))
    for path in pinned_scripts(runbook):
        if (s := state.scripts.get(path)) is not None and s.status == "failed":
            # a pinned script that is there and differs is a finding; a missing or unpinned
            # one is the runbook's or the folder's to mend
            finding = s.expected is not None and s.observed is not None
            out.append(FailedCheck(f"script {path}", path, s.detail or "", finding, False))
    return out


def pinned_scripts(runbook: Runbook) -> list[str]:
    """The scripts whose sha256 must match before a phase runs: those `[[scripts]]` lists and,
    in a production runbook, any other a command runs (unlisted, it can never match)."""
    listed = [script.path for script in runbook.scripts]
    if not runbook.production:
        return listed
    return listed + [path for _place, _step, path in unlisted_scripts(runbook)]


REHEARSAL_PROBE = "rehearsal.pass"


def asks_operator(state: SessionState, gate: ProbeGate) -> bool:
    """Whether the operator types this probe gate's value: the runbook leaves it out and
    nothing else answers it — a `rehearsal.pass` gate is answered by the linked rehearsal."""
    if gate.probe == REHEARSAL_PROBE and state.rehearsal is not None:
        return False
    return gate.asks_operator()


def rehearsal_proved(runbook: Runbook, state: SessionState) -> bool:
    """Whether the linked rehearsal proved this cutover: its gate passed on its proof."""
    return state.rehearsal is not None and any(
        isinstance(g, ProbeGate) and g.probe == REHEARSAL_PROBE
        and (s := state.gates.get(g.id)) is not None and s.status == "passed"
        and isinstance(s.observed, dict) and s.observed.get("proved") is True
        for g in gates(runbook))


def attestable_gates(runbook: Runbook, state: SessionState) -> list[GateItem]:
    """Open gates an operator answers: attestations, and probe gates whose value they give."""
    return [g for g in gates(runbook)
            if (isinstance(g, AttestationGate) or (isinstance(g, ProbeGate)
                                                   and asks_operator(state, g)))
            and not ((s := state.gates.get(g.id)) and s.status == "passed")]


def timeouts_from_role(runbook: Runbook) -> bool:
    """The steps' timeouts are the migration role's defaults, not startup options."""
    return runbook.setup is not None and runbook.setup.timeouts_from == "role"


def settings_steps(runbook: Runbook) -> list[CommandStep]:
    """One changing command step for each distinct set of PostgreSQL settings the changing
    steps ask for (none asked is a set too: their connections still carry the run's name):
    what is read back through each DSN before GO."""
    out: dict[tuple[tuple[str, str], ...], CommandStep] = {}
    for phase in runbook.phases:
        for step in phase.steps:
            if isinstance(step, CommandStep) and not step.read_only:
                out.setdefault(tuple(sorted(step.pg_settings().items())), step)
    return list(out.values())


def setup_notes(runbook: Runbook, state: SessionState) -> list[tuple[str, str]]:
    """(item id, text) of each WARNING and NOTE a passed setup check said (a grant the
    role lacks, a pooler in between, a certificate that expires soon, a changed CA file):
    they close no gate, and must not be missed for that."""
    out: list[tuple[str, str]] = []
    for check in setup_checks(runbook):
        s = state.setup.get(check.id)
        if s is not None and s.status == "passed" and s.detail:
            for part in s.detail.split("; "):
                at = min((i for i in (part.find("WARNING "), part.find("NOTE ")) if i >= 0),
                         default=-1)
                if at >= 0:
                    out.append((check.id, part[at:]))
    return out


def password_placeholder(runbook: Runbook) -> str:
    """What a DSN template writes where the password goes."""
    return runbook.setup.password_placeholder if runbook.setup else "<PASSWORD>"


def password_dsns(runbook: Runbook) -> list[EnvVar]:
    """The DSN variables whose template holds the password placeholder, the password the
    operator's (not a `password_command`'s)."""
    setup = runbook.setup
    if setup is None:
        return []
    return [i for i in setup.items if isinstance(i, EnvVar) and i.password_command is None
            and setup.password_placeholder in i.template]


def command_dsns(runbook: Runbook) -> list[EnvVar]:
    """The DSN variables whose password a `password_command` prints, afresh per connection."""
    return [i for i in setup_checks(runbook)
            if isinstance(i, EnvVar) and i.password_command is not None]


def password_refusal(runbook: Runbook, state: SessionState) -> str | None:
    """Why the database password may not be entered again now, or None. Only before the
    first step: every step after it must run with the environment the setup checked."""
    if state.halt is not None:
        return f"the session is halted ({state.halt.reason})"
    if not password_dsns(runbook):
        return (f"the runbook's setup names no DSN with a password "
                f"({password_placeholder(runbook)} in its "
                "template)")
    if state.steps:
        return ("a step has already been done with the password given; it can be entered "
                "again only before the first step")
    return None


def radar_dsn_var(runbook: Runbook) -> str:
    """The variable whose DSN the lock radar watches with: the setup's first DSN variable
    (the one Alembic reads, in a runbook shaped like the reference), else DATABASE_URL."""
    return next((item.name for item in setup_checks(runbook) if isinstance(item, EnvVar)),
                "DATABASE_URL")

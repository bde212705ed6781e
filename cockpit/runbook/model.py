"""The typed runbook: every section of the one-page cutover checklist as pydantic models.

A runbook is an approved document. Items that *run* (commands) or are *checked* (probes)
carry their machine meaning in typed fields, and their checklist line is derived from those
fields wherever it can be, so the text the approver signed and the thing that runs cannot
drift apart. Items that are prose for people (statements, attestations) keep their text.
Unknown keys are errors everywhere (`extra="forbid"`), and no value is coerced (`strict`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# A duration: 500ms, 30s, 10min (or 10m), 2h.
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,6}(?:ms|s|m|min|h)$")]
# The abort rule a step's ending names when its `timeout` stopped it; no runbook rule has it.
TIMEOUT_RULE = "timeout"
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600}


def duration_seconds(duration: str) -> float:
    """Seconds in a `Duration` ("500ms", "30s", "10m", "10min", "2h")."""
    number = duration.rstrip("minsh")
    return int(number) * _UNIT_SECONDS[duration[len(number):]]


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
# One line of checklist text: not empty, no line break.
Line = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\r\n]*$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Expected = str | int | bool | list[str]
ArgValue = str | int | bool | list[str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SubItem(_Model):
    """A nested checklist line, shown under its parent item."""

    text: Line
    children: list[SubItem] = []


# ---------------------------------------------------------------- items usable anywhere


class Statement(_Model):
    """A standing rule or declaration the operator reads (e.g. "Abort if any unchecked.")."""

    kind: Literal["statement"]
    id: Id
    text: Line
    children: list[SubItem] = []


class Text(_Model):
    """Lines of the checklist kept verbatim that are no item: a paragraph, a `###` heading,
    a plain or numbered list, a table. Shown to the reader; never acted on."""

    kind: Literal["text"]
    id: Id
    # Non-blank lines, none of which the dialect reads as a heading, item or fence
    # (`validate` checks each line).
    text: str = Field(min_length=1)


class CodeBlock(_Model):
    """A fenced code block kept verbatim."""

    kind: Literal["code"]
    id: Id
    lang: str = ""
    text: str


class Manual(_Model):
    """A manual confirmation: the operator ticks it, optionally with a note."""

    kind: Literal["manual"]
    id: Id
    text: Line
    children: list[SubItem] = []


# ---------------------------------------------------------------- gates


class AttestationGate(_Model):
    """The operator attests, giving a reference (document id, ticket, link)."""

    kind: Literal["attestation"]
    id: Id
    text: Line
    prompt: str = "Reference (document id, ticket or link)"


class AttestationFileGate(_Model):
    """An attestation file must be present and non-empty (and may need a given line)."""

    kind: Literal["attestation_file"]
    id: Id
    text: Line
    path: str = Field(min_length=1)
    must_contain: str | None = None


class ProbeGate(_Model):
    """An automated gate answered by a named probe."""

    kind: Literal["probe"]
    id: Id
    text: Line
    probe: str
    expected: Expected | None = None
    args: dict[str, ArgValue] = {}
    # Asked of the operator when `expected` is not pinned in the runbook.
    prompt: str | None = None


# ---------------------------------------------------------------- session setup


class WorkingDirectory(_Model):
    kind: Literal["working_directory"]
    id: Id
    text: Line
    path: str = Field(min_length=1)


class EnvVar(_Model):
    """A required environment variable holding a DSN, given as a template."""

    kind: Literal["env"]
    id: Id
    text: Line
    name: EnvName
    template: str = Field(min_length=1)
    database: str = Field(min_length=1)
    require: dict[str, str] = {}


class SetupScript(_Model):
    """The setup code block, rendered from the working directory and env templates."""

    kind: Literal["script"]
    id: Id


# ---------------------------------------------------------------- phases


class CommandStep(_Model):
    """A command whose output is evidence; its line is `command` -> `log`."""

    kind: Literal["command"]
    id: Id
    command: str = Field(min_length=1, pattern=r"^[^`\r\n]*$")
    log: str | None = Field(default=None, min_length=1, pattern=r"^[^`\r\n]*$")
    expect_exit: int = 0
    # Reads only (alembic heads/current/history, a report): may be cancelled and run again,
    # needs no typed confirmation. Every other command changes something.
    read_only: bool = False
    # Safe to run again after an interruption (resume re-runs it instead of asking).
    idempotent: bool = False
    abort_rules: list[Id] = []
    # The word the operator types before a changing step starts; a production runbook needs
    # one on every changing command.
    confirm: str | None = Field(default=None, min_length=1, pattern=r"^\S+$")
    # A hard limit: reaching it stops the command like an abort rule's match.
    timeout: Duration | None = None
    # Given to PostgreSQL through PGOPTIONS for the command's connections.
    lock_timeout: Duration | None = None
    statement_timeout: Duration | None = None

    @property
    def rerunnable(self) -> bool:
        """May run again after an interruption: it only reads, or its author says so."""
        return self.read_only or self.idempotent

    def pg_settings(self) -> dict[str, str]:
        """The settings its PostgreSQL connections get (through PGOPTIONS), in milliseconds."""
        given = {"lock_timeout": self.lock_timeout, "statement_timeout": self.statement_timeout}
        return {name: str(round(duration_seconds(value) * 1000))
                for name, value in given.items() if value is not None}


class CheckStep(_Model):
    """A named probe compared with an expected value."""

    kind: Literal["check"]
    id: Id
    text: Line
    probe: str
    expected: Expected | None = None
    args: dict[str, ArgValue] = {}
    # Show a list `expected` as nested items (`name`) under the text.
    list_items: bool = False


class AbortWatch(_Model):
    """The abort rules watched on every command of the phase, shown as nested items."""

    kind: Literal["abort_watch"]
    id: Id
    text: Line
    rules: list[Id] = Field(min_length=1)


# ---------------------------------------------------------------- protocol, evidence, decision

HaltAction = Literal[
    "stop", "preserve", "record_blocker", "escalate", "no_further_commands", "manual"
]


class HaltItem(_Model):
    kind: Literal["halt"]
    id: Id
    text: Line
    action: HaltAction = "manual"
    children: list[SubItem] = []


class EvidenceFile(_Model):
    kind: Literal["file"]
    id: Id
    name: str = Field(min_length=1, pattern=r"^[^`\r\n/\\]*$")


# What a decision field means to the cockpit, whatever its id or label says: `status` holds
# PASS / BLOCKER, and BLOCKER needs `errors` and `root_cause`; the others are pre-filled.
PASS, BLOCKER = "PASS", "BLOCKER"
IMPLICIT_FIELD_PREFIX = "decision."  # ids of the fields the cockpit adds where none has a role
DecisionRole = Literal["status", "final_revision", "heads_state", "errors", "drift",
                       "root_cause", "risk_tier", "authorization"]


class DecisionField(_Model):
    kind: Literal["field"]
    id: Id
    label: str = Field(min_length=1, pattern=r"^[^:\r\n]*$")
    allowed: list[Annotated[str, StringConstraints(min_length=1)]] = []
    role: DecisionRole | None = None


# ---------------------------------------------------------------- sections

Discriminated = Field(discriminator="kind")
BoundaryItem = Annotated[Statement | CodeBlock | Text, Discriminated]
GateItem = Annotated[
    AttestationGate | AttestationFileGate | ProbeGate | Statement | CodeBlock | Text,
    Discriminated,
]
SetupItem = Annotated[
    WorkingDirectory | EnvVar | SetupScript | Manual | Statement | CodeBlock | Text,
    Discriminated,
]
PhaseItem = Annotated[
    CommandStep | CheckStep | Manual | AbortWatch | Statement | CodeBlock | Text,
    Discriminated,
]
HaltSectionItem = Annotated[HaltItem | CodeBlock | Text, Discriminated]
EvidenceItem = Annotated[EvidenceFile | Statement | CodeBlock | Text, Discriminated]
DecisionItem = Annotated[DecisionField | Statement | CodeBlock | Text, Discriminated]

# Every item kind, for code that walks a runbook generically.
AnyItem = (
    Statement | CodeBlock | Text | Manual | AttestationGate | AttestationFileGate | ProbeGate
    | WorkingDirectory | EnvVar | SetupScript | CommandStep | CheckStep | AbortWatch
    | HaltItem | EvidenceFile | DecisionField
)


class _Section(_Model):
    heading: Line
    # A blank line between the heading and the first block, as Markdown formatters write it.
    spaced: bool = False


class BoundarySection(_Section):
    items: list[BoundaryItem] = []


class GateSection(_Section):
    items: list[GateItem] = []


class SetupSection(_Section):
    shell: Literal["powershell", "sh"] = "sh"
    password_placeholder: str = Field(default="<PASSWORD>", min_length=1)
    items: list[SetupItem] = []


class Phase(_Section):
    id: Id
    steps: list[PhaseItem]


class HaltSection(_Section):
    items: list[HaltSectionItem] = []


class EvidenceSection(_Section):
    items: list[EvidenceItem] = []


class DecisionSection(_Section):
    items: list[DecisionItem] = []


Section = (
    BoundarySection | GateSection | SetupSection | Phase | HaltSection | EvidenceSection
    | DecisionSection
)


class AbortRule(_Model):
    """A named pattern that stops a running command when a line of its output matches."""

    id: Id
    label: Line
    patterns: list[Annotated[str, StringConstraints(min_length=1)]] = Field(min_length=1)


class Script(_Model):
    """An operator script the runbook runs, pinned by the sha256 it was approved with."""

    path: str = Field(min_length=1)
    sha256: Sha256 | None = None


PrefaceItem = Annotated[Text | CodeBlock, Discriminated]


class Runbook(_Model):
    format: Literal[1]
    id: Id
    title: Line
    # A production runbook forbids auto-confirmation and needs `confirm` on every command
    # that is not read-only.
    production: bool
    # Lines between the title and the first section.
    preface: list[PrefaceItem] = []
    boundary: BoundarySection | None = None
    gates: GateSection | None = None
    setup: SetupSection | None = None
    phases: list[Phase] = Field(min_length=1)
    halt: HaltSection | None = None
    # Steps of a rollback or back-out plan: after a halt the operator confirms each with a
    # note (done, or why not); the cockpit itself never runs a command after a halt.
    rollback: HaltSection | None = None
    evidence: EvidenceSection | None = None
    decision: DecisionSection | None = None
    # The order the sections appear in on the page, by place name (`gates`, `phases[0]`,
    # ...), when it is not the usual one. Phases keep their order; meaning never depends on it.
    order: list[str] = []
    abort_rules: list[AbortRule] = []
    scripts: list[Script] = []

    def sections(self) -> list[tuple[str, Section]]:
        """The sections in document order, each with its place name (`phases[1]`)."""
        named: list[tuple[str, Section | None]] = [
            ("boundary", self.boundary),
            ("gates", self.gates),
            ("setup", self.setup),
        ]
        named += [(f"phases[{i}]", phase) for i, phase in enumerate(self.phases)]
        named += [("halt", self.halt), ("rollback", self.rollback),
                  ("evidence", self.evidence), ("decision", self.decision)]
        present = {place: section for place, section in named if section is not None}
        if self.order and set(self.order) == set(present) and len(self.order) == len(present):
            return [(place, present[place]) for place in self.order]
        return list(present.items())

    def protocol_items(self) -> list[HaltItem]:
        """The halt protocol's items, then the rollback plan's: what a halt asks for."""
        sections = [s for s in (self.halt, self.rollback) if s is not None]
        return [item for s in sections for item in s.items if isinstance(item, HaltItem)]

    def abort_rule(self, rule_id: str) -> AbortRule | None:
        return next((rule for rule in self.abort_rules if rule.id == rule_id), None)


def section_items(section: Section) -> list[AnyItem]:
    """A section's items, whatever the section calls them (`steps` for a phase)."""
    return list(section.steps if isinstance(section, Phase) else section.items)


def items_key(section: Section) -> str:
    return "steps" if isinstance(section, Phase) else "items"

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
    idempotent: bool = False
    abort_rules: list[Id] = []
    # Steps that change the database demand that the operator types this word first.
    confirm: str | None = None


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
BoundaryItem = Annotated[Statement | CodeBlock, Discriminated]
GateItem = Annotated[
    AttestationGate | AttestationFileGate | ProbeGate | Statement | CodeBlock, Discriminated
]
SetupItem = Annotated[
    WorkingDirectory | EnvVar | SetupScript | Manual | Statement | CodeBlock, Discriminated
]
PhaseItem = Annotated[
    CommandStep | CheckStep | Manual | AbortWatch | Statement | CodeBlock, Discriminated
]
HaltSectionItem = Annotated[HaltItem | CodeBlock, Discriminated]
EvidenceItem = Annotated[EvidenceFile | Statement | CodeBlock, Discriminated]
DecisionItem = Annotated[DecisionField | Statement | CodeBlock, Discriminated]

# Every item kind, for code that walks a runbook generically.
AnyItem = (
    Statement | CodeBlock | Manual | AttestationGate | AttestationFileGate | ProbeGate
    | WorkingDirectory | EnvVar | SetupScript | CommandStep | CheckStep | AbortWatch
    | HaltItem | EvidenceFile | DecisionField
)


class BoundarySection(_Model):
    heading: Line
    items: list[BoundaryItem] = []


class GateSection(_Model):
    heading: Line
    items: list[GateItem] = []


class SetupSection(_Model):
    heading: Line
    shell: Literal["powershell", "sh"] = "sh"
    password_placeholder: str = Field(default="<PASSWORD>", min_length=1)
    items: list[SetupItem] = []


class Phase(_Model):
    id: Id
    heading: Line
    steps: list[PhaseItem]


class HaltSection(_Model):
    heading: Line
    items: list[HaltSectionItem] = []


class EvidenceSection(_Model):
    heading: Line
    items: list[EvidenceItem] = []


class DecisionSection(_Model):
    heading: Line
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


class Runbook(_Model):
    format: Literal[1]
    id: Id
    title: Line
    # A production runbook forbids auto-confirmation of gates and manual items.
    production: bool
    boundary: BoundarySection | None = None
    gates: GateSection | None = None
    setup: SetupSection | None = None
    phases: list[Phase] = Field(min_length=1)
    halt: HaltSection | None = None
    evidence: EvidenceSection | None = None
    decision: DecisionSection | None = None
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
        named += [("halt", self.halt), ("evidence", self.evidence), ("decision", self.decision)]
        return [(place, section) for place, section in named if section is not None]

    def abort_rule(self, rule_id: str) -> AbortRule | None:
        return next((rule for rule in self.abort_rules if rule.id == rule_id), None)


def section_items(section: Section) -> list[AnyItem]:
    """A section's items, whatever the section calls them (`steps` for a phase)."""
    return list(section.steps if isinstance(section, Phase) else section.items)


def items_key(section: Section) -> str:
    return "steps" if isinstance(section, Phase) else "items"

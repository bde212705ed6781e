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

from cockpit.runbook.notify import Notify
from cockpit.runbook.probes import PROBES
from cockpit.runbook.values import Duration as Duration  # re-exported: the model's users
from cockpit.runbook.values import EnvName as EnvName
from cockpit.runbook.values import Id as Id
from cockpit.runbook.values import duration_seconds as duration_seconds

# The abort rule a step's ending names when its `timeout` stopped it; no runbook rule has it.
TIMEOUT_RULE = "timeout"
# ... and when its log could not be written (a full disk): its output would not be evidence.
LOG_RULE = "log_unwritable"
COCKPIT_RULES = (TIMEOUT_RULE, LOG_RULE)

# One line of checklist text: not empty, no line break.
Line = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\r\n]*$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Expected = str | int | bool | list[str]
ArgValue = str | int | bool | list[str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SubItem(_Model):
    """A nested checklist line, shown under its parent item."""

    text: Line = Field(
        description="The nested line's text: one line, shown indented under its parent.",
    )
    children: list[SubItem] = Field(
        default=[],
        description="Lines nested one level further under this one.",
    )


ItemId = Annotated[Id, Field(
    description="The item's id, unique in the runbook (answers and reports use it).")]
Children = Annotated[list[SubItem], Field(description="Nested lines shown under the item's line.")]

# ---------------------------------------------------------------- items usable anywhere


class Statement(_Model):
    """A standing rule or declaration the operator reads (e.g. "Abort if any unchecked.")."""

    kind: Literal["statement"]
    id: ItemId
    text: Line = Field(description="The line the operator reads.")
    children: Children = []


class Text(_Model):
    """Lines of the checklist kept verbatim that are no item: a paragraph, a `###` heading,
    a plain or numbered list, a table. Shown to the reader; never acted on."""

    kind: Literal["text"]
    id: ItemId
    # Non-blank lines, none of which the dialect reads as a heading, item or fence
    # (`validate` checks each line).
    text: str = Field(
        min_length=1,
        description="The lines, kept verbatim: non-blank lines, none of which the dialect reads "
        "as a heading, item or code fence (`validate` checks each line).",
    )


class CodeBlock(_Model):
    """A fenced code block kept verbatim."""

    kind: Literal["code"]
    id: ItemId
    lang: str = Field(
        default="",
        description="The fence's language tag (```` ```sh ````); empty for none.",
    )
    text: str = Field(
        description="The block's lines, verbatim; none of them may be a ``` fence line.",
    )


class Manual(_Model):
    """A manual confirmation: the operator ticks it, optionally with a note."""

    kind: Literal["manual"]
    id: ItemId
    text: Line = Field(description="What the operator confirms.")
    children: Children = []


# ---------------------------------------------------------------- gates


class AttestationGate(_Model):
    """The operator attests, giving a reference (document id, ticket, link)."""

    kind: Literal["attestation"]
    id: ItemId
    text: Line = Field(description="The gate's line: what is attested.")
    prompt: str = Field(
        default="Reference (document id, ticket or link)",
        description="What the operator is asked for when attesting; the answer is recorded with "
        "the gate as its reference.",
    )


class AttestationFileGate(_Model):
    """An attestation file must be present and non-empty (and may need a given line)."""

    kind: Literal["attestation_file"]
    id: ItemId
    text: Line = Field(
        description="The gate's line; it must name the file (the last part of `path`).",
    )
    path: str = Field(
        min_length=1,
        description="The attestation file, relative to the working directory. When the gates are "
        "evaluated it must exist and be non-empty; the session keeps a copy as "
        "evidence.",
    )
    must_contain: str | None = Field(
        default=None,
        description="Text that some line of the file must contain; absent: any non-empty file "
        "passes.",
    )


class ProbeGate(_Model):
    """An automated gate answered by a named probe."""

    kind: Literal["probe"]
    id: ItemId
    text: Line = Field(
        description="The gate's line; it must show the expected value(s), unless the value is a "
        "boolean (what is approved is what is checked).",
    )
    probe: str = Field(description="The probe's name (see Probes).")
    expected: Expected | None = Field(
        default=None,
        description="The value the probe must observe, in the probe's expected shape. Absent: the "
        "probe takes none, or (where the probe allows it) the operator gives the "
        "value at the gate.",
    )
    args: dict[str, ArgValue] = Field(
        default={},
        description="The probe's arguments by name (see Probes: each probe lists the ones it "
        "takes).",
    )
    # Asked of the operator when `expected` is not pinned in the runbook.
    prompt: str | None = Field(
        default=None,
        description="Asked of the operator when `expected` is not pinned in the runbook.",
    )

    def asks_operator(self) -> bool:
        """Whether the operator types its expected value at the gate: the runbook leaves it
        out and the probe takes one (a probe that takes none answers by itself)."""
        spec = PROBES.get(self.probe)
        return self.expected is None and (spec is None or spec.expected != "none")


# ---------------------------------------------------------------- session setup


class WorkingDirectory(_Model):
    """The directory the session's commands run in (at most one, in `setup`); it must exist when
    the gates are evaluated."""

    kind: Literal["working_directory"]
    id: ItemId
    text: Line = Field(
        description="The line; it must name the directory (the last part of `path`).",
    )
    path: str = Field(
        min_length=1,
        description="The directory the commands run in; a relative path is taken from the runbook "
        "file's folder.",
    )


class EnvVar(_Model):
    """A required environment variable holding a DSN, given as a template."""

    kind: Literal["env"]
    id: ItemId
    text: Line = Field(
        description="The line; it must show the variable's name, the database and each `require` "
        "pair as `key=value`.",
    )
    name: EnvName = Field(
        description="The environment variable that holds the DSN (e.g. `DATABASE_URL`).",
    )
    template: str = Field(
        min_length=1,
        description="The DSN as a postgresql:// URL with a host, its password written as the "
        "setup's `password_placeholder` (never in clear). The session checks that the "
        "variable — a URL, or libpq's key=value pairs (a `service=` filled in from the "
        "service file) — names the same scheme (a URL's), host, port (if the template "
        "gives one), user and database; a variable that is not set is built from the "
        "template with a password asked once and never stored.",
    )
    database: str = Field(
        min_length=1,
        description="The database the DSN must name (the template must name it too).",
    )
    require: dict[str, str] = Field(
        default={},
        description="Query parameters the DSN must carry, e.g. `{ sslmode = \"require\" }`; the "
        "template must set them too.",
    )
    password_command: str | None = Field(
        default=None, min_length=1, pattern=r"^[^`\r\n]*$",
        description="A command that prints the DSN's password (an access token: Entra ID's `az "
        "account get-access-token --resource-type oss-rdbms --query accessToken -o tsv`, AWS's "
        "`aws rds generate-db-auth-token …`, a vault CLI), run afresh for every new connection "
        "— the gates' probes, each step at its start, the radar, the halt diagnostics — with a "
        "10 s limit and without the DSN variables, PGPASSWORD or any other secret in its "
        "environment. What it prints goes where the template's placeholder is and is a secret "
        "everywhere; the runbook names the command, never a secret.",
    )


class SetupScript(_Model):
    """The setup code block, rendered from the working directory and env templates."""

    kind: Literal["script"]
    id: ItemId


# ---------------------------------------------------------------- phases


class Retry(_Model):
    """A bounded retry of a changing step whose only failure was a lock timeout: the field's
    answer to a busy table (a short `lock_timeout`, then another try), approved with the
    runbook."""

    on: Id = Field(
        description="The id of the pattern abort rule that says a lock timeout (e.g. one "
        "matching `LockNotAvailable` or `canceling statement due to lock timeout`); it must "
        "watch the step. Only when it is the one rule that matched is the step tried again.",
    )
    attempts: int = Field(
        ge=2, le=20,
        description="How many times the step may run in all, the first included (2..20).",
    )
    first_delay: Duration = Field(
        default="1s", description="The wait before the second attempt (a duration; "
        "default 1s).",
    )
    cap: Duration = Field(
        default="30s",
        description="The longest wait: each wait doubles from `first_delay` up to it, with "
        "jitter (a duration; default 30s).",
    )


class CommandStep(_Model):
    """A command whose output is evidence; its line is `command` -> `log`."""

    kind: Literal["command"]
    id: ItemId
    command: str = Field(
        min_length=1, pattern=r"^[^`\r\n]*$",
        description="The shell command (one line, no backticks), run in the working directory; "
        "its checklist line is `command` -> `log`.",
    )
    log: str | None = Field(
        default=None, min_length=1, pattern=r"^[^`\r\n]*$",
        description="Where a copy of the command's output is published, relative to the working "
        "directory; its file name is what `evidence` lists. Each step's log is its "
        "own. Absent: the output is kept in the session only.",
    )
    expect_exit: int = Field(
        default=0,
        description="The exit status that counts as success (0..255).",
    )
    # Reads only (alembic heads/current/history, a report): may be cancelled and run again,
    # needs no typed confirmation. Every other command changes something.
    read_only: bool = Field(
        default=False,
        description="Reads only (alembic heads/current/history, a report): may be cancelled and "
        "run again, needs no typed confirmation. Every other command changes "
        "something.",
    )
    # Safe to run again after an interruption (resume re-runs it instead of asking).
    idempotent: bool = Field(
        default=False,
        description="Safe to run again after an interruption (resume re-runs it instead of "
        "asking).",
    )
    abort_rules: list[Id] = Field(
        default=[],
        description="Ids of `[[abort_rules]]` that watch this command's output, besides those of "
        "its phase's `abort_watch` items.",
    )
    # The word the operator types before a changing step starts; a production runbook needs
    # one on every changing command.
    confirm: str | None = Field(
        default=None, min_length=1, pattern=r"^\S+$",
        description="The word the operator types before this changing step starts (one word, no "
        "spaces); a production runbook needs one on every command that is not "
        "read-only.",
    )
    # A hard limit: reaching it stops the command like an abort rule's match.
    timeout: Duration | None = Field(
        default=None,
        description="A hard limit (a duration): reaching it stops the command like an abort "
        "rule's match (its rule is named `timeout`).",
    )
    # Given to PostgreSQL through PGOPTIONS for the command's connections.
    lock_timeout: Duration | None = Field(
        default=None,
        description="PostgreSQL's `lock_timeout` (a duration) for the command's connections, "
        "given through PGOPTIONS.",
    )
    statement_timeout: Duration | None = Field(
        default=None,
        description="PostgreSQL's `statement_timeout` (a duration) for the command's connections, "
        "given through PGOPTIONS.",
    )

    retry: Retry | None = Field(
        default=None,
        description="A bounded retry when the step fails on a lock timeout alone and the "
        "database is where the step started (`on`, `attempts`, `first_delay`, `cap`); needs "
        "`lock_timeout`. In a production runbook the step's typed confirmation covers its "
        "retries; each is recorded.",
    )

    per_revision: bool = Field(
        default=False,
        description="An `alembic upgrade` run one revision at a time: the approved command "
        "once per revision of the path, only its target changed, one log with a section per "
        "revision. A halt part way leaves the revisions before it committed: the step must "
        "say what that means in `halt_leaves`.",
    )
    halt_leaves: Line | None = Field(
        default=None,
        description="With `per_revision`: what a halt part way leaves behind and what the "
        "team does then (e.g. \"revisions before the failing one stay committed; the DBA "
        "decides roll forward or restore\"). Shown in the transcript, the halt banner and "
        "`cockpit status`.",
    )
    hold_before: list[Id] | Id = Field(
        default=[],
        description="With `per_revision`: the revision(s) the upgrade stops before (the point "
        "of no return, a long rewrite, a backfill); it goes on only on the operator's typed "
        "confirmation (the revision's id), and headless stops there (exit 3).",
    )

    hold_countersign: bool = Field(
        default=False,
        description="With `hold_before`: the operator goes past a hold only once a reviewer's "
        "countersignature of it (`cockpit countersign SESSION --hold`) is attached.",
    )

    @property
    def holds(self) -> list[str]:
        """The revisions this step stops before, as a list whichever way they were given."""
        return [self.hold_before] if isinstance(self.hold_before, str) else list(self.hold_before)

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
    id: ItemId
    text: Line = Field(
        description="The check's line; it must show the expected value(s), unless the value is a "
        "boolean or `list_items` shows them.",
    )
    probe: str = Field(description="The probe's name (see Probes).")
    expected: Expected | None = Field(
        default=None,
        description="The value the probe must observe, in the probe's expected shape; absent only "
        "for a probe that takes none.",
    )
    args: dict[str, ArgValue] = Field(
        default={},
        description="The probe's arguments by name (see Probes: each probe lists the ones it "
        "takes).",
    )
    # Show a list `expected` as nested items (`name`) under the text.
    list_items: bool = Field(
        default=False,
        description="Show a list `expected` as nested lines under the text, one per value.",
    )


class AbortWatch(_Model):
    """The abort rules watched on every command of the phase, shown as nested items."""

    kind: Literal["abort_watch"]
    id: ItemId
    text: Line = Field(
        description="The line; the watched rules' labels are shown as nested lines under it.",
    )
    rules: list[Id] = Field(
        min_length=1,
        description="Ids of `[[abort_rules]]` watched on every command of the phase (at least "
        "one).",
    )


# ---------------------------------------------------------------- protocol, evidence, decision

HaltAction = Literal[
    "stop", "preserve", "record_blocker", "escalate", "no_further_commands", "manual"
]


class HaltItem(_Model):
    """A step of the halt-and-contain protocol or of the rollback plan: what is done after a
    halt. Its `action` says who does it."""

    kind: Literal["halt"]
    id: ItemId
    text: Line = Field(description="The protocol step's line.")
    action: HaltAction = Field(
        default="manual",
        description="Who does the step and how it is ticked (see Halt actions).",
    )
    children: Children = []


class EvidenceFile(_Model):
    """A file the evidence pack must hold: a log a command step publishes or a file an
    attestation gate names, by its file name."""

    kind: Literal["file"]
    id: ItemId
    name: str = Field(
        min_length=1, pattern=r"^[^`\r\n/\\]*$",
        description="The file's name, no folder: the last part of a command step's `log` or of an "
        "attestation gate's `path`.",
    )


# What a decision field means to the cockpit, whatever its id or label says: `status` holds
# PASS / BLOCKER, and BLOCKER needs `errors` and `root_cause`; the others are pre-filled.
PASS, BLOCKER = "PASS", "BLOCKER"
IMPLICIT_FIELD_PREFIX = "decision."  # ids of the fields the cockpit adds where none has a role
DecisionRole = Literal["status", "final_revision", "heads_state", "errors", "drift",
                       "root_cause", "risk_tier", "authorization", "operator", "reviewer"]


class DecisionField(_Model):
    """A field of the final decision record, filled in when the session is decided."""

    kind: Literal["field"]
    id: ItemId
    label: str = Field(
        min_length=1, pattern=r"^[^:\r\n]*$",
        description="The field's label, without ':' (added when rendered).",
    )
    allowed: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default=[],
        description="The values the field may take (shown as `A / B`); empty: free text.",
    )
    role: DecisionRole | None = Field(
        default=None,
        description="What the field means to the cockpit (see Decision roles); each role at most "
        "once. Absent: the cockpit does not read the field.",
    )
    required: bool = Field(
        default=False,
        description="Must be filled for a PASS (a sign-off: the risk tier, the authorization, "
        "who approved): the form and headless refuse a PASS without it, naming it; a BLOCKER "
        "is recorded with it empty.",
    )


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
    """A `## ` section of the checklist."""

    heading: Line = Field(description="The section's `## ` heading, without the hashes.")
    # A blank line between the heading and the first block, as Markdown formatters write it.
    spaced: bool = Field(
        default=False,
        description="A blank line between the heading and the first block, as Markdown formatters "
        "write it.",
    )


class BoundarySection(_Section):
    """The control boundary: standing statements on what the document allows."""

    items: list[BoundaryItem] = Field(default=[], description="The section's items, in order.")


class GateSection(_Section):
    """The go/no-go gates: until every gate has passed, no step may run."""

    items: list[GateItem] = Field(default=[], description="The gates, in order.")


class SetupSection(_Section):
    """Session setup: the working directory and the DSN variables, checked when the gates are
    evaluated, and the setup script shown to the operator."""

    shell: Literal["powershell", "sh"] = Field(
        default="sh",
        description="The shell the setup script is written for: `sh` (`cd`, `export`) or "
        "`powershell` (`Set-Location`, `$env:`).",
    )
    password_placeholder: str = Field(
        default="<PASSWORD>", min_length=1,
        description="The text that stands for the database password in DSN templates.",
    )
    timeouts_from: Literal["options", "role"] = Field(
        default="options",
        description="Where the steps' `lock_timeout` and `statement_timeout` come from: "
        "`options` (each step's connections get them through PGOPTIONS) or `role` (the "
        "migration role's own defaults, `ALTER ROLE … IN DATABASE … SET`, run by the DBA — "
        "for a pooler that refuses or drops startup options). Either way they are read back "
        "through each DSN before GO, as the steps' connections get them.",
    )
    items: list[SetupItem] = Field(default=[], description="The section's items, in order.")
    per_environment: list[ItemId] = Field(
        default=[],
        description="Setup items whose values belong to the environment, not to the change: a "
        "`working_directory`'s path, an `env` item's host, port and database. A rehearsal's "
        "transcript is compared with this runbook's with these values set aside (probe "
        "`rehearsal.pass`), and `--workdir` replaces a per-environment working directory "
        "without `--override-workdir`.",
    )


class Phase(_Section):
    """A phase of the cutover: its steps run one at a time, in order."""

    id: Id = Field(description="The phase's id, unique among the phases.")
    steps: list[PhaseItem] = Field(
        description="The phase's steps, in the order they run; at least one.",
    )


class HaltSection(_Section):
    """What is done after a halt: the halt-and-contain protocol (`halt`) or the rollback plan
    (`rollback`)."""

    items: list[HaltSectionItem] = Field(default=[], description="The protocol's steps, in order.")


class EvidenceSection(_Section):
    """The evidence pack: the files a complete session must hold."""

    items: list[EvidenceItem] = Field(
        default=[],
        description="The files of the evidence pack, in order.",
    )


class DecisionSection(_Section):
    """The final decision record: its fields."""

    items: list[DecisionItem] = Field(default=[], description="The record's fields, in order.")
    countersignatures: int = Field(
        default=0, ge=0, le=9,
        description="How many reviewers must countersign the decision (`cockpit countersign`, "
        "attached with `cockpit attach-signature`), each with an SSH key other than the "
        "operator's: until they have, the session is AWAITING COUNTERSIGN.",
    )


Section = (
    BoundarySection | GateSection | SetupSection | Phase | HaltSection | EvidenceSection
    | DecisionSection
)


class AbortRule(_Model):
    """A named condition that stops a running command: a pattern a line of its output
    matches, or (`kind = "lock_queue"`) a queue of sessions waiting behind its locks."""

    id: Id = Field(
        description="The rule's id, named by commands' `abort_rules` and `abort_watch` items' "
        "`rules`; `timeout` and `log_unwritable` are the cockpit's own and cannot be used.",
    )
    label: Line = Field(
        description="How the checklist names the condition (shown under `abort_watch` items).",
    )
    kind: Literal["pattern", "lock_queue"] = Field(
        default="pattern",
        description="`pattern`: matched against the output; `lock_queue`: the lock radar's "
        "samples of the sessions waiting behind the step's locks (its connections are named "
        "`cockpit:<run>`), taken once a second by a watcher of its own.",
    )
    patterns: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default=[],
        description="`pattern` rules: regular expressions matched against each line of a "
        "watched command's output (no named groups); a match stops the command and halts the "
        "session.",
    )
    max_waiting: int | None = Field(
        default=None, ge=1,
        description="`lock_queue` rules: more sessions than this waiting behind the step's "
        "locks (held or asked for).",
    )
    max_wait: Duration | None = Field(
        default=None,
        description="`lock_queue` rules: the oldest of those sessions waiting longer than this.",
    )
    samples: int = Field(
        default=2, ge=1, le=60,
        description="`lock_queue` rules: for this many samples in a row (one a second) before "
        "the step is stopped.",
    )


class Script(_Model):
    """An operator script the runbook runs, pinned by the sha256 it was approved with."""

    path: str = Field(
        min_length=1,
        description="The script as the commands name it, relative to the working directory; some "
        "command step must run it.",
    )
    sha256: Sha256 | None = Field(
        default=None,
        description="The sha256 the script was approved with (64 lowercase hex digits); absent: "
        "not pinned, and the session keeps its gates closed until it is.",
    )


class Waiver(_Model):
    """A risk finding accepted for this cutover, with why and by whom: pinned with the
    runbook, so adding one makes a new approved runbook (and a new session)."""

    revision: str = Field(
        min_length=1,
        description="The revision the finding is in: its id, or the id's leading part before "
        "an underscore (`0021` for `0021_add_flags`).",
    )
    rule: str = Field(
        min_length=1,
        description="The finding's rule, as the risk report names it (a squawk rule such as "
        "`require-concurrent-index-creation`, or the cockpit's own: `access-exclusive-lock`, "
        "`share-lock`, `index-without-concurrently`, `constraint-validation`, "
        "`column-type-change`, `non-atomic-revision`, `not-analysable-offline`).",
    )
    reason: Line = Field(description="Why it is accepted for this cutover.")
    approved_by: Line = Field(description="Who approved it.")


class Environment(_Model):
    """Where one runbook runs (`[environments.clone]`, `[environments.production]`): the
    values that differ between them. A key left out takes the value the setup's items carry
    as written — the values the transcript shows."""

    database: str | None = Field(
        default=None, min_length=1, pattern=r"^[^/?#@\s]*$",
        description="The database every `env` item's DSN names in this environment (its "
        "template's and its `database`).",
    )
    host: str | None = Field(
        default=None, min_length=1, pattern=r"^[^/?#@\s]*$",
        description="The host, or host:port, every `env` item's DSN names in this "
        "environment.",
    )
    workdir: str | None = Field(
        default=None, min_length=1,
        description="The working directory in this environment; a relative path is taken "
        "from the runbook file's folder.",
    )


PrefaceItem = Annotated[Text | CodeBlock, Discriminated]


class Runbook(_Model):
    """A runbook: one TOML file, the typed one-page cutover checklist."""

    format: Literal[1] = Field(description="The runbook format version: 1.")
    id: Id = Field(description="The runbook's id; a session's folder name carries it.")
    title: Line = Field(description="The checklist's `# ` title line.")
    # A production runbook forbids auto-confirmation and needs `confirm` on every command
    # that is not read-only.
    production: bool = Field(
        description="A production runbook forbids auto-confirmation and needs `confirm` on every "
        "command that is not read-only.",
    )
    # Lines between the title and the first section.
    preface: list[PrefaceItem] = Field(
        default=[],
        description="Lines between the title and the first section.",
    )
    boundary: BoundarySection | None = Field(
        default=None,
        description="The control boundary: standing statements.",
    )
    gates: GateSection | None = Field(default=None, description="The go/no-go gates.")
    setup: SetupSection | None = Field(
        default=None,
        description="Session setup: working directory, DSN variables, setup script.",
    )
    phases: list[Phase] = Field(
        min_length=1,
        description="The phases, in the order they run; at least one.",
    )
    halt: HaltSection | None = Field(
        default=None,
        description="The halt-and-contain protocol: what is done after a halt.",
    )
    # Steps of a rollback or back-out plan: after a halt the operator confirms each with a
    # note (done, or why not); the cockpit itself never runs a command after a halt.
    rollback: HaltSection | None = Field(
        default=None,
        description="Steps of a rollback or back-out plan: after a halt the operator confirms "
        "each with a note (done, or why not); the cockpit itself never runs a command "
        "after a halt.",
    )
    evidence: EvidenceSection | None = Field(
        default=None,
        description="The evidence pack: the files a complete session holds.",
    )
    decision: DecisionSection | None = Field(
        default=None,
        description="The final decision record's fields.",
    )
    # The order the sections appear in on the page, by place name (`gates`, `phases[0]`,
    # ...), when it is not the usual one. Phases keep their order; meaning never depends on it.
    order: list[str] = Field(
        default=[],
        description="The order the sections appear in on the page, by place name (`gates`, "
        "`phases[0]`, ...), when it is not the usual one. Phases keep their order; "
        "meaning never depends on it.",
    )
    abort_rules: list[AbortRule] = Field(
        default=[],
        description="The abort rules commands and phases may name.",
    )
    scripts: list[Script] = Field(
        default=[],
        description="The operator scripts commands run, each pinned by the sha256 it was approved "
        "with.",
    )
    waivers: list[Waiver] = Field(
        default=[],
        description="Risk findings of `migration.risk` accepted for this cutover; an error not "
        "waived keeps its gate closed.",
    )
    notify: list[Notify] = Field(
        default=[],
        description="Where the cutover's moments are sent (`[[notify]]`): GO, a phase, "
        "HALTED and why, the decision... — by the cockpit that drives the session, outside "
        "the operator's path; each attempt is an event.",
    )
    environments: dict[Id, Environment] = Field(
        default={},
        description="Where the runbook runs — the clone, production — by name, each with the "
        "values that differ there (`database`, `host`, `workdir`). `cockpit run --environment "
        "NAME` picks one (required when there are several); the session records it, the "
        "setup is checked against its values, and a rehearsal's proof sets them aside.",
    )

    def usual_sections(self) -> list[tuple[str, Section]]:
        """The sections in the usual order, each with its place name (`phases[1]`)."""
        named: list[tuple[str, Section | None]] = [
            ("boundary", self.boundary),
            ("gates", self.gates),
            ("setup", self.setup),
        ]
        named += [(f"phases[{i}]", phase) for i, phase in enumerate(self.phases)]
        named += [("halt", self.halt), ("rollback", self.rollback),
                  ("evidence", self.evidence), ("decision", self.decision)]
        return [(place, section) for place, section in named if section is not None]

    def sections(self) -> list[tuple[str, Section]]:
        """The sections in document order (`order`, when it names each once)."""
        present = dict(self.usual_sections())
        # A copy without a section (the report drops the decision) keeps the others' order.
        ordered = [place for place in self.order if place in present]
        if ordered and len(set(ordered)) == len(present) == len(ordered):
            return [(place, present[place]) for place in ordered]
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

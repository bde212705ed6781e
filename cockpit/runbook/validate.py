"""Consistency rules a well-typed runbook must still satisfy before anyone may run it.

The model checks each value's type; these rules check how values relate: ids are unique,
every reference resolves, every evidence file has a producer, and every line a person
approves still shows the value the machine will act on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import TypeAdapter, ValidationError

from cockpit.runbook.commands import (
    CHANGING_ALEMBIC,
    alembic_words,
    confirm_word,
    is_read_only,
    script_paths,
)
from cockpit.runbook.environment import environment_problems
from cockpit.runbook.model import (
    BLOCKER,
    COCKPIT_RULES,
    IMPLICIT_FIELD_PREFIX,
    PASS,
    TIMEOUT_RULE,
    AbortRule,
    AbortWatch,
    AnyItem,
    ArgValue,
    AttestationFileGate,
    CheckStep,
    CodeBlock,
    CommandStep,
    DecisionField,
    Duration,
    EnvVar,
    EvidenceFile,
    Expected,
    Manual,
    ProbeGate,
    Runbook,
    SetupScript,
    SetupSection,
    Text,
    WorkingDirectory,
    duration_seconds,
    items_key,
    section_items,
)
from cockpit.runbook.notify import notify_problems
from cockpit.runbook.paths import path_name
from cockpit.runbook.probes import PROBES, ProbeSpec
from cockpit.runbook.render import render_markdown
from cockpit.runbook.roles import role_for_label
from cockpit.runbook.squawk_rules import KNOWN_RULES, squawk_knows

# Records one broken rule: (place, message).
Add = Callable[[str, str], None]

_DIALECT_LINE = re.compile(r"^(?:```|## | *- \[.\] )")


def text_line_problem(text: str) -> str | None:
    """Why verbatim text would not read back as the same text, or None."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            return f"line {number} of the text is blank (text is one run of non-blank lines)"
        if _DIALECT_LINE.match(line):
            return f"line {number} of the text reads as a heading, item or code fence: {line!r}"
    return None


def walk_items(runbook: Runbook) -> Iterator[tuple[str, AnyItem]]:
    """Every item of the runbook with its place (`phases[2].steps[0]`)."""
    for place, section in runbook.sections():
        key = items_key(section)
        for index, item in enumerate(section_items(section)):
            yield f"{place}.{key}[{index}]", item


def consistency_problems(runbook: Runbook) -> list[tuple[str, str]]:
    """(place, message) for each rule the runbook breaks; empty when it is consistent."""
    problems: list[tuple[str, str]] = []

    def add(place: str, message: str) -> None:
        problems.append((place, message))

    _check_unique_ids(runbook, add)
    _check_abort_rules(runbook, add)
    _check_phases(runbook, add)
    _check_setup(runbook, add)
    _check_evidence(runbook, add)
    _check_scripts(runbook, add)
    _check_decision(runbook, add)
    _check_order(runbook, add)
    problems += notify_problems(runbook.notify)
    problems += environment_problems(runbook)
    for place, item in walk_items(runbook):
        if isinstance(item, CheckStep | ProbeGate):
            _check_probe(place, item, add)
            _check_rehearsal_step(runbook, place, item, add)
        elif isinstance(item, AttestationFileGate) and path_name(item.path) not in item.text:
            add(f"{place}.text", f"must name the attestation file `{path_name(item.path)}`")
        elif isinstance(item, CodeBlock) and any(
            line.lstrip().startswith("```") for line in item.text.split("\n")
        ):
            add(f"{place}.text", "a code block cannot contain a ``` fence line")
        elif isinstance(item, CommandStep):
            _check_command(place, item, runbook.production, add)
        elif isinstance(item, Text) and (why := text_line_problem(item.text)):
            add(f"{place}.text", why)
    for index, item in enumerate(runbook.preface):
        if isinstance(item, Text) and (why := text_line_problem(item.text)):
            add(f"preface[{index}].text", why)
    return problems


def _check_command(place: str, step: CommandStep, production: bool, add: Add) -> None:
    if not 0 <= step.expect_exit <= 255:
        add(f"{place}.expect_exit", f"exit status {step.expect_exit} is not in 0..255")
    words = alembic_words(step.command) or []
    if step.read_only and words and words[0] in CHANGING_ALEMBIC:
        add(f"{place}.read_only", f"`alembic {words[0]}` changes the database; it is not "
            "read-only")
    elif step.read_only and step.confirm is not None:
        add(f"{place}.confirm", "a read-only command asks for no confirmation; drop `confirm` "
            "or `read_only`")
    elif production and not step.read_only and step.confirm is None:
        fix = ("`alembic " + words[0] + "` only reads: mark it read_only = true"
               if is_read_only(step.command) else
               f"add confirm = \"{confirm_word(step.command)}\" (the word the operator types), "
               "or read_only = true if it only reads")
        add(f"{place}.confirm", "a production runbook needs a typed confirmation before every "
            f"command that changes something: {fix}")


def _check_order(runbook: Runbook, add: Add) -> None:
    if not runbook.order:
        return
    present = [place for place, _ in runbook.usual_sections()]
    if sorted(runbook.order) != sorted(present):
        add("order", f"must list each section once: {', '.join(present)}")
        return
    phases = [place for place in runbook.order if place.startswith("phases[")]
    if phases != [place for place in present if place.startswith("phases[")]:
        add("order", "phases appear in the order they run: " + ", ".join(
            p for p in present if p.startswith("phases[")))


def _check_unique_ids(runbook: Runbook, add: Add) -> None:
    seen: dict[str, str] = {}
    for place, item in walk_items(runbook):
        if item.id in seen:
            add(f"{place}.id", f"duplicate id '{item.id}' (first used at {seen[item.id]})")
        else:
            seen[item.id] = place
    phase_ids: dict[str, int] = {}
    for index, phase in enumerate(runbook.phases):
        if phase.id in phase_ids:
            add(f"phases[{index}].id", f"duplicate phase id '{phase.id}'")
        phase_ids.setdefault(phase.id, index)
    rule_ids: set[str] = set()
    for index, rule in enumerate(runbook.abort_rules):
        if rule.id in rule_ids:
            add(f"abort_rules[{index}].id", f"duplicate abort rule id '{rule.id}'")
        rule_ids.add(rule.id)


def _check_abort_rules(runbook: Runbook, add: Add) -> None:
    for index, rule in enumerate(runbook.abort_rules):
        _check_abort_rule(f"abort_rules[{index}]", rule, add)
    _check_queue_rules_on_read_only(runbook, add)
    _check_abort_rule_refs(runbook, add)
    _check_retries(runbook, add)
    _check_per_revision(runbook, add)


def _watching(runbook: Runbook, step: CommandStep) -> set[str]:
    """The abort rules that watch a command: its own and its phase's `abort_watch` items'."""
    found = set(step.abort_rules)
    for phase in runbook.phases:
        if step in phase.steps:
            found.update(r for item in phase.steps if isinstance(item, AbortWatch)
                         for r in item.rules)
    return found


# what PostgreSQL and psycopg say when lock_timeout cancels a statement
LOCK_TIMEOUT_SAMPLES = ("canceling statement due to lock timeout",
                        "psycopg.errors.LockNotAvailable: canceling statement due to lock "
                        "timeout", "SQLSTATE 55P03")


def _says_lock_timeout(rule: AbortRule) -> bool:
    for pattern in rule.patterns:
        try:
            if any(re.search(pattern, sample) for sample in LOCK_TIMEOUT_SAMPLES):
                return True
        except re.error:
            continue  # a pattern this engine cannot read: its own check names it
    return False


def _check_retries(runbook: Runbook, add: Add) -> None:
    """A retry is for a changing step with a lock timeout, on a pattern rule that watches
    it, its waits within the bounds it names."""
    for place, step in walk_items(runbook):
        if not isinstance(step, CommandStep) or step.retry is None:
            continue
        retry, at = step.retry, f"{place}.retry"
        if step.read_only:
            add(at, "a read-only step is run again anyway; a retry is for a changing step")
        if step.lock_timeout is None:
            add(at, "a retry on a lock timeout needs the step's `lock_timeout` (e.g. \"2s\"): "
                "without it the step waits for the lock as long as it takes")
        rule = runbook.abort_rule(retry.on)
        if rule is None or rule.kind != "pattern":
            add(f"{at}.on", f"'{retry.on}' is no pattern rule of [[abort_rules]]")
        elif retry.on not in _watching(runbook, step):
            add(f"{at}.on", f"'{retry.on}' does not watch this step: add it to its "
                "`abort_rules` (or its phase's abort_watch)")
        elif not _says_lock_timeout(rule):
            add(f"{at}.on", f"'{retry.on}' matches none of PostgreSQL's lock-timeout errors "
                f"({', '.join(repr(s) for s in LOCK_TIMEOUT_SAMPLES)}): a retry is for a lock "
                "timeout alone")
        if duration_seconds(retry.first_delay) > duration_seconds(retry.cap):
            add(f"{at}.first_delay", f"{retry.first_delay} is longer than the cap {retry.cap}")


def _check_per_revision(runbook: Runbook, add: Add) -> None:
    """A revision at a time is for an online `alembic upgrade`, and changes what a halt
    leaves behind: the step says so. A hold is a revision of such a step."""
    from cockpit.runbook.targets import command_targets

    for place, step in walk_items(runbook):
        if not isinstance(step, CommandStep):
            continue
        if step.hold_countersign and not step.holds:
            add(f"{place}.hold_countersign", "countersigns a hold: it needs `hold_before`")
        if step.holds and not step.per_revision:
            add(f"{place}.hold_before", "a hold stops between revisions: it needs "
                "`per_revision = true`")
        if not step.per_revision:
            if step.halt_leaves is not None:
                add(f"{place}.halt_leaves", "is for a `per_revision` step")
            continue
        found = command_targets(step.command)
        if found is None or found[0] != "upgrade" or found[2] or ":" in "".join(found[1]):
            add(f"{place}.per_revision", "runs an online `alembic upgrade <target>` one "
                "revision at a time; this command is none")
        if step.read_only:
            add(f"{place}.per_revision", "a read-only step changes no revision")
        if not step.halt_leaves:
            add(f"{place}.halt_leaves", "a halt part way through a `per_revision` step leaves "
                "the revisions before it committed: say what that leaves and what the team "
                "does then (halt_leaves = \"...\")")
        if len(set(step.holds)) != len(step.holds):
            add(f"{place}.hold_before", "names a revision twice")


def _check_abort_rule(place: str, rule: AbortRule, add: Add) -> None:
    if rule.id in COCKPIT_RULES:
        why = ("a step that reaches its timeout" if rule.id == TIMEOUT_RULE
               else "a step whose log cannot be written")
        add(f"{place}.id", f"'{rule.id}' is the cockpit's own ({why}); choose another id")
    _check_abort_rule_kind(place, rule, add)
    for p_index, pattern in enumerate(rule.patterns):
        _check_abort_pattern(f"{place}.patterns[{p_index}]", pattern, add)


def _check_abort_rule_kind(place: str, rule: AbortRule, add: Add) -> None:
    """A pattern rule reads the output, a lock_queue rule the radar: each has only its own
    settings."""
    limits = bool(rule.max_waiting or rule.max_wait)
    if rule.kind == "pattern":
        if not rule.patterns:
            add(f"{place}.patterns", "a pattern rule needs at least one pattern")
        if limits:
            add(place, "max_waiting and max_wait belong to lock_queue rules; "
                "set kind = \"lock_queue\"")
        return
    if rule.patterns:
        add(f"{place}.patterns", "a lock_queue rule watches the radar, not the output: give "
            "it no patterns")
    if not limits:
        add(place, "a lock_queue rule needs max_waiting, max_wait or both")


def _check_abort_pattern(place: str, pattern: str, add: Add) -> None:
    try:
        # As the supervisor uses it: on bytes, beside the other patterns.
        compiled = re.compile(pattern.encode("utf-8"))
    except re.error as exc:
        add(place, f"not a valid regular expression on output bytes ({exc})")
        return
    if compiled.groupindex:
        add(place, "named groups are reserved for the cockpit; use (?:...) instead")


def _check_queue_rules_on_read_only(runbook: Runbook, add: Add) -> None:
    queue_rules = {rule.id for rule in runbook.abort_rules if rule.kind == "lock_queue"}
    for place, item in walk_items(runbook):
        if not (isinstance(item, CommandStep) and item.read_only):
            continue
        for index, rule_id in enumerate(item.abort_rules):
            if rule_id in queue_rules:
                add(f"{place}.abort_rules[{index}]", f"'{rule_id}' watches the lock queue; "
                    "a read_only step has no lock radar (name it on a changing step)")


def _check_abort_rule_refs(runbook: Runbook, add: Add) -> None:
    known = {rule.id for rule in runbook.abort_rules}
    hint = f"defined: {', '.join(sorted(known))}" if known else "no [[abort_rules]] are defined"
    for place, item in walk_items(runbook):
        key, refs = _abort_refs(item)
        for r_index, ref in enumerate(refs):
            if ref not in known:
                add(f"{place}.{key}[{r_index}]", f"unknown abort rule '{ref}' ({hint})")


def _abort_refs(item: AnyItem) -> tuple[str, list[str]]:
    """The abort rules an item names, and the key that names them."""
    if isinstance(item, AbortWatch):
        return "rules", item.rules
    if isinstance(item, CommandStep):
        return "abort_rules", item.abort_rules
    return "abort_rules", []


def _check_phases(runbook: Runbook, add: Add) -> None:
    logs: dict[str, str] = {}
    for p_index, phase in enumerate(runbook.phases):
        if not phase.steps:
            add(f"phases[{p_index}].steps", "a phase needs at least one step")
        for s_index, step in enumerate(phase.steps):
            if isinstance(step, CommandStep) and step.log:
                place = f"phases[{p_index}].steps[{s_index}].log"
                if step.log in logs:
                    add(place, f"log '{step.log}' is already written by {logs[step.log]}")
                logs.setdefault(step.log, place)


def _check_setup(runbook: Runbook, add: Add) -> None:
    setup = runbook.setup
    if setup is None:
        return
    for kind, name in ((WorkingDirectory, "working_directory"), (SetupScript, "script")):
        indices = [i for i, item in enumerate(setup.items) if isinstance(item, kind)]
        for index in indices[1:]:
            add(f"setup.items[{index}]", f"only one '{name}' item is allowed")
    if setup.timeouts_from == "role":
        sets = {tuple(sorted(item.pg_settings().items())) for _, item in walk_items(runbook)
                if isinstance(item, CommandStep) and not item.read_only and item.pg_settings()}
        if len(sets) > 1:
            add("setup.timeouts_from", f"the role's defaults are one set of timeouts, but the "
                f"changing steps ask for {len(sets)} different ones: give them all the same "
                "`lock_timeout` and `statement_timeout`, or use `options`")
    has_workdir = any(isinstance(i, WorkingDirectory) for i in setup.items)
    for index, item in enumerate(setup.items):
        place = f"setup.items[{index}]"
        if isinstance(item, SetupScript) and not has_workdir:
            add(place, "a setup script needs a 'working_directory' item to change into")
        elif isinstance(item, WorkingDirectory):
            if path_name(item.path) not in item.text:
                add(f"{place}.text", f"must name the directory `{path_name(item.path)}`")
            if setup.shell == "powershell" and '"' in item.path:
                add(f"{place}.path", 'a PowerShell path cannot contain `"`')
        elif isinstance(item, EnvVar):
            _check_env(place, item, setup, add)
    kinds = {item.id: item for item in setup.items}
    for index, item_id in enumerate(setup.per_environment):
        if not isinstance(kinds.get(item_id), WorkingDirectory | EnvVar):
            add(f"setup.per_environment[{index}]", f"'{item_id}' is no `working_directory` or "
                "`env` item of the setup; only their values belong to an environment")


def _check_env(place: str, item: EnvVar, setup: SetupSection, add: Add) -> None:
    placeholder = setup.password_placeholder
    if "'" in item.template:
        add(f"{place}.template", "a DSN template cannot contain a single quote")
    parts = urlsplit(item.template.replace(placeholder, "PLACEHOLDER"))
    if not parts.scheme.startswith("postgres") or not parts.hostname:
        add(f"{place}.template", "expected a postgresql:// URL with a host")
        return
    if item.password_command is not None and parts.password != "PLACEHOLDER":
        add(f"{place}.password_command", f"the template has no {placeholder} for the "
            "command's password to go in")
    if parts.password not in (None, "PLACEHOLDER"):
        add(
            f"{place}.template",
            f"holds a clear-text password; write the placeholder {placeholder} instead "
            "(secrets never touch disk)",
        )
    database = unquote(parts.path.lstrip("/"))
    if database != item.database:
        add(f"{place}.database", f"'{item.database}' but the template names '{database}'")
    query = dict(parse_qsl(parts.query))
    for key, value in item.require.items():
        if query.get(key) != value:
            add(f"{place}.require.{key}", f"the template does not set {key}={value}")
    for shown in (item.name, item.database, *(f"{k}={v}" for k, v in item.require.items())):
        if shown not in item.text:
            add(f"{place}.text", f"must show `{shown}`")


def _check_evidence(runbook: Runbook, add: Add) -> None:
    if runbook.evidence is None:
        return
    produced = {
        path_name(item.log) for _, item in walk_items(runbook)
        if isinstance(item, CommandStep) and item.log
    }
    named = {
        path_name(item.path) for _, item in walk_items(runbook)
        if isinstance(item, AttestationFileGate)
    }
    seen: set[str] = set()
    for index, item in enumerate(runbook.evidence.items):
        if not isinstance(item, EvidenceFile):
            continue
        place = f"evidence.items[{index}].name"
        if item.name in seen:
            add(place, f"'{item.name}' is listed twice")
        seen.add(item.name)
        if item.name not in produced | named:
            add(place, f"'{item.name}' is produced by no step and named by no gate")


def _check_decision(runbook: Runbook, add: Add) -> None:
    """Every session must be decidable: the field with the status role can hold both PASS
    and BLOCKER, and no role is given twice (the cockpit adds a field for a missing role)."""
    if runbook.decision is None:
        return
    roles: dict[str, str] = {}
    for index, item in enumerate(runbook.decision.items):
        if not isinstance(item, DecisionField):
            continue
        place = f"decision.items[{index}]"
        if item.id.startswith(IMPLICIT_FIELD_PREFIX):
            add(f"{place}.id", f"ids starting with '{IMPLICIT_FIELD_PREFIX}' are the cockpit's own")
        if item.role is None:
            continue
        if item.role in roles:
            add(f"{place}.role", f"role '{item.role}' is already given to field "
                f"'{roles[item.role]}'")
        roles.setdefault(item.role, item.id)
        if item.role == "status":
            missing = [v for v in (PASS, BLOCKER) if v not in item.allowed]
            if missing:
                add(f"{place}.allowed", f"the status field must allow {' and '.join(missing)} "
                    "(a session must be able to record both PASS and BLOCKER)")


def _check_scripts(runbook: Runbook, add: Add) -> None:
    commands = [item.command for _, item in walk_items(runbook) if isinstance(item, CommandStep)]
    seen: set[str] = set()
    for index, script in enumerate(runbook.scripts):
        if script.path in seen:
            add(f"scripts[{index}].path", f"'{script.path}' is listed twice")
        seen.add(script.path)
        if not any(script.path in command for command in commands):
            add(f"scripts[{index}].path", f"no step runs '{script.path}'")


def _check_probe_args(place: str, spec: ProbeSpec, args: dict[str, ArgValue], add: Add) -> None:
    known = {arg.name: arg for arg in spec.args}
    for name, value in args.items():
        arg = known.get(name)
        if arg is None:
            takes = ", ".join(known) if known else "no arguments"
            add(f"{place}.args.{name}", f"probe '{spec.name}' takes {takes}")
        elif not _arg_fits(arg.shape, value):
            wanted = {"list": "a list of texts", "text": "a text",
                      "integer": "a whole number, 0 or more",
                      "duration": 'a duration such as "5m", "30s" or "500ms"'}[arg.shape]
            add(f"{place}.args.{name}", f"'{name}' is {wanted}")
    for arg in spec.args:
        if arg.default is None and arg.name not in args:
            add(f"{place}.args", f"probe '{spec.name}' needs the argument '{arg.name}' "
                f"({arg.summary})")


_DURATION = TypeAdapter(Duration)


def _is_duration(value: str) -> bool:
    try:
        _DURATION.validate_python(value)
    except ValidationError:
        return False
    return True


def _arg_fits(shape: str, value: ArgValue) -> bool:
    if shape == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if shape == "duration":
        return isinstance(value, str) and _is_duration(value)
    return isinstance(value, list) if shape == "list" else isinstance(value, str)


def _check_rehearsal_step(runbook: Runbook, place: str, item: CheckStep | ProbeGate,
                          add: Add) -> None:
    """A snapshot taken from the linked rehearsal names one of this runbook's commands (the
    rehearsal ran the same runbook)."""
    step = item.args.get("rehearsal_step")
    if step is None:
        return
    commands = {i.id for _, i in walk_items(runbook) if isinstance(i, CommandStep)}
    if step not in commands:
        add(f"{place}.args.rehearsal_step", f"'{step}' is no command step of this runbook "
            "(the step whose log is the snapshot: `cockpit snapshot`)")


def _check_excluded_rules(place: str, rules: ArgValue | None, add: Add) -> None:
    """A squawk rule excluded by a name squawk does not have would exclude nothing."""
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if squawk_knows(rule) is False:
            near = difflib.get_close_matches(rule, sorted(KNOWN_RULES), n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            add(f"{place}.args.exclude_rules[{index}]", f"squawk has no rule '{rule}'{hint}")


def _check_probe(place: str, item: CheckStep | ProbeGate, add: Add) -> None:
    spec = PROBES.get(item.probe)
    if spec is None:
        add(f"{place}.probe", f"unknown probe '{item.probe}' (known: {', '.join(sorted(PROBES))})")
        return
    if spec.gate_only and isinstance(item, CheckStep):
        add(f"{place}.probe", f"probe '{spec.name}' answers a gate only (in [gates])")
    _check_probe_args(place, spec, item.args, add)
    if (own := _PROBE_ARG_RULES.get(spec.name)) is not None:
        own(place, item.args, add)
    _check_expected(place, spec, item, add)


def _check_countersign_count(place: str, args: dict[str, ArgValue], add: Add) -> None:
    if args.get("count") == 0:
        add(f"{place}.args.count", "a countersignature gate needs at least 1 reviewer")


def _check_parity_reference(place: str, args: dict[str, ArgValue], add: Add) -> None:
    if ("reference" in args) == ("rehearsal_step" in args):
        add(f"{place}.args", "give the snapshot to compare with: `reference` (a file) or "
            "`rehearsal_step` (a step of the linked rehearsal), one of them")


# What one probe's arguments must hold beyond their shapes, by probe.
_PROBE_ARG_RULES: dict[str, Callable[[str, dict[str, ArgValue], Add], None]] = {
    "migration.risk": lambda place, args, add: _check_excluded_rules(
        place, args.get("exclude_rules"), add),
    "review.countersigned": _check_countersign_count,
    "db.structural_parity": _check_parity_reference,
}

# Whether an expected value has the shape a probe takes.
_EXPECTED_SHAPES: dict[str, Callable[[Expected], bool]] = {
    "text": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "list": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "none": lambda value: False,
}


def _check_expected(place: str, spec: ProbeSpec, item: CheckStep | ProbeGate, add: Add) -> None:
    """The expected value has the probe's shape, and the item's line shows it."""
    expected = item.expected
    if expected is None:
        if spec.expected != "none" and not (spec.expected_optional and isinstance(item, ProbeGate)):
            add(f"{place}.expected", f"probe '{spec.name}' needs an expected {spec.expected}")
        return
    if not _EXPECTED_SHAPES[spec.expected](expected):
        wanted = "no expected value" if spec.expected == "none" else f"an expected {spec.expected}"
        add(f"{place}.expected", f"probe '{spec.name}' takes {wanted}")
        return
    list_items = isinstance(item, CheckStep) and item.list_items
    if list_items and not isinstance(expected, list):
        add(f"{place}.list_items", "only a list of expected values can be shown as items")
    shown = [] if list_items or isinstance(expected, bool) else (
        expected if isinstance(expected, list) else [str(expected)]
    )
    for value in shown:
        if value not in item.text:
            add(f"{place}.text", f"must show the expected value `{value}` (what is approved "
                "is what is checked)")



def unlisted_scripts(runbook: Runbook) -> list[tuple[str, str, str]]:
    """(place, step id, path) of each script a command runs that `[[scripts]]` does not
    list: it would run with no approved sha256."""
    listed = {script.path for script in runbook.scripts}
    found: list[tuple[str, str, str]] = []
    for place, item in walk_items(runbook):
        if isinstance(item, CommandStep):
            for path in script_paths(item.command):
                if path not in listed and path not in {f[2] for f in found}:
                    found.append((f"{place}.command", item.id, path))
    return found


def advisories(runbook: Runbook) -> list[tuple[str, str]]:
    """Things that do not stop a load but will hold a session's gates closed, or that
    likely do not mean what the author thinks."""
    notes = [
        (f"scripts[{index}].sha256", f"'{script.path}' is not pinned: the session keeps its "
         "gates closed until the approved sha256 is written here")
        for index, script in enumerate(runbook.scripts)
        if script.sha256 is None
    ]
    for place, _step, path in unlisted_scripts(runbook):
        held = ("the session keeps its gates closed until it is listed and pinned"
                if runbook.production else "it runs unpinned")
        notes.append((place, f"runs '{path}', which [[scripts]] does not list: {held} "
                      f"(add [[scripts]] path = \"{path}\" with its sha256)"))
    notes += _setup_confirmation_notes(runbook) + _unguarded_change_notes(runbook)
    items = runbook.decision.items if runbook.decision else []
    given = {i.role for i in items if isinstance(i, DecisionField)}
    for index, item in enumerate(items):
        if isinstance(item, DecisionField) and item.role is None:
            role = role_for_label(item.label, item.allowed)
            if role is not None and role not in given:
                notes.append((f"decision.items[{index}].role", f"'{item.label}' reads like the "
                              f"{role} field but has no role; give it role = \"{role}\" (the "
                              "cockpit otherwise records that role in a field of its own)"))
    return notes


def _transcript_lines(runbook: Runbook) -> dict[str, int]:
    """The line of each item's checklist line in the transcript (the approved Markdown, the
    same lines as the checklist it was imported from): rendered with each box holding its
    item's id."""
    found: dict[str, int] = {}
    for number, line in enumerate(render_markdown(runbook, lambda i: f"\0{i}\0").split("\n"), 1):
        if (match := re.match(r"\s*- \[\0(.+?)\0\] ", line)) is not None:
            found.setdefault(match[1], number)
    return found


def _setup_confirmation_notes(runbook: Runbook) -> list[tuple[str, str]]:
    items = runbook.setup.items if runbook.setup else []
    lines = _transcript_lines(runbook) if any(isinstance(i, Manual) for i in items) else {}
    return [(f"setup.items[{index}]", f"setup item '{item.id}' (line {lines.get(item.id, '?')})"
             " is a manual confirmation: the gates stay closed until it is confirmed")
            for index, item in enumerate(items) if isinstance(item, Manual)]


def _unguarded_change_notes(runbook: Runbook) -> list[tuple[str, str]]:
    """A changing command nothing would stop on a lock wait or a printed error."""
    notes = []
    for p, phase in enumerate(runbook.phases):
        watched = any(isinstance(i, AbortWatch) and i.rules for i in phase.steps)
        for s, step in enumerate(phase.steps):
            if (isinstance(step, CommandStep) and not step.read_only and not watched
                    and not step.abort_rules and step.lock_timeout is None
                    and "lock_timeout" not in step.command):  # set in the command itself
                notes.append((f"phases[{p}].steps[{s}]", f"step '{step.id}' changes the "
                              "database with no abort rule and no lock_timeout: nothing stops "
                              "it on a lock wait or an error it prints (give it abort_rules, an "
                              "abort_watch in its phase, or lock_timeout = \"5s\")"))
    return notes

"""Whether each `alembic upgrade|downgrade|stamp TARGET` a runbook runs names a revision of its
lineage, asked of Alembic's own script directory (no database): a typo is refused before
anything runs, naming the step and the nearest revision. `validate` uses it offline; the
`alembic.targets_known` gate uses it again on the session's working directory."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.runbook.alembic_config import (
    AlembicConfig,
    LineageUnreadable,
    command_config,
    read_lineage,
)
from cockpit.runbook.commands import CHANGING_ALEMBIC, alembic_args, alembic_words
from cockpit.runbook.model import (
    CommandStep,
    ProbeGate,
    Runbook,
    WorkingDirectory,
    items_key,
    section_items,
)
from cockpit.runbook.paths import resolve
from cockpit.runbook.platform import windows_absolute

if TYPE_CHECKING:  # Alembic is imported when a lineage is read (see alembic_config)
    from alembic.script import ScriptDirectory
    from alembic.script.revision import ResolutionError

TARGETS_PROBE = "alembic.targets_known"
# options of upgrade/downgrade/stamp that take a value
_VALUED = ("-c", "--config", "-n", "--name", "-x", "--tag")
# Alembic's relative forms: `+2`, `-1`, `ae10+2`, `branch@+1`, `head-1`
RELATIVE = re.compile(r"^(?:(?P<branch>[^@]+)@)?(?P<rev>[^+\-@]+)?(?P<step>[+-]\d+)$")
_SYMBOLS = ("head", "heads", "base")


@dataclass(frozen=True)
class AlembicTarget:
    """One revision a changing Alembic command names."""

    step: str  # the step's id
    place: str  # where in the runbook (`phases[3].steps[0].command`)
    verb: str  # upgrade | downgrade | stamp
    target: str
    offline: bool  # `--sql`: an `A:B` range is allowed
    config: AlembicConfig  # the configuration (`-c`, `-n`) the command reads


def command_targets(command: str) -> tuple[str, list[str], bool] | None:
    """(verb, targets, offline) of an `alembic upgrade|downgrade|stamp` command; None for any
    other. A range `A:B` (offline) gives both ends; no target given is `heads` for upgrade."""
    words = alembic_args(command)
    if words is None:
        return None
    plain: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif not word.startswith("-") or re.fullmatch(r"-\d+", word):
            plain.append(word)
    if not plain or plain[0] not in CHANGING_ALEMBIC:
        return None
    offline = "--sql" in words
    # upgrade and downgrade take one revision; stamp takes several
    given = plain[1:] if plain[0] == "stamp" else plain[1:2] or (
        ["heads"] if plain[0] == "upgrade" else [])
    targets: list[str] = []
    for word in given:
        ends = word.split(":", 1) if offline and ":" in word else [word]
        targets += [end for end in ends if end]
    return plain[0], targets, offline


def command_steps(runbook: Runbook) -> Iterator[tuple[str, CommandStep]]:
    """(where its command is in the runbook, the step) of every command step, in order."""
    for place, section in runbook.sections():
        key = items_key(section)
        for index, item in enumerate(section_items(section)):
            if isinstance(item, CommandStep):
                yield f"{place}.{key}[{index}].command", item


def runbook_targets(runbook: Runbook) -> Iterator[AlembicTarget]:
    """Every revision named by a changing Alembic command of the runbook, in order."""
    for place, item in command_steps(runbook):
        found = command_targets(item.command)
        if found is None:
            continue
        verb, targets, offline = found
        config = command_config(item.command)
        for target in targets:
            yield AlembicTarget(item.id, place, verb, target, offline, config)
        for index, hold in enumerate(item.holds):  # a hold that names nothing never holds
            yield AlembicTarget(item.id, f"{place.removesuffix('.command')}.hold_before"
                                f"[{index}]", "hold", hold, offline, config)


def config_verb(command: str) -> str | None:
    """The Alembic command's verb when it reads the project's configuration (every one but
    `init`, `list_templates`, `--version`, `--help`); None for any other command."""
    args = alembic_args(command) or []
    if any(word in ("--version", "-h", "--help") for word in args):
        return None
    words = alembic_words(command)
    if not words or words[0] in ("init", "list_templates"):
        return None
    return words[0]


def unread_configs(runbook: Runbook, runbook_path: Path) -> list[tuple[str, str]]:
    """A note for each Alembic step whose configuration file is not in the working directory
    (here, where `validate` runs): it fails where it runs unless the session's
    `ALEMBIC_CONFIG` names another. The gate checks it again with the session's
    environment."""
    folder = lineage_folder(runbook, runbook_path)
    if isinstance(folder, str):
        return []  # noted with the targets
    notes: list[tuple[str, str]] = []
    seen: dict[AlembicConfig, str | None] = {}
    for place, item in command_steps(runbook):
        verb = config_verb(item.command)
        if verb is None or verb in CHANGING_ALEMBIC:  # changing ones: noted with targets
            continue
        config = command_config(item.command)
        if config not in seen:
            try:
                read_lineage(folder, config)
                seen[config] = None
            except LineageUnreadable as exc:
                seen[config] = str(exc)
        if seen[config] is not None:
            notes.append((place, f"step '{item.id}': `alembic {verb}` cannot read its "
                          f"configuration here ({seen[config]}); it fails where it runs "
                          "unless ALEMBIC_CONFIG names another"))
    return notes


def runbook_config(commands: Sequence[tuple[str, str]], env: Mapping[str, str]
                   ) -> AlembicConfig:
    """The configuration of the runbook's last changing Alembic command (the lineage the
    cutover changes): what the probes that read the lineage itself read."""
    for _, command in reversed(commands):
        if command_targets(command) is not None:
            return command_config(command, env)
    return command_config("alembic", env)


def runbook_commands(runbook: Runbook) -> tuple[tuple[str, str], ...]:
    """(step id, command) of every command step, in document order."""
    return tuple((item.id, item.command) for _, item in command_steps(runbook))


def unknown_target(script: ScriptDirectory, target: str) -> str | None:
    """Why `target` names no revision of the lineage (with the nearest one), or None when
    Alembic resolves it. A relative step (`+2`, `-1`) is taken from wherever the database
    stands: only the revision or branch it counts from is checked here."""
    from alembic.script.revision import ResolutionError, RevisionError

    if target in _SYMBOLS:
        return None
    relative = RELATIVE.match(target)
    names: list[str] = []
    if relative is not None:
        if relative["branch"]:
            names.append(f"{relative['branch']}@head")
        if relative["rev"] and relative["rev"] not in _SYMBOLS:
            names.append(relative["rev"])
    else:
        names.append(target)
    for name in names:
        try:
            script.revision_map.get_revisions(name)
        except ResolutionError as exc:
            return _why(script, name.removesuffix("@head"), exc)
        except RevisionError as exc:
            return f"Alembic cannot resolve '{name}': {exc}"
    return None


def _why(script: ScriptDirectory, name: str, exc: ResolutionError) -> str:
    if "Multiple revisions start with" in str(exc):
        return f"'{name}' names several revisions ({exc}); give more of the id"
    known = [rev.revision for rev in script.walk_revisions()]
    known += sorted({label for rev in script.walk_revisions() for label in rev.branch_labels})
    wanted = name.split("@", 1)[0] if "@" in name and name.split("@", 1)[0] not in known \
        else name.split("@", 1)[-1]
    near = difflib.get_close_matches(wanted, known, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]}?" if near else ""
    return f"'{wanted}' is no revision or branch of the lineage{hint}"


def lineage_folder(runbook: Runbook, runbook_path: Path, os_name: str = os.name
                   ) -> Path | str:
    """The folder the runbook's commands run in, or why it cannot be read on this machine
    (on Windows, a drive path is this machine's own: read, or said not to exist)."""
    base = runbook_path.resolve().parent
    item = next((i for i in (runbook.setup.items if runbook.setup else [])
                 if isinstance(i, WorkingDirectory)), None)
    if item is not None and windows_absolute(item.path) and os_name != "nt":
        return f"the working directory `{item.path}` is for Windows"
    folder = resolve(base, item.path) if item is not None else base
    return folder if folder.is_dir() else f"the working directory {folder} does not exist here"


def target_problems(runbook: Runbook, runbook_path: Path
                    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(problems, notes): each Alembic target that names no revision of the lineage, with
    its place; a note when the lineage cannot be read here (checked again at the gate)."""
    targets = list(runbook_targets(runbook))
    if not targets:
        return [], unread_configs(runbook, runbook_path)
    notes = [] if any(isinstance(gate, ProbeGate) and gate.probe == TARGETS_PROBE
                      for gate in (runbook.gates.items if runbook.gates else [])) else [
        (targets[0].place, f"runs `alembic {targets[0].verb}` but no gate checks its target "
         "where the steps run: add a gate with probe = \"alembic.targets_known\"")]
    folder = lineage_folder(runbook, runbook_path)
    scripts: dict[AlembicConfig, ScriptDirectory | None] = {}
    problems = []
    for found in targets:
        if found.config not in scripts:  # each configuration read once, noted once
            try:
                if isinstance(folder, str):
                    raise LineageUnreadable(folder)
                scripts[found.config] = read_lineage(folder, found.config)
            except LineageUnreadable as exc:
                scripts[found.config] = None
                notes.append((found.place, f"the Alembic targets are not checked here "
                              f"({exc}); the gate `alembic.targets_known` checks them where "
                              "the steps run"))
        script = scripts[found.config]
        if script is None:
            continue
        why = unknown_target(script, found.target)
        if why is not None:
            what = f"hold_before {found.target}" if found.verb == "hold" else \
                f"`alembic {found.verb} {found.target}`"
            problems.append((found.place, f"step '{found.step}': {what}: {why}"))
    return problems, notes + unread_configs(runbook, runbook_path)

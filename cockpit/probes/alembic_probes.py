"""Alembic, answered by Alembic's own API: the script directory (heads, upgrade path, the
longest revision id) and the database (current revisions, the version column's width)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.probes.db import ProbeUnreachable, connect, rows
from cockpit.probes.registry import ProbeContext, ProbeResult, register
from cockpit.runbook.alembic_config import (
    AlembicConfig,
    LineageUnreadable,
    command_config,
    read_lineage,
)
from cockpit.runbook.targets import (
    RELATIVE,
    command_targets,
    config_verb,
    runbook_config,
    unknown_target,
)

if TYPE_CHECKING:  # Alembic is imported when a lineage is read
    from alembic.script import ScriptDirectory


def script_directory(workdir: Path, config: AlembicConfig | None = None) -> ScriptDirectory:
    try:
        return read_lineage(workdir, config)
    except LineageUnreadable as exc:
        raise ProbeUnreachable(str(exc)) from None


def heads(workdir: Path, config: AlembicConfig | None = None) -> list[str]:
    return sorted(script_directory(workdir, config).get_heads())


def upgrade_path(workdir: Path, start: str, config: AlembicConfig | None = None) -> list[str]:
    """The revisions `alembic upgrade heads` applies to a database at `start`, base first:
    every ancestor of the heads that is not `start` or one of its ancestors — a branch
    that left the trunk before `start` (0009b) included."""
    script = script_directory(workdir, config)
    applied = {r.revision for r in script.iterate_revisions(start, "base")}
    to_heads = [r.revision for r in script.iterate_revisions("heads", "base")]
    return [rev for rev in reversed(to_heads) if rev not in applied]


def longest_revision(workdir: Path, config: AlembicConfig | None = None) -> str:
    return max((rev.revision for rev in script_directory(workdir, config).walk_revisions()),
               key=len)


def _config(ctx: ProbeContext) -> AlembicConfig:
    """The lineage the runbook's changing Alembic command reads (its `-c`, `-n`)."""
    return runbook_config(ctx.commands, ctx.env)


def current_revisions(env: Mapping[str, str]) -> list[str]:
    from alembic.runtime.migration import MigrationContext

    with connect(env) as conn:
        return sorted(MigrationContext.configure(conn).get_current_heads())


def version_width(env: Mapping[str, str]) -> int | None:
    with connect(env) as conn:
        found = rows(conn, """
            SELECT character_maximum_length AS width FROM information_schema.columns
            WHERE table_name = 'alembic_version' AND column_name = 'version_num'
              AND table_schema = current_schema()""")
    return found[0]["width"] if found else None


def _matches(revision: str, wanted: str) -> bool:
    return revision == wanted or revision.startswith(f"{wanted}_")


def guarded(fn):
    """A probe that cannot reach its target fails with the cause instead of raising."""

    def probe(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
        try:
            return fn(ctx, expected, args)
        except ProbeUnreachable as exc:
            return ProbeResult(False, None, str(exc), reached=False)

    probe.__name__ = fn.__name__
    return probe


@register("alembic.single_head")
@guarded
def probe_single_head(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
    found = heads(ctx.workdir, _config(ctx))
    ok = found == [expected]
    detail = f"{len(found)} head(s): {', '.join(found)}"
    return ProbeResult(ok, found[0] if len(found) == 1 else found, detail)


@register("alembic.current_equals")
@guarded
def probe_current(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
    current = current_revisions(ctx.env)
    ok = current == [expected]
    return ProbeResult(ok, current[0] if len(current) == 1 else current,
                       f"current: {', '.join(current) or '(none)'}")


@register("alembic.upgrade_path_includes")
@guarded
def probe_upgrade_path(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
    path = upgrade_path(ctx.workdir, str(args.get("from", "base")), _config(ctx))
    missing = [want for want in expected if not any(_matches(rev, want) for rev in path)]
    return ProbeResult(not missing, path, f"missing: {', '.join(missing)}" if missing
                       else f"path of {len(path)}: {' -> '.join(path)}")


@register("alembic.version_width")
@guarded
def probe_version_width(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
    width = version_width(ctx.env)
    return ProbeResult(width == expected, width, f"alembic_version.version_num is "
                       f"varchar({width})" if width else "no alembic_version table")


@register("alembic.width_fits")
@guarded
def probe_width_fits(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
    longest = longest_revision(ctx.workdir, _config(ctx))
    width = version_width(ctx.env)
    fits = width is None or len(longest) <= width
    detail = (f"longest revision id {longest!r} is {len(longest)} characters; the column "
              f"holds {width}" + ("" if fits else " — stamping it fails with "
                                  "StringDataRightTruncation"))
    return ProbeResult(fits == expected, fits, detail)


def alembic_walk(script: ScriptDirectory, verb: str, target: str, current: list[str]
                 ) -> list[str]:
    """The revisions `alembic upgrade|downgrade TARGET` runs from `current`, in the order it
    runs them — worked out by the very functions the `alembic` command calls. Raises
    Alembic's CommandError for a target it cannot walk to."""
    # what `alembic upgrade` passes: the database's heads as a tuple (typed `str` by Alembic)
    start: Any = tuple(current) or "base"
    steps = script._upgrade_revs(target, start) if verb == "upgrade" else \
        script._downgrade_revs(target, start)
    return [step.revision.revision for step in steps]


def target_refusals(lineage: Callable[[AlembicConfig], ScriptDirectory],
                    commands: Sequence[tuple[str, str]], env: Mapping[str, str],
                    current: Callable[[], list[str]]) -> tuple[list[str], int]:
    """(why, for each target that names no revision and each Alembic step whose
    configuration cannot be read; how many targets were checked), each command's targets
    looked up in the lineage of the configuration it reads (`-c`, `-n`, `ALEMBIC_CONFIG`).
    A relative target (`+1`, `-2`) is walked from the database's current revision."""
    wrong: list[str] = []
    checked = 0
    scripts: dict[AlembicConfig, ScriptDirectory | str] = {}
    for step, command in commands:
        verb = config_verb(command)
        if verb is None:
            continue
        config = command_config(command, env)
        if config not in scripts:
            try:
                scripts[config] = lineage(config)
            except ProbeUnreachable as exc:
                scripts[config] = str(exc)
        script = scripts[config]
        if isinstance(script, str):  # a step that reads a configuration not there fails
            wrong.append(f"step '{step}' ({verb}): {script}")
            continue
        found = command_targets(command)
        if found is None:
            continue
        verb, targets, offline = found
        for target in targets:
            checked += 1
            why = unknown_target(script, target)
            if why is None and not offline and verb != "stamp" and RELATIVE.match(target):
                from alembic.util import CommandError

                try:
                    alembic_walk(script, verb, target, current())
                except CommandError as exc:
                    why = f"Alembic cannot walk to it from the database's revision: {exc}"
            if why is not None:
                wrong.append(f"step '{step}' ({verb}): {why}")
    return wrong, checked


@register("alembic.targets_known")
@guarded
def probe_targets_known(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]
                        ) -> ProbeResult:
    wrong, checked = target_refusals(lambda config: script_directory(ctx.workdir, config),
                                     ctx.commands, ctx.env, lambda: current_revisions(ctx.env))
    if wrong:
        return ProbeResult(False, wrong, "; ".join(wrong))
    return ProbeResult(True, checked, f"{checked} Alembic target(s), each a revision of the "
                       "lineage" if checked else "no step runs alembic upgrade, downgrade or "
                       "stamp")

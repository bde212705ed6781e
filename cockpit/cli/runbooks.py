"""The runbook commands: render, validate, import, schema, init and preview. Each one a
plain function of keyword arguments returning its exit code, as the parser calls it."""

from __future__ import annotations

from pathlib import Path

from cockpit.cli.console import err, out


def render(*, runbook: str | Path) -> int:
    """Print a runbook's one-page Markdown checklist (its transcript)."""
    from cockpit.runbook.loader import load_runbook
    from cockpit.runbook.render import render_markdown

    out(render_markdown(load_runbook(runbook)))
    return 0


def validate(*, runbook: str | Path) -> int:
    """Check a runbook; print its two sha256 hashes and any notes."""
    from cockpit.errors import Problem, RunbookError
    from cockpit.runbook.identity import runbook_identity
    from cockpit.runbook.loader import load_runbook
    from cockpit.runbook.platform import foreign_paths
    from cockpit.runbook.targets import target_problems
    from cockpit.runbook.validate import advisories, walk_items

    loaded = load_runbook(runbook)
    wrong, unread = target_problems(loaded, Path(runbook))
    if wrong:
        raise RunbookError([Problem(str(runbook), place, why) for place, why in wrong])
    identity = runbook_identity(runbook)
    steps = sum(1 for _ in walk_items(loaded))
    print(f"ok: {runbook}: '{loaded.id}', {len(loaded.phases)} phases, {steps} items"
          f"{', production' if loaded.production else ''}")
    print(f"runbook sha256:    {identity.runbook_sha256}")
    print(f"transcript sha256: {identity.transcript_sha256}")
    for place, message in [*advisories(loaded), *foreign_paths(loaded), *unread]:
        err(f"note: {Problem(str(runbook), place, message)}")
    return 0


def import_checklist(*, checklist: str | Path, output: str | Path | None = None,
                     force: bool = False, rehearsal: bool = False) -> int:
    """Turn a one-page Markdown checklist into a runbook TOML (stdout, or `output`)."""
    from cockpit.errors import CockpitError
    from cockpit.runbook.importer import import_checklist as imported
    from cockpit.session.safefs import check_output, write_output_bytes

    source = Path(checklist)
    try:
        text = source.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CockpitError(f"{source}: no such file") from None
    except UnicodeDecodeError as exc:
        raise CockpitError(f"{source}: byte {exc.start}: not UTF-8 text") from None
    if output:
        check_output(Path(output), force)
    result = imported(text, str(source), production=not rehearsal)
    for note in result.notes:
        err(f"note: {note}")
    if output:
        write_output_bytes(Path(output), result.toml.encode("utf-8"), force=force)
        err(f"wrote {output}; it renders back to {source} byte for byte")
    else:
        out(result.toml)
    return 0


def schema(*, markdown: bool = False, output: str | Path | None = None) -> int:
    """Print the JSON Schema of a runbook file, or (`markdown`) the language reference."""
    import json

    from cockpit.runbook.reference import reference_markdown
    from cockpit.runbook.schema import json_schema
    from cockpit.session.safefs import write_output_bytes

    text = (reference_markdown() if markdown
            else json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    if output:  # replaced as it always was (no --force), never through a link
        write_output_bytes(Path(output), text.encode("utf-8"), force=True)
        err(f"wrote {output}")
    else:
        out(text)
    return 0


def init(*, project: str | Path = ".", output: str | Path | None = None, force: bool = False,
         dsn_env: str = "DATABASE_URL") -> int:
    """Write a starting runbook for the Alembic project in `project`."""
    import os

    from cockpit.probes.alembic_project import project_facts
    from cockpit.runbook.loader import parse_runbook
    from cockpit.runbook.starter import build_starter
    from cockpit.session.safefs import check_output, write_output_bytes

    target = Path(output) if output else None
    if target is not None:
        check_output(target, force)
    runbook_dir = target.parent if target is not None else Path.cwd()
    facts, notes = project_facts(Path(project), runbook_dir, dsn_env, os.environ)
    starter = build_starter(facts)
    parse_runbook(starter.toml, str(target or "<init>"))  # what it writes always validates
    for note in [*notes, *starter.notes]:
        err(f"note: {note}")
    if target is None:
        out(starter.toml)
        return 0
    write_output_bytes(target, starter.toml.encode("utf-8"), force=force)
    err(f"wrote {target}: {len(starter.runbook.phases)} phases, production; it validates. "
        f"Next: cockpit render {target} (the checklist to approve), then rehearse it: "
        f"cockpit run {target} --environment clone")
    return 0


def preview(*, runbook: str | Path) -> int:
    """Browse a runbook's checklist and each item's meaning (a screen)."""
    from cockpit.runbook.loader import load_runbook
    from cockpit.tui.preview import RunbookPreviewApp

    RunbookPreviewApp(load_runbook(runbook), str(runbook)).run()
    return 0

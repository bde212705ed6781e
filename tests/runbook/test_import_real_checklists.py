"""Every checklist in tests/fixtures/checklists/ — written the way teams write them: numbered
or lettered sections in their own words and order, a rollback plan, a sign-off, prose,
tables and code in other languages, Windows paths — imports, validates, and renders back to
the very same bytes. Nothing is refused; what cannot be typed is kept, with a note naming
its line. Imports are production runbooks: every changing command asks for a typed word.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cockpit.runbook.commands import is_read_only
from cockpit.runbook.importer import import_checklist
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import CommandStep, DecisionField, HaltItem, Runbook, Text
from cockpit.runbook.render import render_markdown
from cockpit.runbook.validate import advisories, walk_items
from tests.conftest import REFERENCE

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "checklists"
CHECKLISTS = sorted(FIXTURES.glob("*.md"))
_COMMAND_LINE = re.compile(r"^- \[ \] `(?P<command>[^`]+)` -> `(?P<log>[^`]+)`$")


def _import(path: Path, production: bool = True) -> tuple[str, Runbook, list[str]]:
    text = path.read_text(encoding="utf-8")
    result = import_checklist(text, path.name, production=production)
    return text, parse_runbook(result.toml, f"{path.stem}.toml"), result.notes


def test_the_fixtures_are_many_and_varied() -> None:
    """The set covers what real checklists do, counted from the files themselves."""
    texts = {path.name: path.read_text(encoding="utf-8") for path in CHECKLISTS}
    assert len(texts) >= 20

    def files_where(pattern: str) -> int:
        return sum(1 for text in texts.values() if re.search(pattern, text, re.M))

    assert files_where(r"^## (?:\d+[.)]|[A-Za-z][.)]) ") >= 5  # numbered or lettered
    assert files_where(r"^## .*(?:[Rr]ollback|[Bb]ack-out|[Ff]all [Bb]ack)") >= 8
    assert files_where(r"^## .*[Ss]ign-off") >= 5
    assert files_where(r"^- \[ \] (?:Operator|Reviewer):$") >= 5
    assert files_where(r"^    - \[ \] ") >= 3  # three levels deep
    fences = {lang for text in texts.values() for lang in re.findall(r"^```(\w*)$", text, re.M)}
    assert {"sql", "bash", "powershell", "python", ""} <= fences
    assert files_where(r"[A-Za-z]:\\|\.\.\\") >= 3  # Windows paths
    assert files_where(r"^\|.*\|$") >= 2 and files_where(r"^### ") >= 2  # tables, sub-heads
    assert files_where(r"^## (?!.*[Pp]hase).*\n\n- \[ \] `") >= 5  # work not called a phase


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_imports_validates_and_renders_back_byte_for_byte(path: Path) -> None:
    text, runbook, _ = _import(path)
    assert render_markdown(runbook).encode("utf-8") == path.read_bytes()
    assert render_markdown(runbook) == text


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_every_command_line_in_a_phase_runs_and_every_changing_one_asks_first(
        path: Path) -> None:
    text, runbook, _ = _import(path)
    steps = [item for _, item in walk_items(runbook) if isinstance(item, CommandStep)]
    assert steps
    assert runbook.production is True
    for step in steps:
        assert step.read_only == is_read_only(step.command), step.command
        assert (step.confirm is None) == step.read_only, step.command
        words = step.command.split()
        if "alembic" in words and {"upgrade", "stamp", "downgrade"} & set(words):
            target = words[words.index(next(w for w in words if w in
                                              ("upgrade", "stamp", "downgrade"))) + 1]
            assert step.confirm == target  # the revision the operator means to reach
    ran = {(s.command, s.log) for s in steps}
    in_phases = {(m["command"], m["log"]) for line in text.split("\n")
                 if (m := _COMMAND_LINE.match(line))}
    rollback_lines = {i.text for i in (runbook.rollback.items if runbook.rollback else [])
                      if isinstance(i, HaltItem)}
    # A command line outside the rollback plan runs as a step; inside it, it never runs.
    for command, log in in_phases:
        line = f"`{command}` -> `{log}`"
        assert ((command, log) in ran) != (line in rollback_lines), line


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_rollback_is_confirmed_by_hand_and_sign_off_fills_the_decision(path: Path) -> None:
    text, runbook, _ = _import(path)
    if runbook.rollback is not None:
        assert all(item.action == "manual" for item in runbook.rollback.items
                   if isinstance(item, HaltItem))
    labels = [item.label for _, item in walk_items(runbook) if isinstance(item, DecisionField)]
    for label in ("Operator", "Reviewer"):
        if f"- [ ] {label}:\n" in text and runbook.decision is not None:
            assert label in labels


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_notes_name_the_line_they_are_about(path: Path) -> None:
    text, runbook, notes = _import(path)
    lines = text.split("\n")
    texts = [item for _, item in walk_items(runbook) if isinstance(item, Text)]
    texts += [item for item in runbook.preface if isinstance(item, Text)]
    assert sum("kept as text" in note for note in notes) == len(texts)
    for note in notes:
        m = re.match(rf"^{re.escape(path.name)}: (?:line (\d+)|script (\S+)): ", note)
        assert m, note
        if m[1]:
            line = lines[int(m[1]) - 1]
            assert line.strip(), note
            if "kept as text" in note:  # the note quotes the start of its line
                assert line[:40] in note, note
            else:
                assert line.lstrip().startswith(("- [ ] ", "## ")), note


def test_a_rehearsal_import_asks_for_no_confirmation() -> None:
    _, runbook, _ = _import(REFERENCE, production=False)
    steps = [item for _, item in walk_items(runbook) if isinstance(item, CommandStep)]
    assert runbook.production is False and all(step.confirm is None for step in steps)
    # The reading ones are still read-only: they may be cancelled and run again.
    assert [s.command for s in steps if s.read_only] == [
        "python -m alembic heads", "python -m alembic history --verbose",
        "python -m alembic current", "python -m alembic current", "python -m alembic heads"]


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_every_script_a_command_runs_is_listed_to_be_pinned(path: Path) -> None:
    _, runbook, notes = _import(path)
    assert all(script.sha256 is None for script in runbook.scripts)
    for script in runbook.scripts:  # listed, unpinned, and said so twice
        assert f"{path.name}: script {script.path}: pin the sha256" in "\n".join(notes)
        assert any(script.path in message for _, message in advisories(runbook))

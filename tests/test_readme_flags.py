"""Every option the README and the guides in docs/ show with a command is one that command
takes (a flag the docs promise but the parser refuses is the first thing a new user meets)."""

from __future__ import annotations

import argparse
import re

from cockpit.cli import build_parser
from tests.conftest import REPO


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """A command's options; a group's (`fleet`): those of each of its commands."""
    known = {opt for a in parser._actions for opt in a.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            known |= {o for sub in action.choices.values() for o in _options(sub)}
    return known


def test_every_option_the_docs_give_a_command_is_one_it_takes() -> None:
    commands = _subcommands()
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    checked = 0
    for match in re.finditer(r"cockpit ([a-z][a-z-]*)((?: [^`\n]*)?)", text):
        name, rest = match.group(1), match.group(2)
        if name not in commands:
            continue
        known = _options(commands[name])
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
            assert flag in known, f"docs: `cockpit {name} … {flag}`: {name} takes no {flag}"
            checked += 1
    assert checked > 40  # the README's commands were read, not skipped


def _readme_rows() -> list[list[str]]:
    """The README's table rows (header and rule lines aside), each as its cells."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    rows = [re.split(r"(?<!\\)\|", line.strip())[1:-1] for line in lines if line.startswith("|")]
    return [row for row in rows if not all(set(c.strip()) <= set("-:") for c in row)]


def test_the_readme_names_each_command_on_a_line_of_its_own() -> None:
    """A front door: one row per command of `cockpit --help`, and each in full in
    docs/commands.md."""
    commands = set(_subcommands())
    named = [m.group(1) for row in _readme_rows()
             if (m := re.match(r"\s*`cockpit ([a-z][a-z-]*)", row[0]))]
    assert sorted(named) == sorted(commands), "README.md: one row per command, each once"
    full = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    missing = [name for name in commands if f"`cockpit {name}" not in full]
    assert not missing, f"docs/commands.md says nothing of {missing}"


def test_the_readme_stays_a_front_door() -> None:
    """Under a hundred lines, and no table cell a reader must scroll: detail goes to its
    guide in docs/."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 100, "README.md: move detail to a guide in docs/"
    long = [cell.strip()[:60] for row in _readme_rows() for cell in row if len(cell) > 200]
    assert not long, f"README.md: cells over 200 characters, move them to docs/: {long}"

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


def test_every_option_the_docs_give_a_command_is_one_it_takes() -> None:
    commands = _subcommands()
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    checked = 0
    for match in re.finditer(r"cockpit ([a-z][a-z-]*)((?: [^`|\n]*)?)", text):
        name, rest = match.group(1), match.group(2)
        if name not in commands:
            continue
        known = {opt for a in commands[name]._actions for opt in a.option_strings}
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
            assert flag in known, f"docs: `cockpit {name} … {flag}`: {name} takes no {flag}"
            checked += 1
    assert checked > 40  # the README's commands were read, not skipped

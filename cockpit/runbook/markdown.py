"""Reads a checklist written in the one-page dialect into blocks, with line numbers.

The dialect: a `# title`, `## sections`, `- [ ] items` (nested two spaces per level) and
fenced code blocks. Anything else is refused by line, so nothing is silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cockpit.errors import Problem, RunbookError

_ITEM = re.compile(r"^(?P<indent> *)- \[(?P<box>.)\] (?P<text>.*)$")


@dataclass
class MdItem:
    line: int
    text: str
    children: list[MdItem] = field(default_factory=list)


@dataclass
class MdCode:
    line: int
    lang: str
    lines: list[str]


@dataclass
class MdSection:
    line: int
    heading: str
    blocks: list[MdItem | MdCode] = field(default_factory=list)

    def items(self) -> list[MdItem]:
        return [block for block in self.blocks if isinstance(block, MdItem)]


@dataclass
class MdChecklist:
    title: str
    sections: list[MdSection]


def parse_checklist(text: str, name: str = "<checklist>") -> MdChecklist:
    """The checklist's structure, or a `RunbookError` naming each line outside the dialect."""
    problems: list[Problem] = []

    def fail(line: int, message: str) -> None:
        problems.append(Problem(name, f"line {line}", message))

    if "\r" in text:
        raise RunbookError([Problem(name, "", "uses CR line endings; the dialect uses LF only")])
    lines = text.split("\n")
    if not lines or not lines[0].startswith("# "):
        raise RunbookError([Problem(name, "line 1", "expected the title line, '# Title'")])
    checklist = MdChecklist(title=lines[0][2:], sections=[])
    stack: list[MdItem] = []  # the open item at each nesting depth
    index = 1
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        section = checklist.sections[-1] if checklist.sections else None
        if not line.strip():
            continue
        if line.startswith("## "):
            checklist.sections.append(MdSection(number, line[3:]))
            stack = []
            continue
        if section is None:
            fail(number, "expected a '## Section' heading before any item or code block")
            continue
        if line.startswith("```"):
            body: list[str] = []
            while index < len(lines) and lines[index] != "```":
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                fail(number, "code block is never closed with a ``` line")
                break
            index += 1
            section.blocks.append(MdCode(number, line[3:], body))
            stack = []
            continue
        match = _ITEM.match(line)
        if match is None:
            fail(number, "outside the dialect: expected '- [ ] item', '## Section' or a ``` block")
            continue
        if match["box"] != " ":
            fail(number, f"item is marked '[{match['box']}]'; import takes a blank checklist")
            continue
        indent = len(match["indent"])
        depth = indent // 2
        if indent % 2 or depth > len(stack):
            fail(number, "nested items are indented two spaces per level, under an item")
            continue
        if not match["text"]:
            fail(number, "item has no text")
            continue
        item = MdItem(number, match["text"])
        if depth == 0:
            section.blocks.append(item)
        else:
            stack[depth - 1].children.append(item)
        del stack[depth:]
        stack.append(item)
    if problems:
        raise RunbookError(problems)
    return checklist

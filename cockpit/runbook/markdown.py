"""Reads a checklist written in the one-page dialect into blocks, with line numbers.

The dialect: a `# title`, `## sections`, `- [ ] items` (nested two spaces per level) and
fenced code blocks. Any other run of non-blank lines (a paragraph, a `###` heading, a plain
or numbered list, a table) is kept as verbatim text, so nothing is dropped; what cannot be
kept (a ticked box, an item nested under nothing) is refused by line.
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
class MdText:
    line: int
    lines: list[str]


Block = MdItem | MdCode | MdText


@dataclass
class MdSection:
    line: int
    heading: str
    blocks: list[Block] = field(default_factory=list)
    spaced: bool = False  # a blank line between the heading and the first block

    def items(self) -> list[MdItem]:
        return [block for block in self.blocks if isinstance(block, MdItem)]


@dataclass
class MdChecklist:
    title: str
    sections: list[MdSection]
    preface: list[Block] = field(default_factory=list)  # between the title and a section


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
    blank = True  # whether the line before was blank
    index = 1
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        section = checklist.sections[-1] if checklist.sections else None
        blocks = section.blocks if section is not None else checklist.preface
        if not line.strip():
            blank = True
            continue
        after_blank, blank = blank, False
        if line.startswith("## "):
            checklist.sections.append(MdSection(number, line[3:]))
            stack = []
            continue
        if section is not None and not blocks:
            section.spaced = after_blank
        if line.startswith("```"):
            body: list[str] = []
            while index < len(lines) and lines[index] != "```":
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                fail(number, "code block is never closed with a ``` line")
                break
            index += 1
            blocks.append(MdCode(number, line[3:], body))
            stack = []
            continue
        match = _ITEM.match(line)
        if match is None:
            if blocks and isinstance(blocks[-1], MdText) and not after_blank:
                blocks[-1].lines.append(line)
            else:
                blocks.append(MdText(number, [line]))
            stack = []
            continue
        if match["box"] != " ":
            fail(number, f"item is marked '[{match['box']}]'; import takes a blank checklist")
            continue
        if section is None:
            fail(number, "expected a '## Section' heading before any checklist item")
            continue
        indent = len(match["indent"])
        depth = indent // 2
        if indent % 2 or depth > len(stack):
            fail(number, "nested items are indented two spaces per level, under an item")
            continue
        if not match["text"].strip():
            fail(number, "item has no text")
            continue
        item = MdItem(number, match["text"])
        if depth == 0:
            blocks.append(item)
        else:
            stack[depth - 1].children.append(item)
        del stack[depth:]
        stack.append(item)
    if problems:
        raise RunbookError(problems)
    return checklist

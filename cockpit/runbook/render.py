"""Renders a runbook as its one-page Markdown checklist: the transcript the approver signed.

One renderer for every runbook. Layout rules (the importer relies on them): the title line,
then each section separated by one blank line; a section is its `## heading` followed by
chunks — runs of checklist lines, or one fenced code block — separated by one blank line;
nested items are indented two spaces per level; the file ends with a single newline.
"""

from __future__ import annotations

from collections.abc import Callable

from cockpit.runbook.model import (
    AbortWatch,
    AnyItem,
    CheckStep,
    CodeBlock,
    CommandStep,
    DecisionField,
    EnvVar,
    EvidenceFile,
    HaltItem,
    Manual,
    Runbook,
    Section,
    SetupScript,
    SetupSection,
    Statement,
    SubItem,
    Text,
    WorkingDirectory,
    section_items,
)

# Given an item id, the box to print for it: " " (open) or "x" (done). The transcript is
# all open; the filled report of a session ticks what was done.
Marker = Callable[[str], str]


def _open(_: str) -> str:
    return " "


def item_text(item: AnyItem, runbook: Runbook) -> str:
    """The text of an item's checklist line, without the box."""
    if isinstance(item, CommandStep):
        text = f"`{item.command}`"
        return f"{text} -> `{item.log}`" if item.log else text
    if isinstance(item, EvidenceFile):
        return f"`{item.name}`"
    if isinstance(item, DecisionField):
        return f"{item.label}: {' / '.join(item.allowed)}" if item.allowed else f"{item.label}:"
    if isinstance(item, CodeBlock | SetupScript | Text):
        raise TypeError("code blocks and verbatim text have no checklist line")
    return item.text


def item_children(item: AnyItem, runbook: Runbook) -> list[SubItem]:
    """The nested lines shown under an item."""
    if isinstance(item, Statement | Manual | HaltItem):
        return item.children
    if isinstance(item, AbortWatch):
        return [
            SubItem(text=rule.label if (rule := runbook.abort_rule(rule_id)) else rule_id)
            for rule_id in item.rules
        ]
    if isinstance(item, CheckStep) and item.list_items and isinstance(item.expected, list):
        return [SubItem(text=f"`{value}`") for value in item.expected]
    if isinstance(item, CommandStep):
        return _governed(item)
    return []


def _governed(step: CommandStep) -> list[SubItem]:
    """What the approver signs up to beyond the command itself: its retry, a revision at a
    time and what a halt then leaves, its holds (empty for a plain command: its line alone)."""
    lines = []
    if step.retry is not None:
        r = step.retry
        lines.append(f"On a lock timeout alone (`{r.on}`), with the database where the step "
                     f"started: tried again, up to {r.attempts} attempts in all, waiting "
                     f"{r.first_delay} doubling to {r.cap}")
    if step.per_revision:
        lines.append("One revision at a time; a halt part way leaves: "
                     f"{step.halt_leaves or '(not said)'}")
    for revision in step.holds:
        lines.append(f"Held before revision `{revision}` until the operator's typed go-ahead"
                     + (" and a reviewer's countersignature" if step.hold_countersign
                        else ""))
    return [SubItem(text=line) for line in lines]


def code_lines(text: str) -> list[str]:
    """The lines of a code block's text; a final newline ends the last line."""
    if not text:
        return []
    return (text[:-1] if text.endswith("\n") else text).split("\n")


def setup_script_lines(setup: SetupSection) -> list[str]:
    """The setup block: change to the working directory, then set each DSN variable."""
    lines: list[str] = []
    for item in setup.items:
        if isinstance(item, WorkingDirectory):
            cd = "Set-Location" if setup.shell == "powershell" else "cd"
            lines.append(f'{cd} "{item.path}"')
        elif isinstance(item, EnvVar):
            assign = "$env:" if setup.shell == "powershell" else "export "
            lines.append(f"{assign}{item.name}='{item.template}'")
    return lines


def _fence(lang: str, body: list[str]) -> list[str]:
    return [f"```{lang}", *body, "```"]


def _item_lines(item: AnyItem, runbook: Runbook, mark: Marker) -> list[str]:
    lines = [f"- [{mark(item.id)}] {item_text(item, runbook)}"]

    def nested(children: list[SubItem], depth: int) -> None:
        for child in children:
            lines.append(f"{'  ' * depth}- [{mark(item.id)}] {child.text}")
            nested(child.children, depth + 1)

    nested(item_children(item, runbook), 1)
    return lines


def _chunks(items: list[AnyItem], section: Section | None, runbook: Runbook,
            mark: Marker) -> list[list[str]]:
    """A section's blocks: runs of checklist lines, code blocks and verbatim text."""
    chunks: list[list[str]] = []
    items_open = False  # whether the last chunk is a run of checklist lines
    for item in items:
        if isinstance(item, CodeBlock):
            chunks.append(_fence(item.lang, code_lines(item.text)))
        elif isinstance(item, Text):
            chunks.append(item.text.split("\n"))
        elif isinstance(item, SetupScript):
            assert isinstance(section, SetupSection)
            chunks.append(_fence(section.shell, setup_script_lines(section)))
        elif items_open:
            chunks[-1] += _item_lines(item, runbook, mark)
        else:
            chunks.append(_item_lines(item, runbook, mark))
        items_open = not isinstance(item, CodeBlock | Text | SetupScript)
    return chunks


def render_markdown(runbook: Runbook, mark: Marker = _open) -> str:
    """The one-page checklist, byte for byte as the approver reads it."""
    out = [f"# {runbook.title}"]
    for chunk in _chunks(list(runbook.preface), None, runbook, mark):
        out += ["", *chunk]
    for _place, section in runbook.sections():
        out += ["", f"## {section.heading}"]
        for index, chunk in enumerate(_chunks(section_items(section), section, runbook, mark)):
            out += ["", *chunk] if index or section.spaced else chunk
    return "\n".join(out) + "\n"


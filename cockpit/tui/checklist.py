"""The checklist as a tree: the runbook's sections, each item with its state by symbol and word."""

from __future__ import annotations

from textual.widgets import Tree

from cockpit.runbook.model import AnyItem, CodeBlock, Runbook, SetupScript, section_items
from cockpit.runbook.render import item_children, item_text

# Never colour alone: every state has a symbol and a word.
STATE_MARKS = {
    "open": "○ open",
    "running": "◐ running",
    "passed": "● passed",
    "failed": "✗ failed",
    "confirmed": "✓ confirmed",
    "halted": "⊘ skipped by halt",
}


class ChecklistTree(Tree[AnyItem | None]):
    """Sections A–J of a runbook; selecting an item posts Tree.NodeSelected with its data."""

    def show_runbook(self, runbook: Runbook, states: dict[str, str] | None = None) -> None:
        states = states or {}
        self.clear()
        self.root.set_label(runbook.title)
        for _place, section in runbook.sections():
            branch = self.root.add(section.heading, data=None, expand=True)
            for item in section_items(section):
                if isinstance(item, CodeBlock | SetupScript):
                    branch.add_leaf("``` code block", data=item)
                    continue
                state = STATE_MARKS[states.get(item.id, "open")]
                node = branch.add(f"{state}  {item_text(item, runbook)}", data=item)
                for child in item_children(item, runbook):
                    node.add_leaf(child.text, data=item)
                if not node.children:
                    node.allow_expand = False
                node.expand()
        self.root.expand()

"""The checklist as a tree: the runbook's sections, each item with its state by symbol and word."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from cockpit.evidence.riskrecord import risk_markdown, risk_records
from cockpit.runbook.model import AnyItem, CodeBlock, Runbook, SetupScript, section_items
from cockpit.runbook.model import Text as TextBlock
from cockpit.runbook.render import item_children, item_text
from cockpit.session import rules
from cockpit.session.state import SessionState

# Never colour alone: every state has a symbol and a word.
STATE_MARKS = {
    "open": "○ open",
    "running": "◐ running",
    "passed": "● passed",
    "not checked": "◌ not checked",
    "failed": "✗ failed",
    "confirmed": "✓ confirmed",
    "interrupted": "! interrupted",
    "cancelled": "⊖ cancelled",
    "retry_wait": "↻ waiting to retry",
    "halted": "⊘ skipped by halt",
}


class ChecklistTree(Tree[AnyItem | None]):
    """Sections A–J of a runbook; selecting an item posts Tree.NodeSelected with its data."""

    def show_runbook(self, runbook: Runbook, states: dict[str, str] | None = None) -> None:
        states = states or {}
        self._item_nodes: dict[str, tuple[TreeNode[Any], str]] = {}
        self._shown: dict[str, str] = {}  # item -> the state its label shows
        self.clear()
        self.root.set_label(Text(runbook.title))
        for _place, section in runbook.sections():
            branch = self.root.add(Text(section.heading), data=None, expand=True)
            for item in section_items(section):
                if isinstance(item, CodeBlock | SetupScript):
                    branch.add_leaf("``` code block", data=item)
                    continue
                if isinstance(item, TextBlock):  # verbatim prose: its first line
                    branch.add_leaf(Text(f"¶ {item.text.split(chr(10))[0]}"), data=item)
                    continue
                text = item_text(item, runbook)
                self._shown[item.id] = states.get(item.id, "open")
                state = STATE_MARKS[self._shown[item.id]]
                node = branch.add(Text(f"{state}  {text}"), data=item)
                self._item_nodes[item.id] = (node, text)
                for child in item_children(item, runbook):
                    node.add_leaf(Text(child.text), data=item)
                if not node.children:
                    node.allow_expand = False
                node.expand()
        self.root.expand()

    def update_states(self, runbook: Runbook, state: SessionState) -> None:
        """Relabel each item with its live state, keeping the cursor where it is."""
        by_id = {item.id: item for _p, s in runbook.sections() for item in section_items(s)}
        for item_id, (node, text) in getattr(self, "_item_nodes", {}).items():
            status = rules.item_status(runbook, state, by_id[item_id])
            if self._shown.get(item_id) != status:  # a relabel repaints the whole tree
                self._shown[item_id] = status
                node.set_label(Text(f"{STATE_MARKS.get(status, status)}  {text}"))

    def detail(self, runbook: Runbook, state: SessionState, item: AnyItem,
               folder: Path | None = None) -> str:
        """What an item runs or checks, and what the session recorded for it, as text to
        read: nested values indented, one fact per line; then any report its probe kept,
        from the session `folder` (the risk gate's: its findings as the record says them)."""
        data = item.model_dump(exclude_defaults=True, exclude={"children"})
        lines = ["In the runbook:", *[line for key, value in data.items()
                                      for line in fact_lines(key, value, 1)]]
        step = state.steps.get(item.id)
        gate = state.gates.get(item.id) or state.setup.get(item.id)
        recorded = step or gate
        if recorded is not None:
            lines += ["", "In the session:", *[
                line for key, value in recorded.model_dump(exclude_defaults=True).items()
                for line in fact_lines(key, value, 1)]]
        risk = [r for r in risk_records(runbook, state, folder) if r.item == item.id]
        if risk:  # the risk gate's findings as the record says them: whole, style apart
            return "\n".join([*lines, "", risk_markdown(runbook, risk)])
        observed = getattr(recorded, "observed", None)
        kept = observed.get("files") if isinstance(observed, dict) else None
        for found in kept or [] if folder is not None else []:
            name = str(found.get("captured", "")) if isinstance(found, dict) else ""
            if name.endswith(".md") and folder is not None:
                with contextlib.suppress(OSError):
                    lines += ["", f"Kept by the probe ({name}):", "",
                              (folder / name).read_text(encoding="utf-8", errors="replace")]
        return "\n".join(lines)


def fact_lines(key: str, value: Any, depth: int = 0) -> list[str]:
    """`key: value` as lines: a mapping or a long list one entry per line, indented."""
    pad = "  " * depth
    if isinstance(value, dict):
        return [f"{pad}{key}:", *[line for k, v in value.items()
                                  for line in fact_lines(str(k), v, depth + 1)]] \
            if value else [f"{pad}{key}: (none)"]
    if isinstance(value, list):
        simple = all(not isinstance(v, dict | list) for v in value)
        if simple and len(", ".join(map(str, value))) <= 60:
            return [f"{pad}{key}: {', '.join(map(str, value)) or '(none)'}"]
        out = [f"{pad}{key}:"]
        for entry in value:
            if isinstance(entry, dict):
                out.append(f"{pad}  -")
                out += [line for k, v in entry.items() for line in fact_lines(str(k), v,
                                                                                depth + 2)]
            else:
                out.append(f"{pad}  - {entry}")
        return out
    return [f"{pad}{key}: {value}"]

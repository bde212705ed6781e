"""A read-only preview of a runbook: its checklist and each item's typed meaning.

This is what `cockpit demo` opens until the rehearsal world and the operator's cockpit land.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static, Tree

from cockpit.resources import styles_dir
from cockpit.runbook.model import AnyItem, CodeBlock, Runbook, SetupScript
from cockpit.runbook.render import code_lines, setup_script_lines
from cockpit.tui.checklist import ChecklistTree


def describe(item: AnyItem, runbook: Runbook) -> str:
    """The item's typed fields, one per line, as the runbook gives them; code in full."""
    data = item.model_dump(exclude_defaults=True, exclude={"children", "text"})
    lines = [f"{key}: {value}" for key, value in data.items()]
    if isinstance(item, SetupScript) and runbook.setup is not None:
        lines += ["", *setup_script_lines(runbook.setup)]
    elif isinstance(item, CodeBlock):
        lines += ["", *code_lines(item.text)]
    elif hasattr(item, "text"):
        lines.insert(2, f"text: {item.text}")
    return "\n".join(lines)


class RunbookPreviewApp(App[None]):
    CSS_PATH: ClassVar = [styles_dir() / "preview.tcss"]
    BINDINGS: ClassVar = [Binding("q", "quit", "Quit", id="quit")]
    TITLE = "Cutover Cockpit"

    def __init__(self, runbook: Runbook, source: str) -> None:
        super().__init__()
        self.runbook = runbook
        self.source = source

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal():
            yield ChecklistTree("checklist", id="checklist")
            yield Static("Select an item to see what it runs or checks.", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.runbook.id} — preview, no session ({self.source})"
        tree = self.query_one(ChecklistTree)
        tree.show_runbook(self.runbook)
        tree.focus()

    @on(Tree.NodeHighlighted, "#checklist")
    def show_detail(self, event: Tree.NodeHighlighted[AnyItem | None]) -> None:
        item = event.node.data
        text = describe(item, self.runbook) if item is not None else str(event.node.label)
        self.query_one("#detail", Static).update(text)

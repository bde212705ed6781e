"""Modal screens: typed confirmations, references, notes, the decision form, help, and the
diagnostics captured at a halt. Each returns what the operator typed; the app decides."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from cockpit.session.inert import inert
from cockpit.session.state import Diagnostics


class AskText(ModalScreen[str | None]):
    """Asks for one line: a reference, a note, a reason — or a word that must match."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="cancel")]

    def __init__(self, title: str, prompt: str, *, must_equal: str | None = None,
                 password: bool = False, allow_empty: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.must_equal = must_equal
        self.password = password
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Static(self.prompt, id="dialog-prompt", markup=False)
            yield Input(password=self.password, id="answer")
            yield Static("", id="dialog-error")
            yield Static("Enter to confirm · Esc to cancel", id="dialog-keys")

    @on(Input.Submitted, "#answer")
    def submit(self, event: Input.Submitted) -> None:
        value = event.value.strip() if not self.password else event.value
        error = self.query_one("#dialog-error", Static)
        if self.must_equal is not None and value != self.must_equal:
            error.update(Text(f"✗ type exactly: {self.must_equal}"))
            return
        if not value and not self.allow_empty:
            error.update("✗ this cannot be empty")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


NOTE = "decision.note"  # the form's note, beside the field ids (no field has this id)


class DecisionForm(ModalScreen[dict[str, str] | None]):
    """Section J as a form, pre-filled from the session; the engine rules on the rest."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="cancel"),
                          Binding("ctrl+s", "save", "Save", id="save")]

    def __init__(self, fields: list[Any], values: dict[str, str]) -> None:
        super().__init__()
        self.fields = fields
        self.values = values
        self._asked_to_discard = False  # Esc once on a changed form: a second one discards

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label("Final decision record", id="dialog-title")
            for index, field in enumerate(self.fields):
                needed = " (required for PASS)" if getattr(field, "required", False) else ""
                yield Label(f"{field.label}{needed}", markup=False)
                value = self.values.get(field.id, "")
                if field.allowed:
                    options = [(a, a) for a in field.allowed]
                    yield Select(options, value=value if value in field.allowed else
                                 Select.BLANK, id=f"f-{index}", allow_blank=True)
                else:
                    # pre-filled text is kept: typing adds to it, never replaces it whole
                    yield Input(value=value, id=f"f-{index}", select_on_focus=False)
            yield Label("Note — only for a BLOCKER whose fields cannot be filled: why",
                        markup=False)
            yield Input(value=self.values.get(NOTE, ""), id="f-note", select_on_focus=False)
            yield Static("", id="dialog-error")
            yield Button("Save (ctrl+s)", id="save", variant="primary")

    def on_mount(self) -> None:
        """The first field still to fill has the cursor (the first field if all are)."""
        self._initial = self.collect()
        inputs = [self.query_one(f"#f-{i}") for i in range(len(self.fields))]
        empty = [w for w, f in zip(inputs, self.fields, strict=True)
                 if not self._initial.get(f.id)]
        target = (empty or inputs or [self.query_one("#f-note", Input)])[0]
        target.focus()
        if isinstance(target, Input):
            target.cursor_position = len(target.value)

    def collect(self) -> dict[str, str]:
        """The fields by id, and the note under NOTE."""
        out: dict[str, str] = {}
        for index, field in enumerate(self.fields):
            value = self.query_one(f"#f-{index}").value  # type: ignore[attr-defined]
            out[field.id] = "" if value is Select.BLANK or value is None else str(value)
        out[NOTE] = self.query_one("#f-note", Input).value
        return out

    def show_error(self, text: str) -> None:
        error = self.query_one("#dialog-error", Static)
        error.update(Text(f"✗ {text}"))
        # below the fields: on a small screen it is scrolled to, or no one would see it
        self.call_after_refresh(error.scroll_visible, animate=False)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        self.dismiss(self.collect())

    def action_cancel(self) -> None:
        if self.collect() != self._initial and not self._asked_to_discard:
            self._asked_to_discard = True
            self.show_error("the form has changed: Esc again discards it, ctrl+s saves it")
            return
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """A scrollable page of text: help, diagnostics, an item's detail."""

    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "close", "Close", id="close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="page"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Static(inert(self.text), markup=False)  # a step's last line, a detail
            yield Static("Esc to close", id="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)


def diagnostics_text(captured: list[Diagnostics], read: Callable[[str], Any]) -> str:
    """The halt diagnostics files, pretty-printed."""
    parts = []
    for entry in captured:
        if entry.file is None:
            continue
        parts.append(f"{entry.file} (sha256 {(entry.sha256 or '')[:16]}…) at {entry.at}")
        parts.append(json.dumps(read(entry.file), indent=2)[:20000])
    return "\n".join(parts) or "No diagnostics were captured."

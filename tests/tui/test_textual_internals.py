"""Guards: the few private Textual names the cockpit leans on, each named with what it is
used for. A Textual upgrade that renames or reshapes one fails here, loudly and by name —
not as a slow mirror or a crash screen that prints a DSN."""

from __future__ import annotations

import inspect

import pytest
from textual.app import App
from textual.widget import Widget
from textual.widgets import Log

# (owner, name, what the cockpit needs of it, the parameters it is called with)
PRIVATE = [
    (Log, "_render_line_strip", "OutputLog keeps each rendered line (output_log.py)",
     ["self", "y", "rich_style"]),
    (Log, "_render_line_cache", "OutputLog stores a rendered line in it", None),
    (Widget, "_scroll_update", "OutputLog sets the scrollbars' ranges without a layout",
     ["self", "virtual_size"]),
    (App, "_fatal_error", "SessionApp replaces the crash screen, which prints locals (DSNs)",
     ["self"]),
    (App, "_exit_renderables", "SessionApp prints the redacted error on exit", None),
    (App, "_close_messages_no_wait", "SessionApp closes as Textual's own _fatal_error does",
     ["self"]),
]


@pytest.mark.parametrize(("owner", "name", "why", "parameters"), PRIVATE,
                         ids=[f"{o.__name__}.{n}" for o, n, _w, _p in PRIVATE])
async def test_a_private_textual_name_is_still_there(owner: type, name: str, why: str,
                                                     parameters: list[str] | None) -> None:
    if parameters is None:  # an attribute set in __init__: look on an instance
        instance = Log() if owner is Log else App()
        assert hasattr(instance, name), f"{owner.__name__}.{name} is gone: {why}"
        return
    member = getattr(owner, name, None)
    assert callable(member), f"{owner.__name__}.{name} is gone: {why}"
    assert list(inspect.signature(member).parameters) == parameters, \
        f"{owner.__name__}.{name} changed its parameters: {why}"


def test_log_still_caches_lines_only_while_text_is_selected() -> None:
    """OutputLog keeps every rendered line because Log keeps one only under a selection
    (Textual 8.2). If Log starts keeping them itself, OutputLog's override is dead weight."""
    source = inspect.getsource(Log._render_line_strip)
    assert "_render_line_cache" in source and "selection" in source

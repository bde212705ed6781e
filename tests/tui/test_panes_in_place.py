"""The panes keep their state as Textual does: text in reactives, table rows keyed by item id
and updated in place — a gate that changes updates its own cells, the table is not cleared and
refilled (which moved the reader's scroll and laid out the whole screen) — and no state is
kept by setting private attributes on another widget."""

from __future__ import annotations

import ast
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult

from cockpit.engine.controller import Controller
from cockpit.session import rules
from cockpit.tui.panes import GatePanel, SessionHeader
from tests.conftest import REPO
from tests.engine.helpers import ordinary_world
from tests.waiting import app_idle


class Panes(App[None]):
    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        yield GatePanel(id="gates")


async def test_a_gate_that_changes_updates_its_own_cells_and_the_table_is_not_rebuilt(
        tmp_path: Path) -> None:
    ctl = Controller.start(ordinary_world(tmp_path), folder=tmp_path / "s",
                           env=dict(os.environ), halt_hooks=[])
    try:
        before = ctl.state
        ctl.attest_gate("signoff", "GOV-7")
        after = ctl.state
        app = Panes()
        async with app.run_test(size=(120, 20)) as pilot:
            table = app.query_one(GatePanel)
            table.show(ctl.runbook, before)
            await app_idle(pilot)
            last = table.row_count - 1
            assert last > 0
            table.move_cursor(row=last)
            keys = [key.value for key in table.rows]
            calls: list[tuple[str, Any]] = []
            clear, update_cell = table.clear, table.update_cell
            table.clear = lambda *a, **kw: (calls.append(("clear", None)),  # type: ignore[method-assign]
                                            clear(*a, **kw))[1]
            table.update_cell = lambda row, column, value, **kw: (  # type: ignore[method-assign]
                calls.append(("update", row)), update_cell(row, column, value, **kw))[1]
            table.show(ctl.runbook, after)
            await app_idle(pilot)
            assert [key.value for key in table.rows] == keys  # the same rows, the same order
            assert ("clear", None) not in calls
            assert {row for kind, row in calls if kind == "update"} == {"signoff"}
            assert "GOV-7" in str(table.get_row("signoff")[2])
            assert table.cursor_row == last
            calls.clear()
            table.show(ctl.runbook, after)  # nothing changed: nothing is touched
            assert calls == []
    finally:
        ctl.close()


async def test_a_strip_repaints_only_when_its_text_changes(tmp_path: Path) -> None:
    ctl = Controller.start(ordinary_world(tmp_path), folder=tmp_path / "s",
                           env=dict(os.environ), halt_hooks=[])
    try:
        app = Panes()
        async with app.run_test(size=(120, 20)):
            header = app.query_one(SessionHeader)
            seen = rules.overview(ctl.runbook, ctl.state, datetime.now(UTC))
            updates: list[object] = []
            update = header.update
            header.update = lambda *a, **kw: (updates.append(a), update(*a, **kw))[1]  # type: ignore[method-assign]
            header.show(ctl.runbook, ctl.state, "OPERATOR", clock=False, overview=seen)
            header.show(ctl.runbook, ctl.state, "OPERATOR", clock=False, overview=seen)
            assert len(updates) == 1
            assert "OPERATOR" in header.text
            header.show(ctl.runbook, ctl.state, "SESSION", clock=False, overview=seen)
            assert len(updates) == 2
    finally:
        ctl.close()


def test_no_widget_state_is_kept_in_private_attributes_set_from_outside() -> None:
    """`widget._drawn = ...` with a `# type: ignore`: state Textual does not know of."""
    found = []
    for path in sorted((REPO / "cockpit" / "tui").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr.startswith("_") \
                        and not (isinstance(target.value, ast.Name)
                                 and target.value.id in ("self", "cls")):
                    found.append(f"{path.name}:{node.lineno}")
    assert found == []

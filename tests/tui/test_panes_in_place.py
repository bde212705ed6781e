"""The panes keep their state as Textual does: text in reactives, table rows keyed by item id
and updated in place — a gate that changes updates its own cells, the table is not cleared and
refilled (which moved the reader's scroll and laid out the whole screen) — and no state is
kept by setting private attributes on another widget."""

from __future__ import annotations

import ast
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult

from cockpit.engine.controller import Controller
from cockpit.session import rules
from cockpit.tui.inplace import KeyedTable
from cockpit.tui.panes import GatePanel, SessionHeader
from cockpit.tui.runner import PhaseRunner, RunnerView
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


class Steps(App[None]):
    def compose(self) -> ComposeResult:
        yield PhaseRunner(id="runner")


async def test_a_running_steps_result_stays_in_view_when_its_clock_appears(
        tmp_path: Path) -> None:
    """The step's text is cut to make room for the result; a column's width must follow it
    down, or the clock that appears when the step starts is pushed off the pane (seen in the
    demo: `running 0:00:01` cut to `ru`)."""
    long = "echo " + "x" * 120
    ctl = Controller.start(ordinary_world(tmp_path, steps=[("long", long), ("after", "true")]),
                           folder=tmp_path / "s", env=dict(os.environ), halt_hooks=[])
    try:
        app = Steps()
        async with app.run_test(size=(70, 20)) as pilot:
            runner = app.query_one(PhaseRunner)
            table = runner.query_one("#steps", KeyedTable)
            plain = RunnerView(ctl.runbook, ctl.state,
                               rules.overview(ctl.runbook, ctl.state, datetime.now(UTC)),
                               clock=False)
            runner.show(plain)
            await app_idle(pilot)
            before = table.ordered_columns[1].content_width
            ctl.attest_gate("signoff", "GOV-1")
            assert ctl.evaluate_gates() == []
            ctl.await_end(ctl.run_step("long"))  # its result cell appears: "exit 0, 1 line"
            runner.show(replace(plain, state=ctl.state, overview=rules.overview(
                ctl.runbook, ctl.state, datetime.now(UTC))))
            await app_idle(pilot)
            used = sum(column.get_render_width(table) for column in table.ordered_columns)
            assert table.ordered_columns[1].content_width < before
            assert used <= table.size.width, (used, table.size.width)
            assert str(table.get_row("long")[2]) == "exit 0, 1 line"
    finally:
        ctl.close()


async def test_a_keyed_table_past_its_edge_gives_back_the_room_its_cells_left() -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield KeyedTable(id="t")

    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.add_columns("a", "b")
        table.show_rows([("k", "x" * 100, "1")])  # past the table's edge
        await app_idle(pilot)
        assert table.ordered_columns[0].content_width == 100
        table.show_rows([("k", "x" * 10, "1")])
        await app_idle(pilot)
        assert table.ordered_columns[0].content_width == 10
        assert [key.value for key in table.rows] == ["k"]
        table.show_rows([("k", "x" * 20, "1")])
        await app_idle(pilot)
        assert table.ordered_columns[0].content_width == 20
        table.show_rows([("k", "x" * 5, "1")])  # within the edge: updated in place
        await app_idle(pilot)
        assert table.ordered_columns[0].content_width == 20

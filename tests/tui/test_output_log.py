"""The output pane streams cheaply and still shows the right lines: a batch of lines repaints
that pane alone, with no layout of the screen, and scrolling back (also after old lines were
dropped) shows the lines that are there, not stale ones. And what it draws of a step's
output is inert, on the operator's screen and the mirror's (invariant 11)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from cockpit.engine.controller import Controller
from cockpit.mirror.source import MirrorSource
from cockpit.tui.app import CockpitApp
from cockpit.tui.checklist import ChecklistTree
from cockpit.tui.mirror_app import MirrorApp
from cockpit.tui.mirror_screen import FOLLOW_GROUP
from cockpit.tui.output_log import OutputLog
from cockpit.tui.panes import GatePanel, HaltBanner, SessionHeader
from tests.engine.helpers import (
    HOSTILE_SHOWN,
    assert_inert,
    hostile_world,
    phase,
    run_hostile,
    write_world,
)
from tests.run import cockpit
from tests.waiting import app_idle, pause_until


class OneLog(App[None]):
    def compose(self) -> ComposeResult:
        yield OutputLog(id="output", max_lines=50)


def visible_rows(log: OutputLog) -> int:
    return log.scrollable_content_region.height


def visible(log: OutputLog) -> list[str]:
    return [log.render_line(y).text.strip() for y in range(visible_rows(log))]


async def test_the_pane_follows_the_end_and_scrolls_back_to_what_it_keeps() -> None:
    app = OneLog()
    async with app.run_test(size=(40, 12)) as pilot:
        log = app.query_one(OutputLog)
        for batch in range(6):
            log.write_lines([f"line {n}" for n in range(batch * 5, batch * 5 + 5)])
            await app_idle(pilot)
        assert log.show_vertical_scrollbar  # 30 lines in a 12-row pane
        assert log.max_scroll_y == 30 - visible_rows(log)
        assert visible(log)[-1] == "line 29"
        log.scroll_home(animate=False)
        await app_idle(pilot)
        assert visible(log)[0] == "line 0"
        log.scroll_end(animate=False)
        await app_idle(pilot)
        # 100 more: only the last 50 are kept, and the rendered lines kept for the old
        # numbering must not show up under the new one
        for batch in range(20):
            log.write_lines([f"line {n}" for n in range(30 + batch * 5, 35 + batch * 5)])
            await app_idle(pilot)
        assert visible(log)[-1] == "line 129"
        log.scroll_home(animate=False)
        await app_idle(pilot)
        assert visible(log)[:3] == ["line 80", "line 81", "line 82"]


async def test_a_batch_of_lines_repaints_the_output_pane_alone(tmp_path: Path,
                                                               monkeypatch) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("s0", "seq 1 200")])])
    session = tmp_path / "s"
    cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
            check=True, text=False)
    app = MirrorApp(MirrorSource(session), clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#tabs").active = "phase-tab"
        # Settled first: the opening's log check (a worker) and what it redraws, even on a
        # loaded machine, so only the batches below are measured (the follow worker runs
        # until the mirror closes).
        if others := [w for w in app.workers if w.group != FOLLOW_GROUP]:  # [] waits on all
            await app.workers.wait_for_complete(others)
        await app_idle(pilot)
        log = app.query_one(OutputLog)
        # the last step's 200 lines, shown on opening
        await pause_until(pilot, lambda: log.show_vertical_scrollbar, "the opening's lines")
        await app_idle(pilot)
        layouts: list[bool] = []
        refresh_layout = app.screen._refresh_layout
        monkeypatch.setattr(app.screen, "_refresh_layout",
                            lambda *a, **k: (layouts.append(True), refresh_layout(*a, **k)))
        drawn: list[str] = []  # lines whose content was drawn afresh (not from the cache)
        for pane in (OutputLog, ChecklistTree, GatePanel, SessionHeader):
            draw = pane.render_line
            monkeypatch.setattr(pane, "render_line", lambda self, y, draw=draw: (
                drawn.append(type(self).__name__), draw(self, y))[1])
        processed: list[str] = []  # lines made into text (kept once made)
        process = log._process_line
        monkeypatch.setattr(log, "_process_line",
                            lambda line: (processed.append(line), process(line))[1])
        for batch in range(10):
            log.write_lines([f"new {batch}.{n}" for n in range(5)])
            await app_idle(pilot)
        monkeypatch.undo()
        assert log.lines[-1] == "new 9.4"
        assert visible(log)[-1] == "new 9.4"
        assert not layouts  # no layout of the screen for a batch of lines
        assert drawn.count("OutputLog") >= 10 * visible_rows(log)  # the pane, each batch...
        assert set(drawn) == {"OutputLog"}  # ...and nothing away from it
        assert len(processed) <= 2 * 50 + visible_rows(log)  # each new line made once


async def test_a_line_longer_than_the_pane_is_marked_and_can_be_scrolled_to() -> None:
    app = OneLog()
    async with app.run_test(size=(40, 12)) as pilot:
        log = app.query_one(OutputLog)
        long = "INFO  [alembic.runtime.migration] Running upgrade a1_customers -> b2_orders"
        log.write_lines(["short", long, *[f"line {n}" for n in range(30)]])  # a scrollbar
        log.scroll_home(animate=False)
        await app_idle(pilot)
        width = log.scrollable_content_region.width
        assert width < log.size.width  # the vertical scrollbar takes its columns
        short_row, long_row = (log.render_line(y).text for y in range(2))
        assert not short_row.rstrip().endswith("›")
        assert long_row[:width].endswith("›")
        assert long_row[:-1] == long[: width - 1]
        log.scroll_to(x=len(long), animate=False)  # the rest is there: no mark at its end
        await app_idle(pilot)
        assert log.render_line(1).text.rstrip().endswith("b2_orders")


def drawn(widget: Widget) -> list[str]:
    """The widget's lines as Textual draws them: the text of every segment of its strips,
    which is what reaches the terminal between Textual's own style codes."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return ["".join(segment.text for segment in strip) for strip in strips]


def assert_drawn_inert(app: App[None], where: str) -> None:
    """The output pane and the halt banner draw no control character, and show the hostile
    step's lines and the halt's line as caret text."""
    log = app.query_one("#output", OutputLog)
    assert_inert("\n".join(drawn(log)).encode(), f"{where}: output pane")
    assert [line for line in visible(log) if line] == HOSTILE_SHOWN
    banner = "\n".join(drawn(app.query_one("#halt", HaltBanner)))
    assert_inert(banner.encode(), f"{where}: halt banner")
    assert f"line: {HOSTILE_SHOWN[-1]}" in banner


async def test_step_output_escape_sequences_are_inert_in_the_mirrors_panes(
        tmp_path: Path) -> None:
    _run, session = run_hostile(tmp_path)
    app = MirrorApp(MirrorSource(session), clock=False)
    async with app.run_test(size=(160, 50)) as pilot:
        app.query_one("#tabs").active = "phase-tab"
        # the follow worker runs until the mirror closes; the log check is what is waited on
        if others := [w for w in app.workers if w.group != FOLLOW_GROUP]:  # [] waits on all
            await app.workers.wait_for_complete(others)
        await app_idle(pilot)
        assert_drawn_inert(app, "mirror")


async def test_step_output_escape_sequences_are_inert_in_the_operators_panes(
        tmp_path: Path) -> None:
    # the step prints once the pane follows it: a step over before the screen has seen it
    # start is not followed live (the mirror's test covers a finished step's log)
    go = tmp_path / "go"
    ctl = Controller.start(hostile_world(tmp_path, f"while [ ! -e {go} ]; do sleep 0.05; done"),
                           folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("r")
            await pause_until(pilot, lambda: app.operator.follower.following,
                              "the pane to follow the hostile step")
            go.touch()  # it streams into the pane, then its abort rule halts the session
            await pause_until(pilot, lambda: ctl.state.halt is not None
                              and not app.operator.follower.following,
                              "the hostile step's halt, its last line shown")
            await app.workers.wait_for_complete()
            await app_idle(pilot)
            assert_drawn_inert(app, "operator")
    finally:
        ctl.close()

"""Day-one keys: Ctrl-C in the operator's screen does what q does, in the mirror it quits;
`h` at 80×24 shows the whole halt protocol — every item's text reachable on screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.mirror.source import MirrorSource
from cockpit.runbook.render import item_text
from cockpit.tui.app import CockpitApp
from cockpit.tui.mirror_app import MirrorApp
from tests.engine.helpers import phase, write_world
from tests.waiting import app_idle, finish_running

WATCH = ('  { kind = "abort_watch", id = "watch", text = "Abort on any of:", '
         'rules = ["duplicate-table"] },')
ABORT = ("echo 'psycopg.errors.DuplicateTable: relation \"active_investments\" already "
         "exists'; exit 1")


# The reference's halt wording, and a team's rollback plan after it (as `import` makes it)
HALT_TEXTS = {"Stop execution immediately": "Stop execution immediately",
              "Preserve all logs": "Preserve all logs/artifacts generated so far",
              "Record blocker + root cause": "Record blocker + root-cause classification",
              "Escalate to governance": "Escalate to governance + DBA rollback/PITR decision",
              "Do not continue": "Do not continue with additional migration commands"}
ROLLBACK = """
[rollback]
heading = "Rollback"
items = [
  { kind = "halt", id = "rb-pause", text = "Pause the ledger workers (`systemctl stop ledger-worker`)" },
  { kind = "halt", id = "rb-downgrade", text = "Downgrade to the anchor only on the DBA's word, with the PITR window still open" },
  { kind = "halt", id = "rb-announce", text = "Announce the rollback in #cutover with the incident number" },
]
"""


def _controller(tmp_path: Path, steps: list[tuple[str, str]], extra: str = "") -> Controller:
    runbook = write_world(tmp_path, [phase("P3", steps, extra)])
    text = runbook.read_text()
    for short, long in HALT_TEXTS.items():
        text = text.replace(f'text = "{short}"', f'text = "{long}"')
    runbook.write_text(text.replace("\n[decision]", ROLLBACK + "\n[decision]"))
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ), halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    return ctl


def _halted(tmp_path: Path) -> Controller:
    ctl = _controller(tmp_path, [("upgrade", ABORT), ("after", "echo after")], WATCH)
    ctl.run_step("upgrade")
    finish_running(ctl)
    assert ctl.state.halt is not None
    return ctl


async def test_ctrl_c_in_the_operators_screen_does_what_q_does(tmp_path: Path) -> None:
    ctl = _controller(tmp_path, [("hello", "echo hello")])
    quit_asked: list[str] = []
    app = CockpitApp(ctl, clock=False, on_quit=lambda: quit_asked.append("quit"))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+c")
            await app_idle(pilot)
            assert quit_asked == ["quit"]  # q's own way out, not Textual's "press ctrl+q"
            assert not app.is_running
    finally:
        ctl.close()


async def test_ctrl_c_in_the_mirror_quits(tmp_path: Path) -> None:
    ctl = _controller(tmp_path, [("hello", "echo hello")])
    try:
        app = MirrorApp(MirrorSource(tmp_path / "s"), clock=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+c")
            await app_idle(pilot)
            assert not app.is_running
    finally:
        ctl.close()


def _on_screen(app: CockpitApp) -> list[str]:
    """The top screen as drawn now, a line each, the text inside a box's or a dialog's
    borders only."""
    lines = []
    for strip in app.screen._compositor.render_strips():
        text = strip.text
        for border in "█┃":
            if text.count(border) >= 2:
                text = text[text.index(border) + 1:text.rindex(border)]
                break
        lines.append(text.strip())
    return lines


def _merged(seen: list[str], page: list[str]) -> list[str]:
    """`seen`, then the lines of `page` it does not end with already (a scroll overlaps)."""
    for overlap in range(min(len(seen), len(page)), 0, -1):
        if seen[-overlap:] == page[:overlap]:
            return seen + page[overlap:]
    return seen + page


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_h_shows_every_halt_protocol_item_at_any_size(tmp_path: Path,
                                                            size: tuple[int, int]) -> None:
    ctl = _halted(tmp_path)
    texts = [item_text(item, ctl.runbook) for item in ctl.runbook.protocol_items()]
    try:
        app = CockpitApp(ctl, clock=False)
        async with app.run_test(size=size) as pilot:
            await app_idle(pilot)
            await pilot.press("h")
            await app_idle(pilot)
            seen = _on_screen(app)
            for _ in range(10):  # what is below the fold is reachable by scrolling
                await pilot.press("down")
                await app_idle(pilot)
                seen = _merged(seen, _on_screen(app))
            flowing = " ".join(" ".join(seen).split())  # a wrapped line read on
            missing = [text for text in texts if text not in flowing]
            assert missing == [], f"not reachable at {size}: {missing}\n" + "\n".join(seen)
    finally:
        ctl.close()

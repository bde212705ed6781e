"""The fleet board (issue #33): the operator types the GO and the next wave's approval on
the screen while the fleet runs real targets beneath it; a row per target shows its phase,
progress and outcome; a mirror's board shows the same with no key that changes anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from cockpit.fleet.approvals import TypedApprovals, go_words
from cockpit.fleet.driver import FleetDriver
from cockpit.fleet.local import LocalPool
from cockpit.fleet.opening import start_fleet
from cockpit.tui.fleet_app import MIRROR_MARK, FleetApp, FleetControl
from cockpit.tui.screens import AskText
from tests.fleet.world import Server, build_world
from tests.waiting import app_idle, pause_until

pytestmark = pytest.mark.slow  # real targets under the board

WAVES = '[[waves]]\nname = "canary"\ntargets = ["t01"]\n\n[[waves]]\nname = "rest"\nrest = true\n'


def _next(app: FleetApp) -> str:
    return str(app.query_one("#next", Static).render())


def _outcomes(app: FleetApp) -> dict[str, str]:
    table = app.query_one("#fleet-targets", DataTable)
    return {str(key.value): str(table.get_row(key)[-1]) for key in table.rows}


async def _type(app: FleetApp, pilot, words: str) -> None:  # type: ignore[no-untyped-def]
    await pause_until(pilot, lambda: isinstance(app.screen, AskText), "the dialog")
    app.screen.query_one("#answer", Input).value = words
    await pilot.press("enter")
    await app_idle(pilot)


async def test_the_go_and_the_next_wave_are_typed_on_the_board(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = build_world(tmp_path / "world", server, count=3, waves=WAVES)
    for name in ("DATABASE_URL", "COCKPIT_OPERATOR"):  # the targets' cockpits inherit them
        monkeypatch.setenv(name, world.env()[name])
    opened = start_fleet(world.runbook, world.targets, None, tmp_path / "fleet", None)
    typed = TypedApprovals(opened.actor.name)
    driver = FleetDriver(opened.folder, opened.store, opened.actor, opened.plan,
                         LocalPool(opened.folder), typed, lambda line: None)
    app = FleetApp(opened.folder, FleetControl(driver, typed))
    try:
        async with app.run_test(size=(150, 40)) as pilot:
            words = go_words(opened.store.events[0].data["targets_sha256"])
            await pause_until(pilot, lambda: f"press g and type {words!r}" in _next(app),
                              "the board to ask for the GO")
            assert set(_outcomes(app).values()) == {"not started"}
            await pilot.press("g")
            await pause_until(pilot, lambda: isinstance(app.screen, AskText), "the dialog")
            app.screen.query_one("#answer", Input).value = "GO 000000000000"
            await pilot.press("enter")
            await app_idle(pilot)
            assert isinstance(app.screen, AskText)  # a wrong pin is not taken
            assert words in str(app.screen.query_one("#dialog-error", Static).render())
            app.screen.query_one("#answer", Input).value = words
            await pilot.press("enter")
            await pause_until(pilot, lambda: "wave rest waits for its approval: press a" in
                              _next(app), "the canary to end and the next wave to wait", 180)
            assert _outcomes(app)["t01"] == "PASS" and _outcomes(app)["t02"] == "not started"
            await pilot.press("a")
            await _type(app, pilot, "rest")
            await pause_until(pilot, lambda: _next(app).startswith("FLEET PASS"),
                              "the fleet to end", 180)
            assert set(_outcomes(app).values()) == {"PASS"}
            table = app.query_one("#fleet-targets", DataTable)
            assert [str(c) for c in table.get_row("t03")][2:4] == ["P3", "3 of 3"]
    finally:
        opened.lock.release()
    events = [json.loads(line) for line in
              (opened.folder / "ledger" / "events.jsonl").read_text().splitlines()]
    approved = [e["data"] for e in events if e["type"] == "wave_approved"]
    assert approved == [{"wave": "rest", "approver": "alice", "typed": "rest", "how": "screen"}]
    assert [e["data"]["typed"] for e in events if e["type"] == "fleet_go"] == [words]

    mirror = FleetApp(opened.folder)
    async with mirror.run_test(size=(150, 40)) as pilot:
        await pause_until(pilot, lambda: MIRROR_MARK in str(
            mirror.query_one("#fleet-header", Static).render()), "the mirror's header")
        assert set(_outcomes(mirror).values()) == {"PASS"}
        for key in ("g", "a", "k"):
            await pilot.press(key)
            await app_idle(pilot)
            assert not isinstance(mirror.screen, AskText)  # no verb on a mirror

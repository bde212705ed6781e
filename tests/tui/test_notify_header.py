"""A destination that is down changes nothing but a word in the header: the operator and
the reviewer see how many notifications are undelivered."""

from __future__ import annotations

from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.mirror.source import MirrorSource
from cockpit.tui.app import CockpitApp
from cockpit.tui.mirror_app import MirrorApp
from tests.notify.servers import refused_port
from tests.notify.worlds import TOKEN, notify_table, notify_world
from tests.waiting import app_idle, pause_until


def _header(app: CockpitApp | MirrorApp) -> str:
    return str(app.screen.query_one("#header").render())


async def test_undelivered_notifications_show_in_both_headers(tmp_path: Path) -> None:
    runbook = notify_world(tmp_path, [notify_table("hook", "webhook", url_env="HOOK_URL",
                                                   attempts=1)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", halt_hooks=[], env={
        "HOOK_URL": f"http://127.0.0.1:{refused_port()}/hook/{TOKEN}"})
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(160, 24)) as pilot:
            await app_idle(pilot)
            assert "undelivered" not in _header(app)
            ctl.evaluate_gates()  # NO-GO: the attestations are open; told, and refused
            await pause_until(pilot, lambda: "✉ 1 undelivered" in _header(app),
                              "the header to count the undelivered message")
    finally:
        ctl.close(notify_wait=0)
    mirror = MirrorApp(MirrorSource(tmp_path / "s"), clock=False)
    async with mirror.run_test(size=(160, 24)) as pilot:
        await app_idle(pilot)
        assert "✉ 1 undelivered" in _header(mirror)

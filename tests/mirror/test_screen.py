"""The mirror's screen: the same panes, MIRROR — READ-ONLY, no path to a verb, following
the operator live, and not one byte of the session changed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cockpit.mirror.source import MirrorSource
from cockpit.session.state import fold
from cockpit.session.store import read_event_log
from cockpit.tui.app import VERBS
from cockpit.tui.mirror_app import MirrorApp
from tests.conftest import REPO
from tests.engine.helpers import phase, write_world

STEPS = [(f"s{i}", f"for n in $(seq 1 20); do echo s{i} line $n; sleep 0.02; done")
         for i in range(3)]


def _files(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


async def test_mirror_follows_live_and_writes_nothing(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:2]), phase("P1", STEPS[2:])])
    session = tmp_path / "s"
    operator = subprocess.Popen([sys.executable, "-m", "cockpit", "run", str(runbook),
                                 "--headless", "--assume-yes", "--session", str(session)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (session / "runbook.toml").exists() or not (session / "events.jsonl").stat().st_size:
        time.sleep(0.01)
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        header = str(app.query_one("#header").render())
        assert "MIRROR — READ-ONLY" in header
        while not source.state.ended:
            await pilot.pause(0.05)
        operator.wait(60)
        await pilot.pause(0.2)
        assert source.state == fold(read_event_log(session / "events.jsonl").events)
        before = _files(session)
        for binding in app.BINDINGS:
            if binding.action == "quit_cockpit":
                continue
            await pilot.press(binding.key)
            while app.screen is not app.screen_stack[0]:
                await pilot.press("escape")
        for verb in VERBS:
            assert app.check_action(verb, ()) is False
            await app.run_action(verb)
            while app.screen is not app.screen_stack[0]:
                await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not titles & {label for _k, label in VERBS.values()}
        await pilot.pause()
        assert _files(session) == before
        assert not hasattr(source, "run_step") and not hasattr(source, "halt")
    assert operator.returncode == 0

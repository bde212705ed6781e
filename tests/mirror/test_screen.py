"""The mirror's screen: the same panes, MIRROR — READ-ONLY, no path to a verb, following
the operator live, and not one byte of the session changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cockpit.mirror.source import MirrorSource
from cockpit.session.state import fold
from cockpit.session.store import read_event_log
from cockpit.tui.mirror_app import MirrorApp
from cockpit.tui.operator_screen import VERBS
from cockpit.tui.output_log import OutputLog
from tests.engine.helpers import phase, write_world
from tests.mirror.helpers import files_state
from tests.mirror.screen_driver import try_every_way_in
from tests.run import start_cockpit
from tests.waiting import pause_until, wait_until

STEPS = [(f"s{i}", f"for n in $(seq 1 20); do echo s{i} line $n; sleep 0.02; done")
         for i in range(3)]



async def test_mirror_follows_live_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:2]), phase("P1", STEPS[2:])])
    session = tmp_path / "s"
    operator = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                             str(session), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: (session / "runbook.toml").exists()
               and (session / "events.jsonl").stat().st_size, "the operator's session to start")
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    seen_events: list[int] = []
    source.listeners.append(lambda event: seen_events.append(event.seq))
    shown: list[str] = []  # every line the log pane was given, in order, from its mounting
    write_lines = OutputLog.write_lines
    monkeypatch.setattr(OutputLog, "write_lines", lambda pane, lines, *a, **kw: (
        shown.extend(lines), write_lines(pane, lines, *a, **kw))[1])
    async with app.run_test(size=(120, 40)) as pilot:
        assert str(app.query_one("#header").render()).startswith("▌MIRROR — READ-ONLY▐")
        await pause_until(pilot, lambda: source.state.ended, "the session to end")
        operator.wait(60)
        everything = [f"{step} line {n}" for step, _ in STEPS for n in range(1, 21)]
        await pause_until(pilot, lambda: everything[-1] in shown, "the last step's last line")
        events = read_event_log(session / "events.jsonl").events
        # the session's last event may come a look after the one that ends it
        await pause_until(pilot, lambda: source.state == fold(events), "the mirror at the end")
        assert seen_events == list(range(seen_events[0], len(events) + 1))  # each once, in order
        # The operator started first, so the mirror joined at some line of s0; from there on
        # it showed every line of every step, in order, once.
        assert shown == everything[everything.index(shown[0]):]
        before = files_state(session)
        palette = await try_every_way_in(app, pilot)
        assert {"Keys", "Screenshot", "Theme"} <= set(palette)
        assert not set(palette) & {label for _k, label in VERBS.values()}
        assert files_state(session) == before
        assert not hasattr(source, "run_step") and not hasattr(source, "halt")
    assert operator.returncode == 0

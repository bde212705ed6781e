"""The screen mirror follows by file notification where there is one (the session folder and
the running step's log folder are watched) and by looking every 100 ms where there is none;
either way it shows every line and event, in order. A busy log is drawn in batches, not per
line: between events, the pane is fed at most once per FEED_GAP_S."""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import pytest

from cockpit.mirror.source import MirrorSource
from cockpit.session import notify
from cockpit.session.layout import session_file
from cockpit.session.notify import POLL_S
from cockpit.session.state import fold
from cockpit.session.store import read_event_log
from cockpit.tui.mirror_app import MirrorApp
from cockpit.tui.mirror_follow import FEED_GAP_S, SAFETY_S
from cockpit.tui.output_log import OutputLog
from tests.engine.helpers import phase, write_world
from tests.run import start_cockpit
from tests.waiting import pause_until, wait_until

STEPS = [(f"s{i}", f"for n in $(seq 1 30); do echo s{i} line $n; sleep 0.01; done")
         for i in range(2)]


@pytest.mark.parametrize("notifying", [True, False], ids=["inotify", "polling"])
async def test_the_screen_mirror_follows_with_and_without_notification(
        tmp_path: Path, monkeypatch, notifying: bool) -> None:
    if not notifying:
        monkeypatch.setattr(notify, "_libc", lambda: None)  # as where there is no inotify
    runbook = write_world(tmp_path, [phase("P0", [("go", f"while [ ! -e {tmp_path / 'go'} ];"
                                                         " do sleep 0.01; done"), *STEPS])])
    session = tmp_path / "s"
    operator = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                             str(session), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: (session / "events.jsonl").exists()
               and (session / "runbook.toml").exists(), "the operator's session to start")
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.mirror.reader.idle_s == (SAFETY_S if notifying else POLL_S)
        assert (source.waiter.fd is not None) == notifying
        pane = app.query_one("#output", OutputLog)
        batches: list[tuple[float, list[str]]] = []
        write_lines = pane.write_lines
        pane.write_lines = lambda lines, **kw: (  # type: ignore[method-assign]
            batches.append((time.monotonic(), list(lines))), write_lines(lines, **kw))[1]
        events: list[int] = []
        source.listeners.append(lambda event: events.append(event.seq))
        (tmp_path / "go").touch()  # the mirror is up before the first line
        await pause_until(pilot, lambda: source.state.ended, "the session's end", 60)
        assert operator.wait(30) == 0
        last = f"{STEPS[-1][0]} line 30"
        await pause_until(pilot, lambda: any(last in lines for _at, lines in batches),
                          "the last step's last line")
        # the operator has ended, so the log is final: the mirror reaches it (its last event
        # may come after the one that ends the session, within a look)
        final = fold(read_event_log(session / "events.jsonl").events)
        await pause_until(pilot, lambda: source.state == final, "the mirror to reach the log's end")
        shown = [line for _at, lines in batches for line in lines]
        assert shown == [f"{step} line {n}" for step, _ in STEPS for n in range(1, 31)]
        if notifying:  # the step's log folder is watched as well as the session's
            log_folder = session_file(session, source.state.steps["s0"].log or "").parent
            assert log_folder in source.waiter.watched
        # batched: 60 lines written over ~1 s reached the pane in far fewer writes, and two
        # came within the feed gap only when an event came (it is taken in at once, after
        # the running log is read)
        assert len(batches) < 30
        fed = [at for at, _lines in batches]
        early = sum(b - a < FEED_GAP_S * 0.9 for a, b in itertools.pairwise(fed))
        assert early <= len(events)

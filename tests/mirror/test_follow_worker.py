"""The screen mirror follows the session through one worker thread, as Toolong's watcher does:
the event log and the running step's log are read off the screen's thread, and what was read
reaches the screen as typed messages — the lines in batches, in order, each once."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from textual.message import Message

from cockpit.mirror.source import MirrorSource
from cockpit.tui.mirror_app import MirrorApp
from tests.conftest import REPO
from tests.engine.helpers import phase, write_world
from tests.waiting import pause_until, wait_until

STEPS = [(f"s{i}", f"for n in $(seq 1 15); do echo s{i} line $n; sleep 0.01; done")
         for i in range(2)]


def _operator(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    go = tmp_path / "go"
    runbook = write_world(tmp_path, [phase("P0", [("go", f"while [ ! -e {go} ]; do sleep "
                                                         "0.01; done"), *STEPS])])
    session = tmp_path / "s"
    operator = subprocess.Popen([sys.executable, "-m", "cockpit", "run", str(runbook),
                                 "--headless", "--assume-yes", "--session", str(session)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: (session / "events.jsonl").exists()
               and (session / "runbook.toml").exists(), "the operator's session to start")
    return operator, session


async def test_the_screen_mirror_reads_the_session_off_its_own_thread(tmp_path: Path) -> None:
    operator, session = _operator(tmp_path)
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    readers: set[int] = set()  # the threads that read the event log and the step logs

    def on(thread_of: Any, name: str) -> None:
        real = getattr(thread_of, name)

        def spied(*args: Any, **kwargs: Any) -> Any:
            readers.add(threading.get_ident())
            return real(*args, **kwargs)

        setattr(thread_of, name, spied)

    on(source, "catch_up")
    async with app.run_test(size=(120, 40)) as pilot:
        on(app.mirror.follower, "pump")
        (tmp_path / "go").touch()
        await pause_until(pilot, lambda: source.state.ended, "the session to end")
        assert operator.wait(30) == 0
    assert readers and threading.get_ident() not in readers


async def test_what_the_worker_read_reaches_the_screen_as_typed_messages(
        tmp_path: Path) -> None:
    from cockpit.tui.messages import LogLines, SessionChanged

    operator, session = _operator(tmp_path)
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    seen: list[Message] = []
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        (tmp_path / "go").touch()
        await pause_until(pilot, lambda: source.state.ended, "the session to end")
        assert operator.wait(30) == 0
        await pause_until(pilot, lambda: "s1 line 15" in app.query_one("#output").lines,
                          "the last line on screen")
    batches = [m for m in seen if isinstance(m, LogLines)]
    assert [line for m in batches for line in m.lines] == [
        f"{step} line {n}" for step, _ in STEPS for n in range(1, 16)]
    assert len(batches) < 30  # batched, not a message per line
    assert sum(m.fresh for m in batches) == 3  # the pane started over for each run
    assert any(isinstance(m, SessionChanged) for m in seen)

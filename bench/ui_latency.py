"""Responsiveness of the operator's cockpit while a step streams 1,000,000 lines.

Drives the real app (Textual's test driver, 120x40) on a session whose step is a Python child
printing 1,000,000 Alembic-like lines. While it streams, a key (down, up, ...) is sent to the
focused checklist every 100 ms, as the terminal driver would, and the time until the cursor
has moved is measured; Textual paints that at its next frame, at most 1/60 s later, which is
added to every figure. (Pilot.press is not used: its own idle waits add ~60 ms even to an
idle app.) The process's memory is sampled throughout. Then the same presses while a halt
captures its diagnostics against a database that accepts connections and never answers
(target p95 < 50 ms: the controller's work runs in a worker). Separately, a fresh process
resuming a session is timed from its spawn to its first screen, and so is the floor under it:
the same widgets in a bare Textual app with no cockpit code. The last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from textual import events

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from tests.engine.helpers import phase, write_world

LINES = 1_000_000
FRAME_S = 1 / 60
CHILD = ("python3 -c \"line = 'INFO  [alembic.runtime.migration] Running upgrade 0019 -> 0020,"
         f" backfill batch %07d ok'; [print(line % i) for i in range({LINES})]\"")
STARTUP = """
import asyncio, sys, time
import psutil
from textual import events
from pathlib import Path
from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
started = psutil.Process().create_time()
ctl = Controller.resume(Path(sys.argv[1]), take_over=True, halt_hooks=[])
async def main():
    async with CockpitApp(ctl, clock=False).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(time.time())
asyncio.run(main())
ctl.close()
"""

# The floor under that first screen: the operator screen's widgets (a header, a checklist tree
# of 16 lines, three tabs with their tables and a log, the next-action line, a footer of six
# keys) in a bare Textual app, with no cockpit code and no session read, timed the same way.
FLOOR = """
import asyncio, time
from textual.app import App
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Log, Static, TabbedContent, TabPane, Tree
class Floor(App):
    BINDINGS = [(key, "bell", key) for key in "gaxhq?"]
    def compose(self):
        yield Static("header")
        halt = Static("halt")  # the halt banner: hidden until a halt
        halt.display = False
        yield halt
        with Horizontal():
            with Vertical():
                tree = Tree("checklist")
                for n in range(15):
                    tree.root.add_leaf(f"item {n}")
                yield tree
                yield Static("item text")
            with Vertical(), TabbedContent(initial="phase"):
                with TabPane("Gates", id="gates"):
                    yield DataTable()
                    yield Static("reasons")
                with TabPane("Phase", id="phase"):
                    yield DataTable()
                    for n in range(4):
                        yield Static(f"strip {n}")
                    yield Log()
                with TabPane("Evidence", id="evidence"):
                    yield DataTable()
        yield Static("next")
        yield Footer()
async def main():
    async with Floor().run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(time.time())
asyncio.run(main())
"""


async def key_to_screen(app: CockpitApp, tree: Any, count: int) -> float:
    """Seconds from a key (down, then up, ...) to the cursor having moved, plus a frame."""
    before = tree.cursor_line
    start = time.perf_counter()
    app.post_message(events.Key("down" if count % 2 == 0 else "up", None))
    while tree.cursor_line == before:
        await asyncio.sleep(0.0005)
    return time.perf_counter() - start + FRAME_S


async def stream(folder: Path) -> dict[str, float]:
    folder.mkdir(parents=True)
    runbook = write_world(folder, [phase("P0", [("stream", CHILD)])])
    ctl = Controller.start(runbook, folder=folder / "session", env=dict(os.environ),
                           halt_hooks=[])
    ctl.attest_gate("signoff", "bench")
    ctl.evaluate_gates()
    app = CockpitApp(ctl, clock=False)
    me = psutil.Process()
    latencies: list[float] = []
    peak = me.memory_info().rss
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        while ctl.running() is None:
            await pilot.pause(0.01)
        tree = app.query_one("#checklist")
        tree.focus()
        await pilot.pause()
        while ctl.running() is not None:
            latencies.append(await key_to_screen(app, tree, len(latencies)))
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.1)
        await pilot.pause(0.5)
        shown = app.query_one("#output").line_count
    ctl.close()
    record = ctl.state.steps["stream"]
    latencies.sort()
    return {"lines": record.lines or 0, "presses": len(latencies),
            "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
            "max_ms": latencies[-1] * 1000, "peak_mib": peak / 2**20,
            "log_pane_lines": shown}


def silent_server() -> tuple[socket.socket, int]:
    """A port that accepts connections and never says a word: a database that does not
    answer (a hung server, a half-open network path)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    return server, server.getsockname()[1]


async def halt_case(folder: Path) -> dict[str, float]:
    """Keys while a halt captures its diagnostics against a database that does not answer:
    the step prints an abort rule's match; the controller halts and its default diagnostics
    (the database's locks and activity, the Alembic revision) wait on their connect
    timeouts. Presses from the match until the diagnostics are recorded."""
    folder.mkdir(parents=True)
    server, port = silent_server()
    watch = ('  { kind = "abort_watch", id = "watch", text = "Abort on any of:", '
             'rules = ["duplicate-table"] },')
    failing = "echo 'psycopg.errors.DuplicateTable: relation \"facilities\" already exists'"
    runbook = write_world(folder, [phase("P3", [("upgrade", failing)], watch)])
    env = {**os.environ, "DATABASE_URL": f"postgresql://ops:pw@127.0.0.1:{port}/prod"}
    ctl = Controller.start(runbook, folder=folder / "session", env=env)  # default hooks
    ctl.attest_gate("signoff", "bench")
    ctl.evaluate_gates()
    app = CockpitApp(ctl, clock=False)
    latencies: list[float] = []
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one("#checklist")
        tree.focus()
        await pilot.pause()
        ctl.run_step("upgrade", None)
        while ctl.state.halt is None:
            await asyncio.sleep(0.01)
        halted = time.perf_counter()
        while not ctl.state.diagnostics:
            latencies.append(await key_to_screen(app, tree, len(latencies)))
            await asyncio.sleep(0.1)
        captured = time.perf_counter()
        await app.workers.wait_for_complete()
    ctl.close()
    server.close()
    latencies.sort()
    return {"halt_presses": len(latencies), "halt_wait_s": captured - halted,
            "halt_p50_ms": statistics.median(latencies) * 1000,
            "halt_p95_ms": latencies[max(int(len(latencies) * 0.95) - 1, 0)] * 1000,
            "halt_max_ms": latencies[-1] * 1000, "halt_total_s": captured - started}


def first_screen(code: str, *args: str) -> float:
    """Seconds from a fresh process's spawn to its first screen, as it prints it."""
    spawned = time.time()  # the same clock the child reads at its first screen
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    return float(done.stdout.strip().splitlines()[-1]) - spawned


def startup(folder: Path) -> tuple[float, float]:
    """The cockpit's first screen and the bare-Textual floor under it: medians of 3,
    interleaved."""
    folder.mkdir(parents=True)
    runbook = write_world(folder, [phase("P0", [("hello", "echo hello")])])
    ctl = Controller.start(runbook, folder=folder / "session", env=dict(os.environ),
                           halt_hooks=[])
    ctl.close()
    cockpit, floor = [], []
    for _ in range(3):
        cockpit.append(first_screen(STARTUP, str(folder / "session")))
        floor.append(first_screen(FLOOR))
    return statistics.median(cockpit), statistics.median(floor)


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="cockpit-bench-ui-"))
    try:
        figures = asyncio.run(stream(base / "stream"))
        halted = asyncio.run(halt_case(base / "halt"))
        first, floor = startup(base / "start")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"streamed {figures['lines']:,} lines; {figures['presses']} key presses while streaming")
    print(f"key to screen: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
          f"max {figures['max_ms']:.1f} ms (target p95 < 100 ms)")
    print(f"peak memory {figures['peak_mib']:.0f} MiB (target < 300); log pane keeps "
          f"{figures['log_pane_lines']:,} lines")
    print(f"start to first screen {first:.2f} s (target <= 0.8 s); the same widgets in a bare "
          f"Textual app, no cockpit code: {floor:.2f} s")
    print(f"during a halt whose diagnostics waited {halted['halt_wait_s']:.1f} s on a database "
          f"that does not answer: {halted['halt_presses']} key presses, p50 "
          f"{halted['halt_p50_ms']:.1f} ms, p95 {halted['halt_p95_ms']:.1f} ms, max "
          f"{halted['halt_max_ms']:.1f} ms (target p95 < 50 ms)")
    print(json.dumps({**{k: round(v, 1) for k, v in {**figures, **halted}.items()},
                      "first_screen_s": round(first, 3), "floor_first_screen_s": round(floor, 3)}))


if __name__ == "__main__":
    main()

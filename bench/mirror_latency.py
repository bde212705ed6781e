"""The reviewer's mirror: how soon it shows what the operator's session just did, and what
ten mirrors cost the operator.

An operator runs a headless session of steps that print time-stamped lines. A plain mirror
(`cockpit mirror --plain --from-start`, a separate process) follows it; for every output line
and every event, the delay from its writing (the stamp in the line, the event's own time) to
the mirror printing it is measured. The screen mirror (MirrorApp, headless, in this process)
is measured the same way: a line counts as on screen when the log pane is given it, an event
when the panes have been redrawn from it, each plus one 60 Hz frame. Then the same run is
timed with no mirror, with ten plain mirrors, with ten screen mirrors watching, and with the
floor under any screen mirror (ten bare Textual apps, no cockpit code, each drawing two lines
in a Log at the mirror's pace and priority, reading nothing): the operator's session is open
and every mirror has drawn it before the timed steps start (a first step waits for a "go"
file). Each is run three times, interleaved, and the median kept. Once more, ten screen
mirrors that open just as the run starts (their first drawing falls into it) are timed
against a run alone. The last line is one JSON object.

`--feed-gap SECONDS` runs it with another gap between the screen mirror's log-pane feeds
(default: the mirror's own, FEED_GAP_S), for the curve of line delay against cost.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.engine.helpers import phase, write_world  # noqa: E402

STEP = "for n in $(seq 1 100); do echo \"$(date +%s.%N) line $n\"; sleep 0.02; done"
STEPS = [(f"s{i}", STEP) for i in range(4)]


def cockpit(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cockpit", *args], cwd=REPO, text=True,
                            **kwargs)


from cockpit.tui.mirror_follow import FEED_GAP_S  # noqa: E402  (--feed-gap overrides)

FRAME_S = 1 / 60  # what a terminal adds after the widget has it: one frame at most
SCREEN_MIRROR = """
import asyncio, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from cockpit.mirror.priority import yield_to_operator
from cockpit.mirror.source import MirrorSource
from cockpit.tui import mirror_follow
from cockpit.tui.mirror_app import MirrorApp
mirror_follow.FEED_GAP_S = {feed_gap!r}
yield_to_operator()  # as `cockpit mirror` does
session = Path(sys.argv[1])  # waits for the session; prints "watching" once drawn
while not (session / "runbook.toml").exists() or not (session / "events.jsonl").exists() \
        or not (session / "events.jsonl").stat().st_size:
    time.sleep(0.02)
async def main():
    source = MirrorSource(session)
    app = MirrorApp(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        print("watching", flush=True)
        while not source.state.ended:
            await asyncio.sleep(0.5)
        print("ended", flush=True)
asyncio.run(main())
"""


# The floor under any screen mirror: a bare Textual app (no cockpit code, nothing read) whose
# one Log is given two lines every FEED_GAP_S, at the mirror's priority, until "done" exists.
FLOOR_MIRROR = """
import asyncio, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from cockpit.mirror.priority import yield_to_operator
from textual.app import App
from textual.containers import Horizontal
from textual.widgets import Log, Static
yield_to_operator()
done = Path(sys.argv[1]) / "done"
class Floor(App):
    CSS = "#left {{ width: 54; }}"
    def compose(self):
        yield Static("header\\n" * 12)
        yield Horizontal(Static("checklist", id="left"), Log(id="log"))
async def main():
    app = Floor()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        print("watching", flush=True)
        log, n = app.query_one(Log), 0
        while not done.exists():
            log.write_lines([f"{{time.time():.6f}} INFO line {{n + i}}" for i in range(2)])
            n += 2
            await asyncio.sleep({feed_gap!r})
asyncio.run(main())
"""


GO = "while [ ! -e {go} ]; do sleep 0.01; done"  # the operator's first step: wait for "go"


def operator_run(base: Path, name: str, mirrors: int, screen: bool = False,
                 settled: bool = True, floor: bool = False) -> tuple[float, list[float]]:
    """Wall time of the operator's run, and the delays the first mirror saw. Settled: the
    operator's session is open and every mirror has drawn it before the timed steps start
    (the run is timed from "go" to the operator's exit). Otherwise the mirrors wait for the
    session and open as the operator's run starts (timed from its start)."""
    world = base / name
    world.mkdir()
    go = world / "go"
    runbook = write_world(world, [phase("P0", ([("go", GO.format(go=go))] if settled else [])
                                        + STEPS)])
    session = world / "session"
    command = [sys.executable, "-m", "cockpit", "run", str(runbook), "--headless",
               "--assume-yes", "--session", str(session)]
    operator = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) if settled else None
    delays: list[float] = []
    if screen or floor:
        code = (FLOOR_MIRROR if floor else SCREEN_MIRROR).format(repo=str(REPO),
                                                                feed_gap=FEED_GAP_S)
        followers = [subprocess.Popen([sys.executable, "-c", code,
                                       str(world if floor else session)], cwd=REPO,
                                      text=True, stdout=subprocess.PIPE)
                     for _ in range(mirrors)]
    else:
        if settled:
            while not (session / "events.jsonl").exists():
                time.sleep(0.01)
        followers = [cockpit("mirror", str(session), "--plain", "--from-start", "--wait", "60",
                             stdout=subprocess.PIPE) for _ in range(mirrors)]
    ready = [threading.Event() for _ in followers]

    def read(proc: subprocess.Popen[str], keep: bool, up: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen = time.time()
            up.set()  # a plain mirror's first line, a screen mirror's "watching"
            if keep and line.startswith("[") and " line " in line:
                delays.append(seen - float(line.split()[1]))

    threads = [threading.Thread(target=read, args=(p, i == 0, ready[i]))
               for i, p in enumerate(followers)]
    for thread in threads:
        thread.start()
    if settled:
        assert all(up.wait(120) for up in ready), "a mirror did not open"
        time.sleep(1 if mirrors else 2)
        started = time.monotonic()
        go.touch()
    else:
        time.sleep(3 if mirrors else 0)  # the mirrors are up, waiting for the session
        started = time.monotonic()
        operator = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
    _, err = operator.communicate()
    wall = time.monotonic() - started
    assert operator.returncode == 0, err
    (world / "done").touch()  # the floor's apps end on it; mirrors end with the session
    for proc in followers:
        proc.wait(60)
    for thread in threads:
        thread.join(10)
    return wall, delays


def event_delays(base: Path) -> list[float]:
    """Delay from an event's own time to a mirror printing it."""
    world = base / "events"
    world.mkdir()
    runbook = write_world(world, [phase("P0", STEPS[:2])])
    session = world / "session"
    follower = cockpit("mirror", str(session), "--plain", "--from-start", "--wait", "60",
                       stdout=subprocess.PIPE)
    delays: list[float] = []

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            seen = time.time()
            if not line.startswith("[") and line[:2].isdigit():  # "HH:MM:SS.mmm" in UTC
                printed = datetime.strptime(line[:12], "%H:%M:%S.%f").time()
                stamp = datetime.combine(datetime.now(UTC).date(), printed, tzinfo=UTC)
                delays.append(seen - stamp.timestamp())

    thread = threading.Thread(target=read)
    thread.start()
    subprocess.run([sys.executable, "-m", "cockpit", "run", str(runbook), "--headless",
                    "--assume-yes", "--session", str(session)], cwd=REPO, capture_output=True)
    follower.wait(60)
    thread.join(10)
    return delays


def screen_delays(base: Path) -> tuple[list[float], list[float]]:
    """The screen mirror, in this process: (line delays, event delays)."""
    import asyncio

    from cockpit.mirror.source import MirrorSource
    from cockpit.tui import mirror_follow
    from cockpit.tui.mirror_app import MirrorApp

    mirror_follow.FEED_GAP_S = FEED_GAP_S

    world = base / "screen"
    world.mkdir()
    runbook = write_world(world, [phase("P0", STEPS)])
    session = world / "session"
    operator = subprocess.Popen([sys.executable, "-m", "cockpit", "run", str(runbook),
                                 "--headless", "--assume-yes", "--session", str(session)],
                                cwd=REPO, stdout=subprocess.DEVNULL)
    while not (session / "runbook.toml").exists() or not (session / "events.jsonl").exists():
        time.sleep(0.01)
    time.sleep(0.3)  # the session's first events, before the mirror opens
    lines: list[float] = []
    events: list[float] = []

    async def watch() -> None:
        source = MirrorSource(session)
        app = MirrorApp(source)
        pending: list[float] = []  # event times taken in, not yet drawn
        source.listeners.append(lambda event: pending.append(
            datetime.fromisoformat(event.ts.replace("Z", "+00:00")).timestamp()))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            pending.clear()  # appended while the mirror was starting: not a follow delay
            pane = app.query_one("#output")
            write_lines = pane.write_lines

            def on_screen(new: list[str], **kw: object) -> object:
                now = time.time() + FRAME_S
                lines.extend(now - float(line.split()[0]) for line in new if " line " in line)
                return write_lines(new, **kw)

            def drawn() -> None:
                now = time.time() + FRAME_S
                events.extend(now - stamp for stamp in pending)
                pending.clear()

            pane.write_lines = on_screen
            app.mirror.after_refresh = drawn
            while not source.state.ended:
                await pilot.pause(0.05)

    asyncio.run(watch())
    operator.wait(60)
    return lines, events


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


RUNS = 3  # each timed run is repeated, interleaved, and its median taken


def pct(slower: float, base: float) -> float:
    return round((slower / base - 1) * 100, 1)


def main() -> None:
    global FEED_GAP_S
    if len(sys.argv) > 2 and sys.argv[1] == "--feed-gap":  # for the curve: gap vs cost
        FEED_GAP_S = float(sys.argv[2])
    configs = {"alone": {"mirrors": 0}, "plain": {"mirrors": 10},
               "screens": {"mirrors": 10, "screen": True},
               "floor": {"mirrors": 10, "floor": True}}
    walls: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-mirror-") as tmp:
        base = Path(tmp)
        for i in range(RUNS):
            for name, how in configs.items():
                walls[name].append(operator_run(base, f"{name}{i}", **how)[0])  # type: ignore[arg-type]
        cold_alone, _ = operator_run(base, "cold-alone", 0, settled=False)
        cold_screens, _ = operator_run(base, "cold-screens", 10, screen=True, settled=False)
        _, line_delays = operator_run(base, "one", 1)
        ev_delays = event_delays(base)
        screen_lines, screen_events = screen_delays(base)
    alone, crowded, screens, floor = (statistics.median(walls[n]) for n in configs)
    print(f"output lines: {len(line_delays)} seen; delay p50 "
          f"{statistics.median(line_delays) * 1000:.0f} ms, p95 {p95(line_delays) * 1000:.0f} ms"
          " (target p95 < 250 ms)")
    print(f"events: {len(ev_delays)} seen; delay p50 {statistics.median(ev_delays) * 1000:.0f} "
          f"ms, p95 {p95(ev_delays) * 1000:.0f} ms")
    print(f"screen mirror: {len(screen_lines)} lines, p50 "
          f"{statistics.median(screen_lines) * 1000:.0f} ms, p95 "
          f"{p95(screen_lines) * 1000:.0f} ms; {len(screen_events)} events, p50 "
          f"{statistics.median(screen_events) * 1000:.0f} ms, p95 "
          f"{p95(screen_events) * 1000:.0f} ms (target p95 < 250 ms)")
    for name in configs:
        print(f"  {name}: " + ", ".join(f"{w:.2f} s" for w in walls[name]))
    print(f"operator's steps, median of {RUNS}: alone {alone:.2f} s; with ten plain mirrors "
          f"watching {crowded:.2f} s ({pct(crowded, alone):+.1f} %); with ten screen mirrors "
          f"watching {screens:.2f} s ({pct(screens, alone):+.1f} %) (target <= 3 %)")
    print(f"the floor: ten bare Textual apps, a Log given two lines every {FEED_GAP_S} s and "
          f"nothing read: {floor:.2f} s ({pct(floor, alone):+.1f} %)")
    print(f"ten screen mirrors opening as the run starts (once): {cold_screens:.2f} s against "
          f"{cold_alone:.2f} s alone ({pct(cold_screens, cold_alone):+.1f} %)")
    print(json.dumps({
        "feed_gap_s": FEED_GAP_S,
        "line_p50_ms": round(statistics.median(line_delays) * 1000, 1),
        "line_p95_ms": round(p95(line_delays) * 1000, 1), "lines": len(line_delays),
        "event_p50_ms": round(statistics.median(ev_delays) * 1000, 1),
        "event_p95_ms": round(p95(ev_delays) * 1000, 1), "events": len(ev_delays),
        "screen_line_p50_ms": round(statistics.median(screen_lines) * 1000, 1),
        "screen_line_p95_ms": round(p95(screen_lines) * 1000, 1),
        "screen_event_p50_ms": round(statistics.median(screen_events) * 1000, 1),
        "screen_event_p95_ms": round(p95(screen_events) * 1000, 1),
        "operator_alone_s": round(alone, 3), "operator_ten_mirrors_s": round(crowded, 3),
        "slowdown_pct": pct(crowded, alone),
        "operator_ten_screen_mirrors_s": round(screens, 3),
        "screen_slowdown_pct": pct(screens, alone),
        "operator_ten_floor_apps_s": round(floor, 3), "floor_slowdown_pct": pct(floor, alone),
        "opening_alone_s": round(cold_alone, 3),
        "opening_ten_screen_mirrors_s": round(cold_screens, 3),
        "opening_screen_slowdown_pct": pct(cold_screens, cold_alone)}))


if __name__ == "__main__":
    main()

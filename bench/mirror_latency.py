"""The reviewer's mirror: how soon it shows what the operator's session just did, and what
ten mirrors cost the operator.

An operator runs a headless session of steps that print time-stamped lines. A plain mirror
(`cockpit mirror --plain --from-start`, a separate process) follows it; for every output line
and every event, the delay from its writing (the stamp in the line, the event's own time) to
the mirror printing it is measured. Then the same run is timed with no mirror and with ten
mirrors at once (started, and waiting, before the operator starts). The last line is one
JSON object.
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


def operator_run(base: Path, name: str, mirrors: int) -> tuple[float, list[float]]:
    """Wall time of the operator's run, and the delays one mirror saw."""
    world = base / name
    world.mkdir()
    runbook = write_world(world, [phase("P0", STEPS)])
    session = world / "session"
    delays: list[float] = []
    followers = [cockpit("mirror", str(session), "--plain", "--from-start",
                         stdout=subprocess.PIPE) for _ in range(mirrors)]

    def read(proc: subprocess.Popen[str], keep: bool) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen = time.time()
            if not keep:
                continue
            if line.startswith("[") and " line " in line:
                delays.append(seen - float(line.split()[1]))

    threads = [threading.Thread(target=read, args=(p, i == 0)) for i, p in enumerate(followers)]
    for thread in threads:
        thread.start()
    time.sleep(3 if mirrors else 0)  # let the mirrors start (and wait for the session) first
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cockpit", "run", str(runbook), "--headless",
                           "--assume-yes", "--session", str(session)], cwd=REPO,
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
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
    follower = cockpit("mirror", str(session), "--plain", "--from-start",
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


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-mirror-") as tmp:
        base = Path(tmp)
        alone, _ = operator_run(base, "alone", 0)
        _, line_delays = operator_run(base, "one", 1)
        crowded, _ = operator_run(base, "ten", 10)
        ev_delays = event_delays(base)
    slowdown = crowded / alone - 1
    print(f"output lines: {len(line_delays)} seen; delay p50 "
          f"{statistics.median(line_delays) * 1000:.0f} ms, p95 {p95(line_delays) * 1000:.0f} ms"
          " (target p95 < 250 ms)")
    print(f"events: {len(ev_delays)} seen; delay p50 {statistics.median(ev_delays) * 1000:.0f} "
          f"ms, p95 {p95(ev_delays) * 1000:.0f} ms")
    print(f"operator run alone {alone:.2f} s, with ten mirrors {crowded:.2f} s: "
          f"{slowdown * 100:+.1f} % (target < 5 %)")
    print(json.dumps({
        "line_p50_ms": round(statistics.median(line_delays) * 1000, 1),
        "line_p95_ms": round(p95(line_delays) * 1000, 1), "lines": len(line_delays),
        "event_p50_ms": round(statistics.median(ev_delays) * 1000, 1),
        "event_p95_ms": round(p95(ev_delays) * 1000, 1), "events": len(ev_delays),
        "operator_alone_s": round(alone, 3), "operator_ten_mirrors_s": round(crowded, 3),
        "slowdown_pct": round(slowdown * 100, 1)}))


if __name__ == "__main__":
    main()

"""`cockpit status` and `cockpit verify` on a session of 100,000 events, wall time of each.

The session is built by a real controller and then lengthened: a runbook with a gate and a
read-only check step; after a real start, attestation and one real run of the step, events
are appended with the store's own event maker, the hash chain intact — mostly gate
re-evaluations (what a long cutover's most frequent event is), and one step run per 50
events with its log and exit record on disk (2,000 logs to hash), as a session hours long
might hold. Each command runs as the user runs it (`python -m cockpit ...`, a fresh process),
three times; the median is reported. Target: each < 1 s. The last line is one JSON object.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.engine.controller import Controller
from cockpit.session import events as ev
from cockpit.session.events import make_event
from cockpit.session.state import fold
from cockpit.session.store import read_event_log
from tests.engine.helpers import phase, write_world
from tests.waiting import finish_running

EVENTS = 100_000
STEP_EVERY = 50  # one run of the step per this many events
REPEAT = 3


def build(root: Path) -> Path:
    runbook = write_world(root, [phase("P0", [("probe", "echo probe ok")])])
    ctl = Controller.start(runbook, folder=root / "session", env=dict(os.environ),
                           halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    ctl.run_step("probe")
    finish_running(ctl)
    ctl.close()
    folder = ctl.folder
    events = list(ctl.store.events)
    gate = next(e for e in events if e.type == ev.GATE_EVALUATED)
    # the real run's events, as templates: what the engine writes, key for key
    start_data = next(e for e in events if e.type == ev.STEP_STARTED).data
    finish_data = next(e for e in events if e.type == ev.STEP_FINISHED).data
    actor, prev, seq = events[-1].actor, events[-1].hash, events[-1].seq
    lines: list[bytes] = []
    steps = folder / "steps"
    run = 0
    while seq < EVENTS:
        seq += 1
        if seq % STEP_EVERY == 0 and seq + 1 <= EVENTS:
            run += 1
            name = f"probe.{run + 1}"  # probe.1 is the real run
            body = f"probe ok {run}\n".encode()
            (steps / f"{name}.log").write_bytes(body)
            sha = hashlib.sha256(body).hexdigest()
            (steps / f"{name}.exit.json").write_text(json.dumps({"sha256": sha}))
            started = make_event(seq, actor, ev.STEP_STARTED, {
                **start_data, "run": name, "log": f"steps/{name}.log", "published": None},
                prev)
            seq += 1
            finished = make_event(seq, actor, ev.STEP_FINISHED, {
                **finish_data, "run": name, "bytes": len(body), "sha256": sha}, started.hash)
            lines += [started.line(), finished.line()]
            prev = finished.hash
        else:
            event = make_event(seq, actor, ev.GATE_EVALUATED, gate.data, prev)
            lines.append(event.line())
            prev = event.hash
    with open(folder / "events.jsonl", "ab") as handle:
        handle.write(b"".join(lines))
    # as the operator's cockpit leaves it: session.json, the state after the last event
    state = fold(read_event_log(folder / "events.jsonl").events)
    (folder / "session.json").write_text(state.model_dump_json(indent=2))
    return folder


def timed(*args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    return wall, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-resume-") as tmp:
        folder = build(Path(tmp))
        size = (folder / "events.jsonl").stat().st_size
        count = (folder / "events.jsonl").read_bytes().count(b"\n")
        status = [timed("status", str(folder))[0] for _ in range(REPEAT)]
        verify = [timed("verify", str(folder)) for _ in range(REPEAT)]
        assert "verify: ok" in verify[0][1], verify[0][1]
        baseline = [timed("--help")[0] for _ in range(REPEAT)]
    figures = {"events": count, "events_mb": round(size / 1e6, 1),
               "status_s": round(statistics.median(status), 3),
               "verify_s": round(statistics.median([v[0] for v in verify]), 3),
               "python_start_s": round(statistics.median(baseline), 3), "target_s": 1.0}
    print(f"session of {count:,} events ({size / 1e6:.1f} MB), {count // STEP_EVERY:,} logs")
    print(f"  cockpit status: {figures['status_s']:.2f} s (median of {REPEAT})")
    print(f"  cockpit verify: {figures['verify_s']:.2f} s (median of {REPEAT})")
    print(f"  cockpit --help (start-up alone): {figures['python_start_s']:.2f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

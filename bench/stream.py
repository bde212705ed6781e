"""Streaming throughput of the step supervisor (redaction + abort scan + log write).

A Python child prints 1,000,000 Alembic-like lines (~170 MB). The same child runs twice in
go, three times: piped through `tee` into a file (the baseline), and under the supervisor
with the reference runbook's five abort rules and a registered secret; the median ratio is
the figure (target <= 1.10). Then, for information, `cat` of a file of the same size (the
raw pipe limit) both ways, and what each part of the supervisor's work costs per MB
(chunking, hashing, the combined scan, and redaction and the abort rules each alone).
The last line is one JSON object.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit.engine.launcher import write_spec
from cockpit.engine.linestats import LineStats
from cockpit.engine.supervisor import MATCHED_LINE_LIMIT, SECRETS_ENV, StepRun
from cockpit.runbook.abort_library import LIBRARY
from cockpit.session.runfiles import RunFiles

LINES = 1_000_000
REPEAT = 3
CHILD = f"""
line = ("INFO  [alembic.runtime.migration] Running upgrade 0019_nav_snapshots_and_investor_"
        "statements -> 0020_covenant_flags, backfill batch %07d of {LINES}: rows=1000 ok")
for i in range({LINES}):
    print(line % i)
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True)
    return time.perf_counter() - start


def supervised(command: str, folder: Path, log: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds of the supervisor running `command`, and its own peak RSS in KiB."""
    files = RunFiles(folder, f"bench-{log.stem}")
    write_spec(files, {"step": "bench", "command": command, "cwd": str(folder), "log": str(log),
                       "rules": [r.model_dump() for r in LIBRARY], "grace": 5.0})
    env = {**env, SECRETS_ENV: json.dumps(["n0t-in-the-output-s3cret"])}
    # /usr/bin/time reports the supervisor's own peak RSS (the child is a separate process).
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m",
                           "cockpit.engine.supervisor", str(files.spec)],
                          env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    record = files.exit_record()
    assert record is not None and record["lines"] == LINES, record
    return wall, int(done.stderr.strip().splitlines()[-1])


def parts(data: bytes) -> dict[str, float]:
    """Milliseconds per MB of each thing the supervisor does to its output, in this
    process, over 64 KiB blocks of the same lines (what one pipe read gives)."""
    from cockpit.engine.abort import AbortScanner
    from cockpit.session.redact import Redactor

    blocks = [data[i : i + (1 << 16)] for i in range(0, len(data), 1 << 16)]
    rules = [r.model_dump() for r in LIBRARY]
    scanner, redactor = AbortScanner(rules), Redactor(["n0t-in-the-output-s3cret"])
    quick = StepRun({"rules": rules}, ["n0t-in-the-output-s3cret"]).quick
    assert quick is not None
    stats = LineStats(MATCHED_LINE_LIMIT)  # the line count and last line the record gives
    steps = {
        "chunking (cut at the last newline)": lambda b: (b[: b.rfind(b"\n") + 1],
                                                          b[b.rfind(b"\n") + 1 :]),
        "sha256 and line count": lambda b: (hashlib.sha256(b), stats.take(b)),
        "combined scan (secrets + rules, one pass)": lambda b: quick.search(b),
        "redaction alone": redactor.redact,
        "abort rules alone": scanner.search,
    }
    costs = {}
    for name, step in steps.items():
        start = time.perf_counter()
        for block in blocks:
            step(block)
        costs[name] = (time.perf_counter() - start) / (len(data) / 1e6) * 1000
    return costs


def main() -> None:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        folder = Path(tmp)
        child = folder / "child.py"
        child.write_text(CHILD)
        run_child = shlex.join([sys.executable, str(child)])
        tee = shlex.quote(str(folder / "tee.log"))
        ratios, tee_walls, sup_walls, peaks = [], [], [], []
        for attempt in range(REPEAT):  # tee and supervisor in turn, the median of the ratios
            tee_wall = timed(["sh", "-c", f"{run_child} | tee {tee} > /dev/null"], env)
            log = folder / f"sup{attempt}.log"
            sup_wall, sup_peak = supervised(run_child, folder, log, env)
            assert log.read_bytes() == (folder / "tee.log").read_bytes()
            ratios.append(sup_wall / tee_wall)
            tee_walls.append(tee_wall)
            sup_walls.append(sup_wall)
            peaks.append(sup_peak)
            log.unlink()
        size = (folder / "tee.log").stat().st_size
        big = folder / "tee.log"
        cat = f"cat {shlex.quote(str(big))}"
        cat_tee = timed(["sh", "-c", f"{cat} | tee {shlex.quote(str(folder / 'cat-tee.log'))}"
                         " > /dev/null"], env)
        cat_sup, cat_peak = supervised(cat, folder, folder / "cat.log", env)
        costs = parts(big.read_bytes()[: 32 << 20])
    ratio = statistics.median(ratios)
    print(f"python child, {LINES:,} lines, {size / 1e6:.0f} MB, {REPEAT} runs each")
    print(f"  through tee:        {statistics.median(tee_walls):6.2f} s (median)")
    print(f"  through supervisor: {statistics.median(sup_walls):6.2f} s (median)")
    print(f"  ratio per run {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} "
          "(target <= 1.10)")
    print(f"  supervisor peak RSS {max(peaks) / 1024:.1f} MiB (target < 64)")
    print(f"cat of the {size / 1e6:.0f} MB file (raw pipe limit, for information)")
    print(f"  through tee:        {cat_tee:6.2f} s")
    print(f"  through supervisor: {cat_sup:6.2f} s   ratio {cat_sup / cat_tee:.2f}, "
          f"peak {cat_peak / 1024:.1f} MiB")
    print("what the supervisor does per MB of output (64 KiB blocks, in-process):")
    for name, cost in costs.items():
        print(f"  {name:<44} {cost:5.2f} ms/MB")
    print(json.dumps({
        "lines": LINES, "bytes": size, "tee_s": round(statistics.median(tee_walls), 3),
        "supervisor_s": round(statistics.median(sup_walls), 3), "ratio": round(ratio, 3),
        "ratios": [round(r, 3) for r in ratios],
        "supervisor_peak_mib": round(max(peaks) / 1024, 1),
        "cat_tee_s": round(cat_tee, 3), "cat_supervisor_s": round(cat_sup, 3),
        "cat_ratio": round(cat_sup / cat_tee, 3), "cat_peak_mib": round(cat_peak / 1024, 1),
        "ms_per_mb": {name.split(" (")[0]: round(cost, 2) for name, cost in costs.items()},
    }))


if __name__ == "__main__":
    main()

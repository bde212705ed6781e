"""Streaming throughput of the step supervisor (redaction + abort scan + log write).

A Python child prints 1,000,000 Alembic-like lines (~170 MB). The same child runs twice in
one go: piped through `tee` into a file (the baseline), and under the supervisor with the
reference runbook's five abort rules and a registered secret. Then, for information, `cat` of
a file of the same size (the raw pipe limit) both ways. Prints the wall-time ratio and the
supervisor's peak memory; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit.engine.launcher import write_spec
from cockpit.engine.supervisor import SECRETS_ENV
from cockpit.runbook.abort_library import LIBRARY
from cockpit.session.runfiles import RunFiles

LINES = 1_000_000
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


def main() -> None:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        folder = Path(tmp)
        child = folder / "child.py"
        child.write_text(CHILD)
        run_child = shlex.join([sys.executable, str(child)])
        tee = shlex.quote(str(folder / "tee.log"))
        tee_wall = timed(["sh", "-c", f"{run_child} | tee {tee} > /dev/null"], env)
        size = (folder / "tee.log").stat().st_size
        sup_wall, sup_peak = supervised(run_child, folder, folder / "sup.log", env)
        assert (folder / "sup.log").read_bytes() == (folder / "tee.log").read_bytes()
        big = folder / "tee.log"
        cat = f"cat {shlex.quote(str(big))}"
        cat_tee = timed(["sh", "-c", f"{cat} | tee {shlex.quote(str(folder / 'cat-tee.log'))}"
                         " > /dev/null"], env)
        cat_sup, cat_peak = supervised(cat, folder, folder / "cat.log", env)
    ratio = sup_wall / tee_wall
    print(f"python child, {LINES:,} lines, {size / 1e6:.0f} MB")
    print(f"  through tee:        {tee_wall:6.2f} s")
    print(f"  through supervisor: {sup_wall:6.2f} s   ratio {ratio:.2f} (target <= 1.30)")
    print(f"  supervisor peak RSS {sup_peak / 1024:.1f} MiB (target < 64)")
    print(f"cat of the {size / 1e6:.0f} MB file (raw pipe limit, for information)")
    print(f"  through tee:        {cat_tee:6.2f} s")
    print(f"  through supervisor: {cat_sup:6.2f} s   ratio {cat_sup / cat_tee:.2f}, "
          f"peak {cat_peak / 1024:.1f} MiB")
    print(json.dumps({
        "lines": LINES, "bytes": size, "tee_s": round(tee_wall, 3),
        "supervisor_s": round(sup_wall, 3), "ratio": round(ratio, 3),
        "supervisor_peak_mib": round(sup_peak / 1024, 1),
        "cat_tee_s": round(cat_tee, 3), "cat_supervisor_s": round(cat_sup, 3),
        "cat_ratio": round(cat_sup / cat_tee, 3), "cat_peak_mib": round(cat_peak / 1024, 1),
    }))


if __name__ == "__main__":
    main()

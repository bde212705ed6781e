"""How long `cockpit demo --headless` takes to run the whole reference cutover to PASS on a
fresh rehearsal world (target: under 30 s on a 2-core machine). Three runs; prints each and
the median; the last line is one JSON object."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 3


def main() -> None:
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-demo-") as tmp:
        for index in range(RUNS):
            session = Path(tmp) / f"s{index}"
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "cockpit", "demo", "--headless",
                                   "--session", str(session)], capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if done.returncode != 0 or "DECISION: PASS" not in done.stdout:
                raise SystemExit(f"run {index} did not PASS:\n{done.stdout[-2000:]}")
            times.append(elapsed)
            print(f"run {index + 1}: PASS in {elapsed:.1f} s")
    median = statistics.median(times)
    print(f"median {median:.1f} s (target < 30 s)")
    print(json.dumps({"runs_s": [round(t, 2) for t in times], "median_s": round(median, 2),
                      "target_s": 30}))


if __name__ == "__main__":
    main()

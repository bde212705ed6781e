"""How fast `cockpit --help` and each subcommand's `--help` answer (target: < 0.5 s).

Runs the installed console script (as a user types it) five times per command and prints the
median and worst wall time; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = ["", "render", "validate", "import", "demo", "run", "resume", "status", "verify",
            "report", "snapshot", "preview"]


def main() -> None:
    script = shutil.which("cockpit") or str(Path(sys.executable).parent / "cockpit")
    figures: dict[str, dict[str, float]] = {}
    for command in COMMANDS:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([script, *([command] if command else []), "--help"], check=True,
                           stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        name = f"cockpit {command} --help".replace("  ", " ")
        figures[name] = {"median_s": round(statistics.median(times), 3),
                         "max_s": round(max(times), 3)}
        median, worst = figures[name]["median_s"], figures[name]["max_s"]
        print(f"{name:<28} median {median:.3f} s   max {worst:.3f} s")
    worst = max(f["max_s"] for f in figures.values())
    print(json.dumps({"help_seconds": figures, "worst_s": worst, "target_s": 0.5}))


if __name__ == "__main__":
    main()

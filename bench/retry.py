"""A lock-timeout retry's figures, on the embedded PostgreSQL, through the real cockpit.

An application session holds ACCESS EXCLUSIVE on the table an `alembic upgrade` alters; the
step (lock_timeout 1 s; retry: 6 attempts, 1 s first delay, 1 s cap) fails on its lock
timeout and is tried again until the lock is let go, 2.5 s after the step started. Per run,
from the session's events:

- decide: from the failed run's end (its exit record) to the retry's record — reading the
  revisions back and rendering the path's offline SQL for a partial change;
- overhead: from the wait's end (the record's due time) to the next attempt's start;
- release -> next attempt: from the lock's release to the start of the attempt after it
  (bounded by the cap, 1 s, plus the overhead);
- release -> PASS: to the passing attempt's end.

Each run is a fresh `python -m cockpit run ... --headless` process, as the operator runs it.
Medians and worst over five runs; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.pginstall import embedded_bin_dir, runnable_bin_dir, server_user
from tests.engine.test_lock_retry import ADD_COLUMN, project
from tests.run import COCKPIT

RUNS = 5
HOLD_S = 2.5


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def one_run(root: Path, cluster: PgCluster) -> dict[str, float]:
    runbook, env = project(root, cluster, ADD_COLUMN,
                           'on = "lock-timeout", attempts = 6, first_delay = "1s", cap = "1s"')
    session = root / "s"
    released: list[float] = []
    with psycopg.connect(env["PG_TEST"], application_name="billing-worker") as holder:
        holder.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        run = subprocess.Popen([*COCKPIT, "run", str(runbook), "--headless", "--assume-yes",
                                "--session", str(session)], env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        events = session / "events.jsonl"
        while not (events.exists() and b'"step_started"' in events.read_bytes()):
            time.sleep(0.02)
        timer = threading.Timer(HOLD_S, lambda: (holder.rollback(), released.append(
            time.time())))
        timer.start()
        code = run.wait(120)
        timer.join()
    assert code == 0, f"the run ended {code}"
    return _figures(session, released[0])


def _figures(session: Path, released: float) -> dict[str, float]:
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    started = [(_at(e["ts"]), e["data"]) for e in events if e["type"] == "step_started"]
    finished = [e["data"] for e in events if e["type"] == "step_finished"]
    scheduled = [(_at(e["ts"]), e["data"]) for e in events if e["type"] == "retry_scheduled"]
    decide = [at - _at(f["ended_at"]) for (at, _s), f in zip(scheduled, finished, strict=False)]
    overhead = [start - _at(s["due_at"])
                for (_at_s, s), (start, _d) in zip(scheduled, started[1:], strict=True)]
    after = [start for start, _d in started if start >= released]
    return {"attempts": len(started), "decide_s": max(decide), "overhead_s": max(overhead),
            "release_to_attempt_s": after[0] - released,
            "release_to_pass_s": _at(finished[-1]["ended_at"]) - released}


def main() -> None:
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-retry-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the server runs as another user when this is root
        bin_dir = runnable_bin_dir(embedded_bin_dir(), server_user(), root / "bin")
        cluster = PgCluster(root=root / "pg", bin_dir=bin_dir)
        cluster.init()
        cluster.start()
        try:
            for number in range(RUNS):
                (root / f"run{number}").mkdir()
                runs.append(one_run(root / f"run{number}", cluster))
        finally:
            cluster.destroy()
    figures: dict[str, Any] = {"runs": RUNS, "hold_s": HOLD_S,
                               "attempts_median": statistics.median(r["attempts"] for r in runs)}
    for key in ("decide_s", "overhead_s", "release_to_attempt_s", "release_to_pass_s"):
        values = [r[key] for r in runs]
        figures[f"{key[:-2]}_median_s"] = round(statistics.median(values), 3)
        figures[f"{key[:-2]}_max_s"] = round(max(values), 3)
    print(f"decide (a run's end -> its retry recorded): median {figures['decide_median_s']} s, "
          f"max {figures['decide_max_s']} s")
    print(f"overhead (the wait's end -> the next attempt's start): median "
          f"{figures['overhead_median_s']} s, max {figures['overhead_max_s']} s")
    print(f"the lock's release -> the next attempt: median "
          f"{figures['release_to_attempt_median_s']} s, max "
          f"{figures['release_to_attempt_max_s']} s (cap 1 s)")
    print(f"the lock's release -> PASS: median {figures['release_to_pass_median_s']} s; "
          f"{figures['attempts_median']} attempts (median), {RUNS} runs")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

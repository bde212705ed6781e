"""The lock radar's figures, on the embedded PostgreSQL, through the real cockpit.

1. Its cost to the database: one sample's wall time (median of 200) and the
   queries a second it issues (one sample a second: two queries when the step has a
   session); the watcher process's CPU ms per second over a run.
2. Its effect on a changing step's duration: the same command run as a changing step
   (watched) and as `read_only` (no watcher), alternately, five times each; median ratio.
3. How fast a `lock_queue` rule acts: a step takes ACCESS EXCLUSIVE and holds it; four
   sessions then queue behind it (the rule: more than 2 waiting, 2 samples). From the
   first sample over the limit to the supervisor's SIGINT, and from the real crossing (the
   third session's query sent) to the SIGINT; p95 over ten runs.
4. The demo's own upgrade step (watched by its runbook's `lock_queue` rule, so the watcher
   starts with it), driven headless: watched and with the watcher switched off,
   alternately, eight times each; median ratio.

Each run is a fresh `python -m cockpit run ... --headless` process, as the operator runs
it. Targets: cost ≤ 2 %, first-sample-to-SIGINT p95 < 0.5 s, crossing-to-SIGINT p95 < 3 s.
The last line is one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.pginstall import embedded_bin_dir, runnable_bin_dir, server_user
from cockpit.demo.session import close_demo, open_demo
from cockpit.engine.headless import Headless, load_answers
from cockpit.engine.steps import StepVerbs
from cockpit.probes.db import connect
from cockpit.probes.radar import sample
from cockpit.resources import bundled_runbook
from tests.engine.helpers import phase, write_world

PY = shlex.quote(sys.executable)
WORK = """
import os, psycopg
conn = psycopg.connect(os.environ["PG_TEST"], autocommit=True)
for i in range(1200):  # a migration's worth of small statements, some 8 s
    conn.execute(f"CREATE TABLE IF NOT EXISTS w{i % 20} (id int)")
    conn.execute(f"INSERT INTO w{i % 20} SELECT generate_series(1, 2000)")
    conn.execute(f"DELETE FROM w{i % 20}")
print("done", flush=True)
"""
HOLD = """
import os, time, psycopg
conn = psycopg.connect(os.environ["PG_TEST"])
conn.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
print("locked", flush=True)
time.sleep(60)
"""
RULE = """
[[abort_rules]]
id = "lock-queue"
label = "Sessions queue behind the migration"
kind = "lock_queue"
max_waiting = 2
samples = 2
"""


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _run(runbook: Path, session: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cockpit", "run", str(runbook), "--headless",
                             "--assume-yes", "--session", str(session)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _events(session: Path) -> list[dict]:
    return [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]


def cost(root: Path, env: dict[str, str], conninfo: str) -> dict[str, float]:
    with connect(env) as conn:
        times = []
        for _ in range(200):
            start = time.perf_counter()
            sample(conn, "cockpit:nothing.1")
            times.append(time.perf_counter() - start)
    ratios, watcher_cpu = [], []
    for attempt in range(5):
        durations = {}
        for read_only in ((False, True) if attempt % 2 == 0 else (True, False)):  # alternate
            with psycopg.connect(conninfo, autocommit=True) as conn:  # the same start each time
                for i in range(20):
                    conn.execute(f"DROP TABLE IF EXISTS w{i}")
                conn.execute("CHECKPOINT")
            world = root / f"cost-{attempt}-{read_only}"
            world.mkdir()
            runbook = write_world(world, [phase("P0", [("work", f"{PY} work.py")],
                                                read_only=read_only)])
            (runbook.parent / "work.py").write_text(WORK)
            proc = _run(runbook, world / "s", env)
            readings: list[tuple[float, float]] = []  # (wall, CPU s) of the watcher
            while proc.poll() is None:  # read while it lives, once its start-up is over
                for child in psutil.process_iter(["cmdline", "create_time"]):
                    with contextlib.suppress(psutil.Error):
                        if ("cockpit.engine.watcher" in " ".join(child.info["cmdline"] or [])
                                and time.time() - child.info["create_time"] > 2.5):
                            cpu = child.cpu_times()
                            readings.append((time.time(), cpu.user + cpu.system))
                time.sleep(0.2)
            finished = next(e["data"] for e in _events(world / "s")
                            if e["type"] == "step_finished")
            started = next(e for e in _events(world / "s") if e["type"] == "step_started")
            durations[read_only] = _stamp(finished["ended_at"]) - _stamp(started["ts"])
            if not read_only and len(readings) >= 2:  # steady state: CPU ms a second
                (t0, c0), (t1, c1) = readings[0], readings[-1]
                watcher_cpu.append(1000 * (c1 - c0) / (t1 - t0))
        ratios.append(durations[False] / durations[True])
    return {"sample_ms_median": round(1000 * statistics.median(times), 2),
            "queries_per_s": 2.0, "watcher_cpu_ms_per_s": round(statistics.median(watcher_cpu), 1),
            "step_duration_ratio": round(statistics.median(ratios), 4)}


def demo_upgrade(root: Path, pairs: int) -> dict[str, float]:
    """The demo's own upgrade step (a `lock_queue` rule watches it, so its watcher starts
    with it), driven headless in this process: watched, and with the watcher's start
    switched off, alternately; the median of the pairs' ratios."""
    answers = load_answers(bundled_runbook("demo-answers.toml"))
    watched_s, unwatched_s, ratios, series = [], [], [], 0
    for attempt in range(pairs):
        durations = {}
        for watched in ((True, False) if attempt % 2 == 0 else (False, True)):
            session = root / f"demo-{attempt}-{watched}"
            with contextlib.ExitStack() as stack:
                if not watched:
                    stack.enter_context(_radar_off())
                world, ctl = open_demo(None, session, root / f"demo-{attempt}-{watched}-w")
                try:
                    assert Headless(ctl, answers, False, lambda _line: None).drive() == 0
                finally:
                    close_demo(world, ctl)
            events = _events(session)
            started = next(e for e in events if e["type"] == "step_started"
                           and e["data"]["step"] == "prod_upgrade_0019_to_head")
            finished = next(e["data"] for e in events if e["type"] == "step_finished"
                            and e["data"]["run"] == started["data"]["run"])
            durations[watched] = _stamp(finished["ended_at"]) - _stamp(started["ts"])
            series += bool(watched and finished.get("radar"))
        watched_s.append(durations[True])
        unwatched_s.append(durations[False])
        ratios.append(durations[True] / durations[False])
    return {"demo_upgrade_watched_median_s": round(statistics.median(watched_s), 3),
            "demo_upgrade_unwatched_median_s": round(statistics.median(unwatched_s), 3),
            "demo_upgrade_ratio": round(statistics.median(ratios), 4),
            "demo_upgrades_with_series": series, "demo_pairs": pairs}


@contextlib.contextmanager
def _radar_off() -> Iterator[None]:
    original = StepVerbs.start_radar_if_due
    StepVerbs.start_radar_if_due = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        StepVerbs.start_radar_if_due = original  # type: ignore[method-assign]


def _wait_behind(conninfo: str, index: int, crossed: list[float],
                 stop: threading.Event) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if index == 2:  # the third waiter: over the limit of 2 from here on
            crossed.append(time.time())
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT count(*) FROM accounts")
        stop.wait(30)


def reaction(root: Path, env: dict[str, str], conninfo: str, runs: int) -> dict[str, float]:
    to_sigint, first_over, crossing = [], [], []
    for attempt in range(runs):
        world = root / f"react-{attempt}"
        world.mkdir()
        runbook = write_world(world, [phase("P0", [("hold", f"{PY} hold.py")])])
        (runbook.parent / "hold.py").write_text(HOLD)
        runbook.write_text(runbook.read_text().replace(
            'log = "logs/hold.log" }', 'log = "logs/hold.log", abort_rules = ["lock-queue"] }')
            + RULE)
        proc = _run(runbook, world / "s", env)
        log = runbook.parent / "logs" / "hold.log"
        while not (log.exists() and "locked" in log.read_text()):
            time.sleep(0.02)
        crossed: list[float] = []
        stop = threading.Event()
        threads = [threading.Thread(target=_wait_behind, args=(conninfo, i, crossed, stop),
                                    daemon=True) for i in range(4)]
        for index, thread in enumerate(threads):
            thread.start()
            if index < 3:
                time.sleep(0.1)
        proc.communicate(timeout=120)
        stop.set()
        finished = next(e["data"] for e in _events(world / "s") if e["type"] == "step_finished")
        sigint = _stamp(finished["abort"]["at"])
        samples = [json.loads(line) for line in
                   (world / "s" / finished["radar"]).read_text().splitlines()]
        over = [i for i, s in enumerate(samples) if s.get("waiting", 0) > 2]
        # the sample that trips the rule: the second in a row over the limit
        tripping = next(i for i in over if i - 1 in over)
        to_sigint.append(sigint - _stamp(samples[tripping]["at"]))
        first_over.append(sigint - _stamp(samples[over[0]]["at"]))
        crossing.append(sigint - crossed[0])
        for thread in threads:
            thread.join(10)
    q = statistics.quantiles
    return {"tripping_sample_to_sigint_p95_s": round(q(to_sigint, n=20)[-1], 3),
            "tripping_sample_to_sigint_median_s": round(statistics.median(to_sigint), 3),
            "first_over_to_sigint_median_s": round(statistics.median(first_over), 3),
            "crossing_to_sigint_p95_s": round(q(crossing, n=20)[-1], 3),
            "crossing_to_sigint_median_s": round(statistics.median(crossing), 3),
            "runs": runs}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-radar-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the server runs as another user when this is root
        bin_dir = runnable_bin_dir(embedded_bin_dir(), server_user(), root / "bin")
        cluster = PgCluster(root=root / "pg", bin_dir=bin_dir)
        cluster.init()
        cluster.start()
        try:
            cluster.create_database("bench")
            conninfo = cluster.socket_conninfo("bench")
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute("CREATE TABLE accounts (id int)")
            env = {"PG_TEST": conninfo, "DATABASE_URL": cluster.socket_url("bench")
                   .render_as_string(hide_password=False)}
            figures = {**cost(root, env, conninfo), **reaction(root, env, conninfo, 10),
                       **demo_upgrade(root, 8)}
        finally:
            cluster.destroy()
    print(f"one sample on the server: {figures['sample_ms_median']} ms (median of 200); "
          f"{figures['queries_per_s']} queries/s; watcher CPU "
          f"{figures['watcher_cpu_ms_per_s']} ms/s")
    print(f"a changing step watched vs not: x{figures['step_duration_ratio']} (median of 5)")
    print(f"the demo's upgrade, watched vs not: x{figures['demo_upgrade_ratio']} (median of "
          f"{figures['demo_pairs']} pairs; {figures['demo_upgrade_watched_median_s']} s vs "
          f"{figures['demo_upgrade_unwatched_median_s']} s; a radar series in "
          f"{figures['demo_upgrades_with_series']} of {figures['demo_pairs']})")
    print(f"the sample that trips the rule -> SIGINT: p95 "
          f"{figures['tripping_sample_to_sigint_p95_s']} s (median "
          f"{figures['tripping_sample_to_sigint_median_s']} s); from the first sample over the "
          f"limit (the rule wants two): median {figures['first_over_to_sigint_median_s']} s")
    print(f"real crossing -> SIGINT: p95 {figures['crossing_to_sigint_p95_s']} s "
          f"(median {figures['crossing_to_sigint_median_s']} s), {figures['runs']} runs")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

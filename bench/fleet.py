"""A fleet of 50 small targets on one machine (issue #33): the same 3-step runbook (two
`alembic current`, one `alembic upgrade head` of two revisions) on 50 tenant databases of
the embedded PostgreSQL behind TLS, dispatched 8 at once, against the same fleet run one
target after another (parallel = 1). Wall time, each target's own time, and peak memory —
of the whole process tree (the fleet, its target cockpits, their supervisors and Alembic),
sampled every 0.2 s, and of the fleet's own process.

    uv run python bench/fleet.py [--targets 50] [--parallel 8]
"""

from __future__ import annotations

import argparse
import contextlib
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

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.pginstall import embedded_bin_dir, runnable_bin_dir, server_user
from cockpit.demo.tls import write_self_signed
from tests.fleet.world import FleetWorld, Server, build_world, database_of
from tests.run import COCKPIT
from tests.tlsproxy import tls_terminator

ONE_WAVE = '[[waves]]\nname = "all"\nrest = true\n'


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # gone meanwhile
            total += proc.memory_info().rss
    return total


def _reset(world: FleetWorld) -> None:
    """Every tenant back before its upgrade: the next run does the same work."""
    for name in world.names:
        with world.server.cluster.admin(database_of(name)) as conn:
            conn.execute("DROP TABLE IF EXISTS accounts, alembic_version")


def _run(world: FleetWorld, parallel: int, folder: Path) -> dict[str, float]:
    targets = world.targets.with_name(f"targets-{parallel}.toml")
    targets.write_text(world.targets.read_text().replace("parallel = 4",
                                                         f"parallel = {parallel}"))
    answers = world.answers.with_name(f"answers-{parallel}.toml")
    sha = subprocess.run(["sha256sum", str(targets)], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    answers.write_text(f'[fleet]\ngo = "GO {sha[:12]}"\n')
    _reset(world)
    started = time.monotonic()
    proc = subprocess.Popen([*COCKPIT, "fleet", "run", "--headless", str(world.runbook),
                             "--targets",
                             str(targets), "--answers", str(answers), "--folder", str(folder)],
                            env=world.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peaks = {"tree": 0, "fleet": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peaks["fleet"] = max(peaks["fleet"], root.memory_info().rss)
                peaks["tree"] = max(peaks["tree"], _tree_rss(root))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"fleet with parallel {parallel} failed ({proc.returncode}): {err}")
    spans = []
    for session in (folder / "targets").iterdir():
        lines = (session / "events.jsonl").read_text().splitlines()
        first, last = json.loads(lines[0])["ts"], json.loads(lines[-1])["ts"]
        spans.append((datetime.fromisoformat(last.replace("Z", "+00:00"))
                      - datetime.fromisoformat(first.replace("Z", "+00:00"))).total_seconds())
    return {"wall_s": round(wall, 2), "target_median_s": round(statistics.median(spans), 2),
            "peak_tree_mb": round(peaks["tree"] / 2**20, 1),
            "peak_fleet_process_mb": round(peaks["fleet"] / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cockpit-bench-fleet-"))
    base.chmod(0o755)
    bin_dir = embedded_bin_dir()
    assert bin_dir is not None
    cluster = PgCluster(root=base / "pg",
                        bin_dir=runnable_bin_dir(bin_dir, server_user(), base / "bin"))
    cluster.init()
    cluster.start()
    write_self_signed(base / "proxy.crt", base / "proxy.key")
    try:
        with tls_terminator(cluster, base / "proxy.crt", base / "proxy.key") as port:
            world = build_world(base / "world", Server(cluster, port), count=args.targets,
                                waves=ONE_WAVE)
            fleet = _run(world, args.parallel, base / "fleet")
            one = _run(world, 1, base / "one-by-one")
    finally:
        cluster.destroy()
    print(f"{args.targets} targets, cores {os.cpu_count()}")
    print(f"fleet, {args.parallel} at once: {fleet['wall_s']} s wall, a target "
          f"{fleet['target_median_s']} s (median), peak memory {fleet['peak_tree_mb']} MB "
          f"(whole tree), the fleet's own process {fleet['peak_fleet_process_mb']} MB")
    print(f"one after another:  {one['wall_s']} s wall, a target {one['target_median_s']} s "
          f"(median), peak memory {one['peak_tree_mb']} MB (whole tree)")
    print(json.dumps({"targets": args.targets, "parallel": args.parallel,
                      "fleet": fleet, "one_by_one": one,
                      "speedup": round(one["wall_s"] / fleet["wall_s"], 2),
                      "memory_ratio": round(fleet["peak_tree_mb"] / one["peak_tree_mb"], 2)}))


if __name__ == "__main__":
    main()

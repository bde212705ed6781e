"""The lock radar in a real run: a step that holds ACCESS EXCLUSIVE while application
sessions queue behind it is stopped by a `lock_queue` rule — SIGINT first, so PostgreSQL
rolls its transaction back — the halt names the queue, and the radar's samples are kept as
evidence that `verify` checks. Against the real embedded PostgreSQL (and the machine's own)."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from tests.engine.helpers import LOCK_QUEUE_RULE, cockpit, phase, sessions_queued, write_world
from tests.run import db_url, start_cockpit
from tests.waiting import wait_until

PY = shlex.quote(sys.executable)
HOLD = """
import os, time, psycopg
conn = psycopg.connect(os.environ["PG_TEST"])
conn.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
# its last query, as pg_stat_activity shows it, quotes the session's secret
conn.execute("SELECT 'radar-secret-9f2' AS quoted")
print("locked", flush=True)
time.sleep(60)
conn.execute("INSERT INTO accounts VALUES (42)")
conn.commit()
print("committed", flush=True)
"""
@pytest.mark.system_slow
def test_a_lock_queue_stops_the_step_rolls_it_back_and_names_the_queue(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int)")
    runbook = write_world(tmp_path, [phase("P0", [("hold", f"{PY} hold.py")])])
    (runbook.parent / "hold.py").write_text(HOLD)
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/hold.log" }', 'log = "logs/hold.log", abort_rules = ["lock-queue"] }')
        + LOCK_QUEUE_RULE)
    session = tmp_path / "s"
    env = {"PG_TEST": pg_db, "DATABASE_URL": db_url(pg_cluster, pg_db),
           "PGPASSWORD": "radar-secret-9f2"}  # a secret the cockpit redacts (socket: unused)
    run = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                        str(session), env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
    log = runbook.parent / "logs" / "hold.log"

    def locked() -> bool:
        assert run.poll() is None, "the run ended before its step locked"
        return log.exists() and "locked" in log.read_text()

    wait_until(locked, "the step to lock", 60, every_s=0.05)
    with sessions_queued(pg_db, "accounts"):
        out, _ = run.communicate(timeout=90)
    assert run.returncode == 2, out
    assert "halted reason=abort rule 'lock-queue' matched in step hold" in out
    # headless showed the radar as the operator's screen does, as the queue grew
    said = [line for line in out.splitlines() if line.startswith("[hold] radar: ")]
    assert any("3 waiting behind" in line for line in said), out
    gist = [re.sub(r"radar: \S+ |oldest [\d.]+ s", "", line) for line in said]
    assert all(a != b for a, b in itertools.pairwise(gist)), said  # changes only
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    halted = next(e["data"] for e in events if e["type"] == "halted")
    assert halted["rule"] == "lock-queue"
    assert halted["line"].startswith("lock queue: 3 session(s) waiting behind the step's locks")
    finished = next(e["data"] for e in events if e["type"] == "step_finished")
    assert finished["abort"]["rule"] == "lock-queue" and finished["radar_samples"] >= 2
    samples = [json.loads(line) for line in (session / finished["radar"]).read_text().splitlines()]
    assert max(s.get("waiting", 0) for s in samples) == 3
    assert "committed" not in log.read_text()  # stopped before it could commit
    with psycopg.connect(pg_db, autocommit=True) as conn:  # and nothing of it stayed
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
    # the halt diagnostics name the queue as it was when the step was stopped
    captured = next(e["data"] for e in events if e["type"] == "diagnostics_captured")
    radar = json.loads((session / captured["file"]).read_text())["lock_radar"]
    assert radar["stop_request"]["rule"] == "lock-queue"
    assert radar["stop_request"]["sample"]["waiting"] == 3
    assert cockpit("verify", str(session)).returncode == 0
    # the sessions' queries are sampled, redacted: the secret is in no file of the session
    assert any("SELECT '***' AS quoted" in s["sessions"][0]["query"] for s in samples
               if s.get("sessions"))
    for path in session.rglob("*"):
        assert not path.is_file() or b"radar-secret-9f2" not in path.read_bytes(), path

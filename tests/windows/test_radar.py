"""The lock radar on this interpreter: a step that holds ACCESS EXCLUSIVE while sessions queue
behind it is stopped by a `lock_queue` rule. On Windows the radar's watcher asks the step's
supervisor to stop by a file (`steps/<run>.stop-request.json`; POSIX uses a signal), the
supervisor ends the step's job, PostgreSQL rolls its transaction back, and the halt names the
queue. Against the Linux side's PostgreSQL 15 over TLS in the Windows step."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from tests.engine.helpers import LOCK_QUEUE_RULE, sessions_queued
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until
from tests.windows.kit import events, runbook

HOLD = """import os, time, psycopg
conn = psycopg.connect(os.environ['DATABASE_URL'].replace('+psycopg', ''))
conn.execute('LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE')
print('locked', flush=True)
time.sleep(90)  # Windows' select() wants a socket
conn.execute('INSERT INTO {table} VALUES (42)')
conn.commit()
print('committed', flush=True)
"""
def test_a_lock_queue_stops_the_step_by_file_and_rolls_it_back(tmp_path: Path,
                                                               dsn: str) -> None:
    plain = dsn.replace("+psycopg", "")
    table = f"radar_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(table)))
    path = runbook(tmp_path / "world", [("hold", "python hold.py")],
                   extra='hold:, abort_rules = ["lock-queue"]')
    (path.parent / "hold.py").write_text(HOLD.format(table=table), encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8") + LOCK_QUEUE_RULE, encoding="utf-8")
    session = tmp_path / "s"
    run = start_cockpit("run", str(path), "--headless", "--assume-yes", "--session",
                        str(session), env={"DATABASE_URL": dsn}, text=True,
                        encoding="utf-8", stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
    log = path.parent / "logs" / "hold.log"

    def locked() -> bool:
        assert run.poll() is None, "the run ended before its step locked"
        return log.exists() and "locked" in log.read_text(encoding="utf-8")

    wait_until(locked, "the step to lock", 120, every_s=0.1)
    with sessions_queued(plain, table):
        out, _ = run.communicate(timeout=180)
    assert run.returncode == 2, out
    assert "halted reason=abort rule 'lock-queue' matched in step hold" in out
    halted = next(e["data"] for e in events(session) if e["type"] == "halted")
    assert str(halted["line"]).startswith("lock queue: 3 session(s) waiting")  # type: ignore[index]
    # the watcher's request, as the supervisor read it (on POSIX a signal goes with it)
    assert (session / "steps" / "hold.1.stop-request.json").is_file()
    assert "committed" not in log.read_text(encoding="utf-8")
    with psycopg.connect(plain, autocommit=True) as conn:  # nothing of it stayed
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(table))).fetchone() == (0,)
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
    assert cockpit("verify", str(session)).returncode == 0

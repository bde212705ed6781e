"""A governed retry on a lock timeout, for real: an application session holds a lock the
upgrade needs; the step (lock_timeout 1 s) fails on its lock-timeout rule and runs again —
every attempt an event with its delay and its blocker — until the lock goes (PASS) or the
budget is spent (a halt, the database at the revision the step started from). A path whose
revision commits part way (CREATE INDEX CONCURRENTLY in an autocommit block) is not retried.
Real Alembic as a subprocess, on the embedded PostgreSQL (and the machine's own)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.session.state import SessionState
from cockpit.session.timing import took
from tests.engine.test_per_revision import project as alembic_world
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until

PY = shlex.quote(sys.executable)
LOCK_RULE = """
[[abort_rules]]
id = "lock-timeout"
label = "`LockNotAvailable`"
patterns = ['\\bLockNotAvailable\\b', 'canceling statement due to lock timeout']
"""
ADD_COLUMN = '    op.execute("ALTER TABLE accounts ADD COLUMN flag boolean")'
CONCURRENT = ('    with op.get_context().autocommit_block():\n'
              '        op.execute("CREATE INDEX CONCURRENTLY ix_accounts_id ON accounts (id)")')


def project(tmp_path: Path, cluster: PgCluster, r2: str, retry: str) -> tuple[Path, dict[str, str]]:
    """A database at r1 (the table `accounts`), and a runbook whose one step upgrades to r2
    with a 1 s lock_timeout and the given retry."""
    runbook, env = alembic_world(
        tmp_path, cluster, ', abort_rules = ["lock-timeout"], lock_timeout = "1s", '
        f'retry = {{ {retry} }}',
        [("r1", None, '    op.execute("CREATE TABLE accounts (id int)")'), ("r2", "r1", r2)])
    runbook.write_text(runbook.read_text() + LOCK_RULE)
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "r1"],
                          cwd=runbook.parent, env={**os.environ, **env}, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return runbook, env


@contextmanager
def lock_held(conninfo: str) -> Iterator[threading.Event]:
    """An application session ("billing-worker") holding ACCESS EXCLUSIVE on `accounts`
    until the event is set (or the block ends)."""
    release, locked = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(conninfo, application_name="billing-worker") as conn:
            conn.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(120)
            conn.rollback()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(30), "the lock was not taken"
    try:
        yield release
    finally:
        release.set()
        thread.join(30)


def events(session: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (session / "events.jsonl").read_text().splitlines()]


def of(session: Path, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events(session) if e["type"] == kind]


def current(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def test_a_lock_held_for_3s_is_outlasted_by_the_retries(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, ADD_COLUMN,
                           'on = "lock-timeout", attempts = 6, first_delay = "1s", cap = "1s"')
    session = tmp_path / "s"
    with lock_held(env["PG_TEST"]) as release:
        run = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                            str(session), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
        # held 3 s from the first attempt's start: two attempts at least meet it
        wait_until(lambda: (session / "events.jsonl").exists()
                   and of(session, "step_started"), "the step to start", 60)
        threading.Timer(3.0, release.set).start()
        out, _ = run.communicate(timeout=120)
    assert run.returncode == 0, out
    scheduled = of(session, "retry_scheduled")
    assert len(scheduled) >= 1, out
    assert [s["attempt"] for s in scheduled] == list(range(2, 2 + len(scheduled)))
    assert all(s["of"] == 6 and 0.5 <= s["delay_s"] <= 1.0 for s in scheduled)
    assert all(s["revisions"] == ["r1"] for s in scheduled)
    assert any("billing-worker" in (s["blocker"] or "") for s in scheduled), scheduled
    started = of(session, "step_started")
    assert [s["run"] for s in started] == [f"up.{n}" for n in range(1, len(scheduled) + 2)]
    finished = of(session, "step_finished")
    assert [f["ok"] for f in finished] == [False] * len(scheduled) + [True]
    assert not of(session, "halted")
    assert "RETRY: attempt 2 of 6" in out
    # every attempt's log kept in the session; the published copy is the last attempt's
    logs = [(session / s["log"]).read_text() for s in started]
    assert all("lock timeout" in log for log in logs[:-1])
    published = (runbook.parent / "logs" / "up.log").read_text()
    assert published == logs[-1] and "lock timeout" not in published
    assert current(env["PG_TEST"]) == ["r2"]
    # its time (a rehearsal's, for the cutover it proves) counts every attempt and wait
    state = SessionState.model_validate_json((session / "session.json").read_bytes())
    spent = took(state.steps["up"])
    assert spent is not None and spent >= 1.0 * len(scheduled) + sum(
        s["delay_s"] for s in scheduled)
    verified = cockpit("verify", str(session))
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.slow  # three attempts of 1 s and their waits, twice: ~20 s
def test_a_lock_never_let_go_spends_the_budget_and_halts_where_it_started(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, ADD_COLUMN,
                           'on = "lock-timeout", attempts = 3, first_delay = "1s", cap = "1s"')
    session = tmp_path / "s"
    with lock_held(env["PG_TEST"]):
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert [s["attempt"] for s in of(session, "retry_scheduled")] == [2, 3]
    assert len(of(session, "step_started")) == 3
    halted = of(session, "halted")[0]
    assert halted["rule"] == "lock-timeout"
    assert "not retried: its retry budget is spent (3 of 3 attempts)" in halted["reason"]
    assert current(env["PG_TEST"]) == ["r1"]
    verified = cockpit("verify", str(session))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_revision_that_commits_part_way_is_not_retried(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, CONCURRENT,
                           'on = "lock-timeout", attempts = 3, first_delay = "1s", cap = "1s"')
    session = tmp_path / "s"
    with lock_held(env["PG_TEST"]):
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert not of(session, "retry_scheduled")
    halted = of(session, "halted")[0]
    assert "not retried: not retryable: r2: an autocommit block" in halted["reason"], halted
    assert "CREATE INDEX CONCURRENTLY ix_accounts_id" in halted["reason"]


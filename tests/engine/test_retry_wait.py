"""A lock-timeout retry's wait, governed: the operator halts or cancels during it (the
failure stands, the session halts, nothing runs again); the maintenance window closes during
it (the attempt is not made: dropped, halted); the cockpit is killed during it (`status` and
the mirror show the pending attempt; a headless resume reads the revisions again and goes
on). A real lock on a real PostgreSQL, real Alembic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.controller import Controller
from cockpit.session import rules
from tests.engine.test_lock_retry import ADD_COLUMN, current, lock_held, of, project
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until

WINDOW = ('  { kind = "attestation", id = "maintenance-window", '
          'text = "Maintenance window active" },\n]')
SLOW_RETRY = 'on = "lock-timeout", attempts = 3, first_delay = "60s", cap = "60s"'


@contextmanager
def waiting_to_retry(tmp_path: Path, cluster: PgCluster
                     ) -> Iterator[tuple[Controller, list[datetime], Path]]:
    """A controller whose step failed on its lock timeout and waits (a minute, on a clock
    the test moves) to run again; the window attested open for two hours."""
    runbook, env = project(tmp_path, cluster, ADD_COLUMN, SLOW_RETRY)
    runbook.write_text(runbook.read_text().replace("\n]\n", "\n" + WINDOW + "\n", 1))
    now = [datetime.now(UTC)]
    until = (now[0] + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    session = tmp_path / "s"
    with lock_held(env["PG_TEST"]):
        ctl = Controller.start(runbook, folder=session, env={**os.environ, **env},
                               halt_hooks=[], clock=lambda: now[0])
        try:
            ctl.attest_gate("signoff", "GOV-1")
            ctl.attest_gate("maintenance-window", f"CHG-1 until {until}")
            assert ctl.evaluate_gates() == []
            ctl.run_step("up")
            wait_until(lambda: ctl.state.steps["up"].status == "retry_wait",
                       "the lock timeout's retry to be scheduled", 60)
            yield ctl, now, session
        finally:
            ctl.close()


def test_a_halt_during_the_wait_ends_it_and_nothing_runs_again(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    with waiting_to_retry(tmp_path, pg_cluster) as (ctl, now, session):
        ctl.halt("the DBA calls it")
        assert ctl.state.steps["up"].status == "failed"
        now[0] += timedelta(minutes=5)  # past the retry's time
        ctl.poll()
        assert len(of(session, "step_started")) == 1
    assert of(session, "halted")[0]["reason"] == "the DBA calls it"


def test_cancelling_the_retry_drops_it_and_halts_on_the_lock_timeout(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    with waiting_to_retry(tmp_path, pg_cluster) as (ctl, now, session):
        assert rules.verb_allowed(ctl.runbook, ctl.state, "cancel", now[0])
        ctl.cancel_step("up")
        now[0] += timedelta(minutes=5)
        ctl.poll()
        assert len(of(session, "step_started")) == 1
    dropped = of(session, "retry_dropped")
    assert dropped == [{"step": "up", "why": "its retry was cancelled by the operator"}]
    halted = of(session, "halted")[0]
    assert halted["rule"] == "lock-timeout" and halted["by"] == "abort_rule"
    assert halted["reason"].endswith("its retry was cancelled by the operator")


def test_the_window_closing_during_the_wait_drops_the_attempt(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    with waiting_to_retry(tmp_path, pg_cluster) as (ctl, now, session):
        now[0] += timedelta(hours=3)  # the window closed meanwhile; the retry is due
        wait_until(lambda: ctl.state.halt is not None, "the monitor to drop the retry", 30)
        assert len(of(session, "step_started")) == 1
        assert ctl.state.steps["up"].status == "failed"
    why = of(session, "retry_dropped")[0]["why"]
    assert why.startswith("attempt 2 of 3 not made: the attested maintenance window closed")
    assert "window closed" in of(session, "halted")[0]["reason"]


def test_a_cockpit_killed_during_the_wait_resumes_the_retry(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, ADD_COLUMN, 'on = "lock-timeout", '
                           'attempts = 3, first_delay = "4s", cap = "4s"')
    session = tmp_path / "s"
    with lock_held(env["PG_TEST"]) as release:
        run = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                            str(session), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: (session / "events.jsonl").exists()
                   and of(session, "retry_scheduled"), "the first retry", 60, every_s=0.02)
        os.killpg(run.pid, signal.SIGKILL)  # the cockpit and anything it started
        run.wait(10)
        assert len(of(session, "step_started")) == 1  # killed before the attempt
        status = cockpit("status", str(session)).stdout
        assert ("RETRY     up: attempt 2 of 3, waits for a go-ahead: the cockpit stopped "
                "during its wait") in status, status
        shown = tmp_path / "mirror.txt"
        with open(shown, "w") as out:  # a reviewer's plain mirror, from the start
            mirror = start_cockpit("mirror", str(session), "--plain", "--from-start",
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "[up] RETRY: attempt 2 of 3" in shown.read_text(),
                       "the mirror to show the pending attempt", 30)
        finally:
            mirror.kill()
            mirror.wait(10)
        release.set()
        resumed = cockpit("resume", str(session), "--take-over", "--headless", "--assume-yes",
                          env=env,
                          timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "RETRY: attempt 2 of 3" in resumed.stdout
    assert [e["type"] for e in map(json.loads, (session / "events.jsonl").read_text()
                                   .splitlines())].count("retry_resumed") == 1
    assert current(env["PG_TEST"]) == ["r2"]
    assert [f["ok"] for f in of(session, "step_finished")] == [False, True]

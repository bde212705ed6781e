"""In the cockpit: a lock-timeout retry left pending by a cockpit that was killed during its
wait is shown as waiting for a go-ahead, and goes on only when the operator types RETRY;
the upgrade then passes. Real lock, real Alembic, real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens import AskText
from tests.engine.test_lock_retry import ADD_COLUMN, current, lock_held, of, project
from tests.run import start_cockpit
from tests.tui.test_operator import settle, type_text
from tests.waiting import pause_until, wait_until


async def test_a_pending_retry_goes_on_only_on_the_operators_say_so(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, ADD_COLUMN, 'on = "lock-timeout", '
                           'attempts = 3, first_delay = "4s", cap = "4s"')
    session = tmp_path / "s"
    with lock_held(env["PG_TEST"]):
        run = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                            str(session), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: (session / "events.jsonl").exists()
                   and of(session, "retry_scheduled"), "the first retry", 60, every_s=0.02)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(10)
    ctl = Controller.resume(session, take_over=True, env={**os.environ, **env},
                            halt_hooks=[])
    app = CockpitApp(ctl)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("2")
            strip = str(app.screen.query_one("#running").render())
            assert "attempt 2 of 3, waits for a go-ahead" in strip, strip
            due = datetime.fromisoformat(of(session, "retry_scheduled")[0]["due_at"]
                                         .replace("Z", "+00:00")) + timedelta(seconds=1.5)
            await pause_until(pilot, lambda: datetime.now(UTC) > due, "past its due time", 30)
            ctl.poll()  # a look of the monitor's past it: nothing runs without the go-ahead
            assert len(of(session, "step_started")) == 1
            await pilot.press("r")
            await pause_until(pilot, lambda: isinstance(app.screen, AskText), "the ask")
            assert "Attempt 2 of 3 was pending when the cockpit stopped" in app.screen.prompt
            await type_text(pilot, "RETRY")
            await pause_until(pilot, lambda: ctl.state.steps["up"].status == "passed",
                              "the attempt to pass", 60)
            await settle(pilot, app)
        assert current(env["PG_TEST"]) == ["r2"]
        assert [e["attempt"] for e in of(session, "retry_resumed")] == [2]
    finally:
        ctl.close()

"""In the cockpit: while the operator is asked whether to cancel a lock-timeout retry, its
attempt is not made, even past its time; dismissed, the retry goes on; answered CANCEL,
the session halts on the lock timeout and nothing runs again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens import AskText
from tests.engine.test_lock_retry import of
from tests.engine.test_retry_wait import waiting_to_retry
from tests.tui.test_operator import settle, type_text
from tests.waiting import pause_until


async def test_no_attempt_while_the_cancel_question_is_open(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    with waiting_to_retry(tmp_path, pg_cluster) as (ctl, now, session):
        app = CockpitApp(ctl, clock=False)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("2", "c")
            await pause_until(pilot, lambda: isinstance(app.screen, AskText), "the question")
            now[0] += timedelta(minutes=5)  # past the retry's time
            ctl.poll()  # the monitor's look, now
            assert len(of(session, "step_started")) == 1  # not while the operator decides
            await pilot.press("escape")  # not cancelled after all: the retry goes on
            await pause_until(pilot, lambda: not isinstance(app.screen, AskText), "closed")
            ctl.poll()
            await pause_until(pilot, lambda: len(of(session, "step_started")) == 2,
                              "the attempt, once the question is gone", 30)
            await settle(pilot, app)
            await pause_until(pilot, lambda: ctl.state.steps["up"].status == "retry_wait",
                              "the next retry's wait", 60)
            await pilot.press("c")
            await pause_until(pilot, lambda: isinstance(app.screen, AskText), "the question")
            await type_text(pilot, "CANCEL")
            await pause_until(pilot, lambda: ctl.state.halt is not None, "the halt", 30)
            now[0] += timedelta(minutes=5)
            ctl.poll()
            assert len(of(session, "step_started")) == 2  # nothing runs after the cancel
    assert of(session, "retry_dropped")[-1]["why"] == "its retry was cancelled by the operator"

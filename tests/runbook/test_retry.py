"""A lock-timeout retry as a runbook declares it: refused where it cannot be governed
(no lock_timeout, a read-only step, a rule that is not a pattern or does not watch the
step, waits out of order), and its waits within the bounds it names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from cockpit.runbook.model import Retry, duration_seconds
from cockpit.session.rules import retry_delay
from tests.engine.helpers import phase, write_world
from tests.run import cockpit

LOCK_RULE = """
[[abort_rules]]
id = "lock-timeout"
label = "`LockNotAvailable`"
patterns = ['\\bLockNotAvailable\\b', 'canceling statement due to lock timeout']
"""


def _validated(tmp_path: Path, step_extra: str, rules: str = "lock-timeout") -> str:
    tmp_path.mkdir(exist_ok=True)
    runbook = write_world(tmp_path, [phase("P0", [("up", "alembic upgrade head")])])
    text = runbook.read_text().replace(
        'log = "logs/up.log" }',
        f'log = "logs/up.log", abort_rules = ["{rules}"]{step_extra} }}') + LOCK_RULE
    runbook.write_text(text)
    done = cockpit("validate", str(runbook))
    return f"{done.returncode}\n{done.stdout}{done.stderr}"


def test_a_governed_retry_is_accepted(tmp_path: Path) -> None:
    said = _validated(tmp_path, ', lock_timeout = "2s", retry = { on = "lock-timeout", '
                                'attempts = 4, first_delay = "1s", cap = "5s" }')
    assert said.startswith("0\n"), said


def test_a_retry_without_a_lock_timeout_is_refused_naming_it(tmp_path: Path) -> None:
    said = _validated(tmp_path, ', retry = { on = "lock-timeout", attempts = 3 }')
    assert said.startswith("1\n")
    assert ("phases[0].steps[0].retry: a retry on a lock timeout needs the step's "
            "`lock_timeout`") in said


def test_a_retry_on_a_rule_that_does_not_watch_the_step_is_refused(tmp_path: Path) -> None:
    said = _validated(tmp_path, ', lock_timeout = "2s", retry = { on = "lock-timeout", '
                                'attempts = 3 }', rules="duplicate-table")
    assert "retry.on: 'lock-timeout' does not watch this step" in said
    said = _validated(tmp_path / "b", ', lock_timeout = "2s", retry = { on = "nothing", '
                                      'attempts = 3 }')
    assert "retry.on: 'nothing' is no pattern rule of [[abort_rules]]" in said


def test_waits_out_of_order_and_bounds_are_refused(tmp_path: Path) -> None:
    said = _validated(tmp_path, ', lock_timeout = "2s", retry = { on = "lock-timeout", '
                                'attempts = 3, first_delay = "10s", cap = "2s" }')
    assert "retry.first_delay: 10s is longer than the cap 2s" in said
    said = _validated(tmp_path / "b", ', lock_timeout = "2s", retry = { on = "lock-timeout", '
                                      'attempts = 1 }')
    assert said.startswith("1\n") and "attempts" in said


@given(st.integers(2, 20), st.sampled_from(["100ms", "1s", "3s"]),
       st.sampled_from(["1s", "5s", "30s"]), st.floats(0, 1, exclude_max=True))
def test_each_wait_lies_between_half_the_doubled_delay_and_the_cap(
        attempts: int, first: str, cap: str, jitter: float) -> None:
    retry = Retry(on="lock-timeout", attempts=attempts, first_delay=first, cap=cap)
    for attempt in range(2, attempts + 1):
        doubled = min(duration_seconds(cap), duration_seconds(first) * 2 ** (attempt - 2))
        wait = retry_delay(retry, attempt, jitter)
        assert doubled / 2 <= wait <= doubled <= duration_seconds(cap)


def test_a_run_is_tried_again_only_when_nothing_else_could_have_happened() -> None:
    from cockpit.runbook.model import CommandStep
    from cockpit.session.rules import retry_verdict

    step = CommandStep(kind="command", id="up", command="alembic upgrade head",
                       lock_timeout="2s", abort_rules=["lock-timeout"],
                       retry=Retry(on="lock-timeout", attempts=3))
    lock = {"rule": "lock-timeout", "line": "LockNotAvailable"}
    at = ["0019"]
    said = retry_verdict(step, lock, 1, at, at, None)
    assert said.retry and said.why == ("a lock timeout alone, the database where the run "
                                       "started (0019): attempt 2 of 3")
    cases = [
        (step.model_copy(update={"retry": None}), lock, 1, at, at, None,
         "the step declares no retry"),
        (step, {"rule": "duplicate-table", "line": "x"}, 1, at, at, None,
         "abort rule 'duplicate-table' ended it, not the lock-timeout rule 'lock-timeout'"),
        (step, None, 1, at, at, None,
         "no abort rule ended it, not the lock-timeout rule 'lock-timeout'"),
        (step, lock, 3, at, at, None, "its retry budget is spent (3 of 3 attempts)"),
        (step, lock, 1, at, None, None,
         "the database's revision could not be read back, so a partial change cannot be "
         "ruled out"),
        (step, lock, 1, at, ["0020"], None,
         "the database moved: it is at 0020, the run started at 0019"),
        (step, lock, 1, [], [], "revision 0021 builds an index CONCURRENTLY in an "
         "autocommit block", "not retryable: revision 0021 builds an index CONCURRENTLY in "
         "an autocommit block"),
    ]
    for case in cases:
        *given, why = case
        said = retry_verdict(*given)
        assert not said.retry and said.why == why, (given, said)


def test_a_retry_on_a_rule_that_no_lock_timeout_trips_is_refused(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    runbook = write_world(tmp_path, [phase("P0", [("up", "alembic upgrade head")])])
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/up.log" }', 'log = "logs/up.log", abort_rules = ["dup"], lock_timeout = '
        '"2s", retry = { on = "dup", attempts = 3 } }') + '''
[[abort_rules]]
id = "dup"
label = "`DuplicateTable`"
patterns = ['\\\\bDuplicateTable\\\\b']
''')
    done = cockpit("validate", str(runbook))
    assert done.returncode == 1
    assert ("retry.on: 'dup' matches none of PostgreSQL's lock-timeout errors"
            in done.stdout + done.stderr)


def test_attempts_out_of_bounds_are_said_as_bounds(tmp_path: Path) -> None:
    said = _validated(tmp_path, ', lock_timeout = "2s", retry = { on = "lock-timeout", '
                                'attempts = 21 }')
    assert said.startswith("1\n") and "retry.attempts: expected at most 20; got 21" in said

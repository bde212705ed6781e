"""A failed step's error line: the database's error, not the documentation link after it."""

from __future__ import annotations

from pathlib import Path

from cockpit.session.errorline import TAIL_BYTES, error_line

ALEMBIC_FAILURE = """INFO  [alembic.runtime.migration] Running upgrade b2 -> c3, bad
Traceback (most recent call last):
  File "/x/sqlalchemy/engine/base.py", line 1967, in _exec_single_context
psycopg.errors.DivisionByZero: division by zero

The above exception was the direct cause of the following exception:

sqlalchemy.exc.DataError: (psycopg.errors.DivisionByZero) division by zero
[SQL: SELECT 1/0]
(Background on this error at: https://sqlalche.me/e/21/9h9h)
"""


def test_the_database_error_is_found_before_the_link(tmp_path: Path) -> None:
    log = tmp_path / "up.1.log"
    log.write_text(ALEMBIC_FAILURE)
    assert error_line(log) == ("sqlalchemy.exc.DataError: (psycopg.errors.DivisionByZero) "
                               "division by zero")


def test_other_errors_then_none(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("step 1\nKeyError: 'x'\nbye\n")
    assert error_line(log) == "KeyError: 'x'"
    log.write_text("psql:fix.sql:3: ERROR:  relation \"t\" does not exist\ndone\n")
    assert error_line(log) == 'psql:fix.sql:3: ERROR:  relation "t" does not exist'
    log.write_text("all well\n")
    assert error_line(log) is None
    assert error_line(tmp_path / "missing.log") is None


def test_only_the_tail_of_a_long_log_is_read(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"OldError: long ago\n" + b"x" * (2 * TAIL_BYTES) + b"\nexit 1\n")
    assert error_line(log) is None

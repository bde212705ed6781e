"""The abort rules match what PostgreSQL and psycopg really print, and nothing ordinary.

Each error is raised for real on a PostgreSQL server, then rendered the three ways a
migration step prints it: psycopg's traceback line, SQLAlchemy's wrapper, and psql's ERROR.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import psycopg
import pytest
import sqlalchemy

from cockpit.runbook.abort_library import LIBRARY, library_rule_for
from cockpit.runbook.loader import load_runbook
from tests.conftest import REPO

Setup = Callable[[psycopg.Connection], None]


def _dup_table(c: psycopg.Connection) -> None:
    c.execute("CREATE TABLE active_investments (id int)")
    c.execute("CREATE TABLE active_investments (id int)")


def _missing_column(c: psycopg.Connection) -> None:
    c.execute("CREATE TABLE cash_impact_flags (id int)")
    c.execute("UPDATE cash_impact_flags SET flagged_at = now()")


def _enum_redefined(c: psycopg.Connection) -> None:
    c.execute("CREATE TYPE risk_tier AS ENUM ('low', 'high')")
    c.execute("CREATE TYPE risk_tier AS ENUM ('low', 'medium', 'high')")


def _unique_backfill(c: psycopg.Connection) -> None:
    c.execute("CREATE TABLE briefs (id int PRIMARY KEY)")
    c.execute("INSERT INTO briefs SELECT g % 3 FROM generate_series(1, 5) g")


def _not_null_backfill(c: psycopg.Connection) -> None:
    c.execute("CREATE TABLE drift (id int, tier text NOT NULL)")
    c.execute("INSERT INTO drift (id) VALUES (1)")


CASES: list[tuple[str, Setup, str]] = [
    ("duplicate-table", _dup_table, "DuplicateTable"),
    ("missing-column", _missing_column, "UndefinedColumn"),
    ("enum-type-redefinition", _enum_redefined, "DuplicateObject"),
    ("unexpected-backfill-conflict", _unique_backfill, "UniqueViolation"),
    ("unexpected-backfill-conflict", _not_null_backfill, "NotNullViolation"),
]


def _renderings(exc: psycopg.Error, statement: str = "ALTER ...") -> list[str]:
    """The lines a migration's output would carry for this error."""
    cls = type(exc)
    wrapped = sqlalchemy.exc.DBAPIError.instance(statement, None, exc, psycopg.Error)
    return [
        f"{cls.__module__}.{cls.__qualname__}: {exc}".splitlines()[0],  # traceback's last line
        str(wrapped).splitlines()[0],  # sqlalchemy: "(psycopg.errors.X) message"
        f"ERROR:  {exc.diag.message_primary}",  # psql, default verbosity
        f"psql:migrate.sql:3: ERROR:  {exc.sqlstate}: {exc.diag.message_primary}",  # verbose
    ]


def _rule(rule_id: str):
    return next(rule for rule in LIBRARY if rule.id == rule_id)


def _matches(rule_id: str, line: str) -> bool:
    return any(re.search(p, line) for p in _rule(rule_id).patterns)


@pytest.mark.parametrize(("rule_id", "setup", "class_name"), CASES, ids=[c[2] for c in CASES])
def test_rule_matches_real_postgres_error(pg_db: str, rule_id: str, setup: Setup,
                                          class_name: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn, pytest.raises(psycopg.Error) as info:
        setup(conn)
    assert type(info.value).__name__ == class_name
    for line in _renderings(info.value):
        assert _matches(rule_id, line), f"{rule_id} misses: {line}"


def test_lock_timeout_matches_real_lock_not_available(pg_db: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as holder:
        holder.execute("CREATE TABLE alembic_version (version_num varchar(32))")
        with holder.transaction():
            holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            with psycopg.connect(pg_db, autocommit=True) as migrator, \
                    pytest.raises(psycopg.errors.LockNotAvailable) as info:
                migrator.execute("SET lock_timeout = '100ms'")
                migrator.execute("ALTER TABLE alembic_version ALTER version_num TYPE varchar(64)")
    for line in _renderings(info.value):
        assert _matches("lock-timeout-deadlock", line), line


def test_deadlock_matches_real_deadlock_detected(pg_db: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as setup:
        setup.execute("CREATE TABLE a (id int); CREATE TABLE b (id int)")
    first_locked, errors = threading.Event(), []

    def first() -> None:
        with psycopg.connect(pg_db) as conn:
            try:
                conn.execute("LOCK TABLE a")
                first_locked.set()
                conn.execute("SELECT pg_sleep(0.3)")
                conn.execute("LOCK TABLE b")
            except psycopg.Error as exc:
                errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    with psycopg.connect(pg_db) as conn:
        try:
            conn.execute("LOCK TABLE b")
            first_locked.wait(5)
            conn.execute("LOCK TABLE a")
        except psycopg.Error as exc:
            errors.append(exc)
    thread.join(10)
    deadlocks = [e for e in errors if isinstance(e, psycopg.errors.DeadlockDetected)]
    assert len(deadlocks) == 1
    for line in _renderings(deadlocks[0]):
        assert _matches("lock-timeout-deadlock", line), line


ORDINARY_OUTPUT = [
    "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
    "INFO  [alembic.runtime.migration] Will assume transactional DDL.",
    "INFO  [alembic.runtime.migration] Running upgrade 0023 -> 70a79686336c, merge heads",
    "INFO  [alembic.runtime.migration] Running stamp_revision  -> 0019_nav_snapshots_and_investor_statements",
    "70a79686336c (head)",
    "Rev: 0009b (branchpoint) create covenant_status_register, backfill 23505 rows",
    "backfilled 42703 rows into performance_drift_flags; 42710 ids checked",
    "CREATE TYPE risk_tier (if not exists): skipped",
    "lock_timeout = 5s, statement_timeout = 15min",
]


@pytest.mark.parametrize("line", ORDINARY_OUTPUT)
def test_ordinary_migration_output_matches_no_rule(line: str) -> None:
    assert not [r.id for r in LIBRARY if any(re.search(p, line) for p in r.patterns)]


def test_reference_labels_map_to_library_rules() -> None:
    labels = {"`DuplicateTable`": "duplicate-table", "`MissingColumn`": "missing-column",
              "Enum/type redefinition conflict": "enum-type-redefinition",
              "Lock timeout/deadlock": "lock-timeout-deadlock",
              "Unexpected backfill conflict": "unexpected-backfill-conflict"}
    for label, rule_id in labels.items():
        rule = library_rule_for(label)
        assert rule is not None and rule.id == rule_id


def test_bundled_runbook_carries_the_library_rules() -> None:
    runbook = load_runbook(REPO / "runbooks" / "netz-prod-cutover.toml")
    assert {r.id: r.patterns for r in runbook.abort_rules} == {r.id: r.patterns for r in LIBRARY}

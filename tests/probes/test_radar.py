"""The lock radar's sample against a real PostgreSQL (embedded, and the machine's own where
present): a queue and a blocker that the test creates, seen by application_name."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection

from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.db import connect
from cockpit.probes.radar import app_name, radar_line, sample
from cockpit.session.redact import Redactor
from tests.run import db_url
from tests.waiting import within

APP = app_name("prod_upgrade.1")


@pytest.fixture
def table(pg_db: str) -> Iterator[str]:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int)")
    yield pg_db


def _blocked(conninfo: str, sql: str, app: str, started: list[psycopg.Connection]) -> None:
    conn = psycopg.connect(conninfo, application_name=app, autocommit=False)
    started.append(conn)
    with contextlib.suppress(psycopg.Error):  # its connection closed when the test ends
        conn.execute(sql)


def _sample_when(conn: Connection, holds: Callable[[dict[str, Any]], bool],
                 deadline_s: float = 10.0) -> dict[str, Any]:
    """The first sample for which `holds`, within the deadline."""
    found: list[dict[str, Any]] = []

    def held() -> bool:
        found[:] = [sample(conn, APP, Redactor().redact_text)]
        return holds(found[0])

    assert within(held, deadline_s, every_s=0.05), \
        f"not seen within {deadline_s} s; last sample: {found}"
    return found[0]


@pytest.mark.system_slow
def test_the_queue_behind_a_migration_holding_its_lock(pg_cluster: PgCluster, table: str) -> None:
    env = {"DATABASE_URL": db_url(pg_cluster, table)}
    migration = psycopg.connect(table, application_name=APP)
    migration.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")  # held, in its transaction
    started: list[psycopg.Connection] = []
    threads = [threading.Thread(target=_blocked, args=(table, "SELECT * FROM accounts", "app",
                                                       started), daemon=True)
               for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        with connect(env) as conn:
            found = _sample_when(conn, lambda s: s["waiting"] == 3)
        assert [s["state"] for s in found["sessions"]] == ["idle in transaction"]
        assert found["blockers"] == [] and found["oldest_wait_s"] >= 0.0
        assert "3 waiting behind" in radar_line(found)
    finally:
        migration.close()
        for thread in threads:
            thread.join(10)
        for conn in started:
            conn.close()


@pytest.mark.system_slow
def test_a_migration_waiting_on_a_blocker_and_the_sessions_queued_behind_its_request(
        pg_cluster: PgCluster, table: str) -> None:
    env = {"DATABASE_URL": db_url(pg_cluster, table)}
    report = psycopg.connect(table, application_name="nightly-report")
    report.execute("SELECT * FROM accounts")  # ACCESS SHARE, held: its transaction is open
    blocker = report.info.backend_pid
    started: list[psycopg.Connection] = []
    migration = threading.Thread(target=_blocked, daemon=True, args=(
        table, "LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE", APP, started))
    reader = threading.Thread(target=_blocked, daemon=True, args=(
        table, "SELECT * FROM accounts", "app", started))
    try:
        migration.start()
        with connect(env) as conn:
            _sample_when(conn, lambda s: bool(s["blockers"]))
            reader.start()  # queued behind the migration's request, not the report's lock
            found = _sample_when(conn, lambda s: s["waiting"] == 1)
        (mine,) = found["sessions"]
        assert (mine["wait_event_type"], mine["wait_event"]) == ("Lock", "relation")
        assert found["blockers"] == [blocker]
        assert f"waits on Lock/relation (blocked by {blocker})" in radar_line(found)
    finally:
        report.close()
        for thread in (migration, reader):
            thread.join(10)
        for conn in started:
            conn.close()


def test_an_application_name_fits_postgresql() -> None:
    long = app_name("x" * 100)
    assert long.startswith("cockpit:") and len(long.encode()) == 63
    assert app_name("up.1") == "cockpit:up.1"

"""The pre-flight probes against a real PostgreSQL (embedded, and the machine's own where
present): sessions the test holds open — idle in a transaction, a long transaction, a lock
waiter behind it — and a role without pg_read_all_stats, which must never see a pass."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.preflight import replica_verdict
from cockpit.probes.registry import ProbeContext, ProbeResult, run_probe
from cockpit.runbook.loader import RunbookError, parse_runbook
from cockpit.session.redact import Redactor
from tests.probes.conftest import ROLE_SECRET
from tests.run import db_url
from tests.waiting import let_time_pass, within

SECRET = "pre-Fl1ght-pw"
PREFLIGHT = ("db.long_transactions", "db.idle_in_transaction", "db.replica_lag",
             "db.connection_headroom", "db.lock_waiters")


def _probe(name: str, url: str, **args: Any) -> ProbeResult:
    ctx = ProbeContext(workdir=Path.cwd(), env={"DATABASE_URL": url},
                       redact=Redactor([SECRET]).redact_text)
    return run_probe(name, ctx, None, args)


@pytest.fixture
def held(pg_db: str) -> Iterator[list[psycopg.Connection]]:
    """Connections a test opens and leaves open (closed at its end)."""
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text)")
        conn.execute("INSERT INTO accounts VALUES (1, 'a')")
    opened: list[psycopg.Connection] = []
    yield opened
    for conn in opened:
        conn.close()


def _idle_in_transaction(pg_db: str, held: list[psycopg.Connection],
                         app: str = "billing-app") -> int:
    """A session that read a row (and a password in a literal) and stays in its transaction."""
    conn = psycopg.connect(pg_db, application_name=app)
    held.append(conn)
    conn.execute(f"SELECT owner, '{SECRET}' AS pw FROM accounts WHERE id = 1 FOR UPDATE")
    return conn.info.backend_pid


def test_an_idle_in_transaction_session_is_found_with_its_query_redacted(
        pg_cluster: PgCluster, pg_db: str, held: list[psycopg.Connection]) -> None:
    url = db_url(pg_cluster, pg_db)
    assert _probe("db.idle_in_transaction", url).ok
    pid = _idle_in_transaction(pg_db, held)
    found = _probe("db.idle_in_transaction", url)
    assert not found.ok and not found.reached  # the operator clears it and checks again
    (session,) = found.observed["sessions"]
    assert (session["pid"], session["application_name"]) == (pid, "billing-app")
    assert session["state"] == "idle in transaction" and session["age_s"] >= 0
    assert SECRET not in session["query"] and "***" in session["query"]
    assert f"pid {pid}" in found.detail and "billing-app" in found.detail
    assert SECRET not in found.detail
    # a maximum age it has not reached yet: a pass that still names the session
    young = _probe("db.idle_in_transaction", url, max_age="10m")
    assert young.ok and young.observed["sessions"][0]["pid"] == pid


def test_a_transaction_older_than_the_maximum_fails_and_a_younger_one_passes(
        pg_cluster: PgCluster, pg_db: str, held: list[psycopg.Connection]) -> None:
    url = db_url(pg_cluster, pg_db)
    pid = _idle_in_transaction(pg_db, held)
    let_time_pass(1.2)  # the transaction must grow older than the limit
    old = _probe("db.long_transactions", url, max_age="1s")
    assert not old.ok
    assert [s["pid"] for s in old.observed["sessions"]] == [pid]
    assert old.observed["sessions"][0]["age_s"] >= 1.0
    assert "older than 1s" in old.detail
    assert _probe("db.long_transactions", url, max_age="5m").ok


def test_a_session_waiting_on_a_lock_is_found_with_its_blocker(
        pg_cluster: PgCluster, pg_db: str, held: list[psycopg.Connection]) -> None:
    url = db_url(pg_cluster, pg_db)
    holder = _idle_in_transaction(pg_db, held)
    waiter = psycopg.connect(pg_db, application_name="checkout", autocommit=True)
    held.append(waiter)
    thread = threading.Thread(target=_quietly, daemon=True, args=(
        waiter, "UPDATE accounts SET owner = 'b' WHERE id = 1"))
    thread.start()
    try:
        found = _when(lambda: _probe("db.lock_waiters", url), lambda r: not r.ok)
        (session,) = found.observed["sessions"]
        assert session["application_name"] == "checkout"
        assert session["blocked_by"] == [holder]
        assert "1 session waiting on locks (at most 0)" in found.detail
        assert _probe("db.lock_waiters", url, max_waiting=1).ok
    finally:
        held[0].rollback()  # the holder lets go: the waiter ends
        thread.join(10)


def test_the_cockpits_own_sessions_are_not_counted(
        pg_cluster: PgCluster, pg_db: str, held: list[psycopg.Connection]) -> None:
    url = db_url(pg_cluster, pg_db)
    _idle_in_transaction(pg_db, held, app="cockpit:prod_upgrade.1")
    found = _probe("db.idle_in_transaction", url)
    assert found.ok and found.observed["sessions"] == []


def test_no_replicas_is_a_pass_with_a_note(pg_cluster: PgCluster, pg_db: str) -> None:
    found = _probe("db.replica_lag", db_url(pg_cluster, pg_db))
    assert found.ok and found.detail.startswith("no replicas")
    assert found.observed["replicas"] == []


def test_connection_headroom_counts_the_free_slots(
        pg_cluster: PgCluster, pg_db: str, held: list[psycopg.Connection]) -> None:
    url = db_url(pg_cluster, pg_db)
    fine = _probe("db.connection_headroom", url)
    assert fine.ok, fine.detail
    _idle_in_transaction(pg_db, held)
    counted = _probe("db.connection_headroom", url)
    assert counted.observed["in_use"] == fine.observed["in_use"] + 1
    usable = counted.observed["usable"]
    tight = _probe("db.connection_headroom", url, min_free=usable)
    assert not tight.ok
    assert f"of {usable} usable" in tight.detail and f"at least {usable} free" in tight.detail


def test_a_role_without_pg_read_all_stats_is_answered_not_checked_never_a_pass(
        pg_cluster: PgCluster, pg_db: str, role: str) -> None:
    db = psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"]
    url = f"postgresql://{role}:{ROLE_SECRET}@127.0.0.1:{pg_cluster.port}/{db}"
    for name in PREFLIGHT:
        found = _probe(name, url)
        assert not found.ok, name
        assert found.observed == "not checked (needs pg_read_all_stats)", name
        assert found.detail.startswith("not checked (needs pg_read_all_stats)"), name
        assert not found.reached, name  # granted, it is checked again
        assert f"GRANT pg_read_all_stats TO {role}" in found.detail
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(role)))
    try:
        assert _probe("db.idle_in_transaction", url).ok
    finally:
        with pg_cluster.admin() as conn:
            conn.execute(sql.SQL("REVOKE pg_read_all_stats FROM {}").format(
                sql.Identifier(role)))


def test_a_maximum_age_that_is_no_duration_is_refused_by_the_loader() -> None:
    text = _MINIMAL.replace("ARGS", 'max_age = "5 minutes"')
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text, "pre.toml")
    message = str(caught.value)
    assert "gates.items[0].args.max_age" in message and "a duration" in message


def _quietly(conn: psycopg.Connection, statement: str) -> None:
    with contextlib.suppress(psycopg.Error):  # its connection may close as the test ends
        conn.execute(statement)


def _when(look: Any, holds: Any, deadline_s: float = 10.0) -> ProbeResult:
    """The first result that `holds`, or the last one looked at by the deadline."""
    found: list[ProbeResult] = []

    def held() -> bool:
        found[:] = [look()]
        return bool(holds(found[0]))

    within(held, deadline_s, every_s=0.05)
    return found[0]


_MINIMAL = """
format = 1
id = "pre"
title = "Pre"
production = false

[gates]
heading = "Gates"
[[gates.items]]
kind = "probe"
id = "no-long-transactions"
text = "No transaction older than 5 minutes"
probe = "db.long_transactions"
args = { ARGS }

[[phases]]
id = "P0"
heading = "P0"
[[phases.steps]]
kind = "command"
id = "hello"
command = "echo hello"
read_only = true
"""


def _replica(name: str, state: str, lag_s: float) -> dict[str, Any]:
    return {"pid": 4242, "application_name": name, "client": "10.0.0.7", "state": state,
            "sync_state": "async", "lag_s": lag_s, "behind_bytes": 0}


def test_replicas_are_judged_by_state_and_lag() -> None:
    # no second server here to stream from: the verdict on pg_stat_replication's rows alone
    assert replica_verdict([_replica("standby-a", "streaming", 0.2)], "1s").ok
    late = replica_verdict([_replica("standby-a", "streaming", 0.2),
                            _replica("standby-b", "streaming", 3.5)], "1s")
    assert not late.ok and not late.reached
    assert late.detail == "1 replica not streaming within 1s: standby-b (streaming, 3.5s behind)"
    catching_up = replica_verdict([_replica("standby-c", "catchup", 0.0)], "1s")
    assert not catching_up.ok and "standby-c (catchup" in catching_up.detail

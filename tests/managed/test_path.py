"""What lies between a DSN and its server, told by behaviour against the real PgBouncer."""

from __future__ import annotations

from cockpit.probes.pooler import probe_path
from tests.managed.conftest import Backend, Pooler


def test_the_server_itself(backend: Backend) -> None:
    found = probe_path(backend.url())
    assert not found.in_between and not found.transaction_pooled
    assert found.server_port == backend.port and found.options == "taken"


def test_a_transaction_pooler_that_refuses_options(backend: Backend, pgbouncer: Pooler) -> None:
    found = probe_path(backend.url(pgbouncer("transaction")))
    assert found.transaction_pooled and found.server_port == backend.port
    assert found.options == "refused"


def test_a_transaction_pooler_that_drops_options(backend: Backend, pgbouncer: Pooler) -> None:
    found = probe_path(backend.url(pgbouncer("transaction", ignore_options=True)))
    assert found.transaction_pooled and found.options == "dropped"


def test_a_session_pooler_keeps_its_backend_but_answers_on_another_port(
        backend: Backend, pgbouncer: Pooler) -> None:
    port = pgbouncer("session", ignore_options=True)
    found = probe_path(backend.url(port))
    assert not found.transaction_pooled and found.in_between
    assert found.dsn_port == port != found.server_port and found.options == "dropped"


def test_a_multi_host_dsn_is_said_to_be_checked_on_the_host_reached(backend: Backend) -> None:
    from cockpit.probes.serverpath import path_verdict

    dsn = (f"postgresql://{backend.role}:{backend.password}@127.0.0.1:{backend.port},"
           f"127.0.0.1:{backend.port}/{backend.database}")
    said = path_verdict("DATABASE_URL", dsn)
    assert said.ok and said.detail.startswith(
        f"DATABASE_URL: direct to the server (port {backend.port}); NOTE DATABASE_URL names "
        "2 hosts: this is the one libpq reached first"), said.detail


def test_a_driver_that_does_not_read_pgoptions_is_refused() -> None:
    from cockpit.probes.serverpath import driver_verdict

    said = driver_verdict("DATABASE_URL", "postgresql+asyncpg://u:p@db/app")
    assert said is not None and not said.ok
    assert said.detail.startswith("DATABASE_URL names the driver `asyncpg`, which does not "
                                  "read PGOPTIONS or PGAPPNAME")
    for fine in ("postgresql+psycopg://u@db/app", "postgresql://u@db/app", "host=db dbname=a"):
        assert driver_verdict("DATABASE_URL", fine) is None


def test_a_full_pool_is_no_answer_in_bounded_time_not_a_hang(
        backend: Backend, pgbouncer: Pooler) -> None:
    """A session pool of one, held by another client: the probe's second connection waits
    in PgBouncer's queue (120 s by default); the check says so within its own limit."""
    import time

    import psycopg

    from cockpit.probes import serverpath

    port = pgbouncer("session", pool_size=1)
    with psycopg.connect(backend.url(port) + "?sslmode=require") as holder:
        holder.execute("SELECT 1")  # holds the one server connection for its session
        started = time.monotonic()
        try:
            serverpath.within(lambda: serverpath.probe_path(backend.url(port)), 2.0)
        except serverpath.NoAnswer as exc:
            assert "a pooler with no free server connection (its pool full?)" in str(exc)
        else:
            raise AssertionError("the probe answered through a full pool")
        assert time.monotonic() - started < 10


def test_a_round_robin_transaction_pooler_with_idle_connections_is_told(
        backend: Backend, pgbouncer: Pooler) -> None:
    """Several idle server connections handed out in turn: A may get its old one back while
    B holds another; A's own backends changing, or B finding A's mark, still tell."""
    import psycopg

    port = pgbouncer("transaction", ignore_options=True, extra="server_round_robin = 1\n")
    clients = [psycopg.connect(backend.url(port) + "?sslmode=require", autocommit=False)
               for _ in range(4)]
    for client in clients:  # four server connections opened at once, then idle
        client.execute("SELECT 1")
    for client in clients:
        client.commit()
    try:
        for _ in range(3):
            assert probe_path(backend.url(port)).transaction_pooled
    finally:
        for client in clients:
            client.close()

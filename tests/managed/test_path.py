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

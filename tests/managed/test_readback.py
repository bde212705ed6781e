"""A step's settings read back through the connection it would make: direct to the server
they take; through PgBouncer in transaction mode they are refused, or — with the usual fix,
`ignore_startup_parameters = options` — silently dropped, and the read-back says so."""

from __future__ import annotations

from cockpit.engine.pgoptions import pg_options
from cockpit.probes.readback import read_back
from tests.managed.conftest import Backend, Pooler

WANTED = {"lock_timeout": "1234", "statement_timeout": "600000",
          "application_name": "cockpit:prod_upgrade.1"}
ENV = {"PGOPTIONS": pg_options({"lock_timeout": "1234", "statement_timeout": "600000"}),
       "PGAPPNAME": "cockpit:prod_upgrade.1"}


def test_direct_to_the_server_the_settings_take(backend: Backend) -> None:
    said = read_back(backend.url(), ENV, WANTED)
    assert said.ok, said.detail
    assert said.observed == WANTED
    assert said.detail == ("read back: lock_timeout 1234ms, statement_timeout 600000ms, "
                           "application_name cockpit:prod_upgrade.1")
    assert said.who == (backend.role, backend.database)


def test_a_transaction_pooler_refuses_the_startup_options(backend: Backend,
                                                          pgbouncer: Pooler) -> None:
    port = pgbouncer("transaction")
    said = read_back(backend.url(port), ENV, WANTED)
    assert not said.ok and said.observed == {}
    assert said.detail.startswith("a connection pooler refused the startup options")
    assert "unsupported startup parameter: options" in said.detail


def test_a_pooler_that_drops_the_options_is_caught(backend: Backend,
                                                   pgbouncer: Pooler) -> None:
    port = pgbouncer("transaction", ignore_options=True)
    said = read_back(backend.url(port), ENV, WANTED)
    assert not said.ok
    assert said.observed["lock_timeout"] == "0" and said.observed["statement_timeout"] == "0"
    assert said.detail.startswith("lock_timeout is 0ms, expected 1234ms, statement_timeout is "
                                  "0ms, expected 600000ms — the settings did not take: a "
                                  "connection pooler dropped the startup options")


def test_settings_from_the_roles_defaults_survive_the_pooler(backend: Backend,
                                                             pgbouncer: Pooler) -> None:
    """The role-defaults route: `ALTER ROLE … SET` for the DBA to run; no options needed."""
    import psycopg

    with psycopg.connect(backend.url(), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{backend.role}" SET lock_timeout = 1234')
        conn.execute(f'ALTER ROLE "{backend.role}" SET statement_timeout = 600000')
    port = pgbouncer("transaction", ignore_options=True)
    said = read_back(backend.url(port), {"PGAPPNAME": "cockpit:prod_upgrade.1"}, WANTED)
    assert said.ok, said.detail


def test_a_dsn_that_sets_its_own_options_is_caught_as_libpq_reads_it(backend: Backend) -> None:
    """libpq takes a DSN's own `options` over PGOPTIONS: the step's timeouts never arrive,
    and the read-back, made the same way, says so and why."""
    own = backend.url() + "?options=-c%20search_path%3Dpublic&application_name=app"
    said = read_back(own, ENV, WANTED)
    assert not said.ok
    assert said.observed["lock_timeout"] == "0" and said.observed["application_name"] == "app"
    assert ("the DSN sets `options` and `application_name` itself, and libpq takes the DSN's "
            "over the environment's") in said.detail

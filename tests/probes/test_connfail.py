"""Connection failures named by cause, each provoked for real against the embedded server
(and the machine's PostgreSQL 15 where present): the message names the cause and the next
step, shows the DSN without its password, and never a bare exception class."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cockpit.demo.pgcluster import PgCluster, free_port
from cockpit.demo.tls import write_self_signed
from cockpit.probes import db
from cockpit.probes.connfail import explain
from cockpit.probes.db import ProbeUnreachable, connect, rows
from cockpit.probes.registry import ProbeContext, run_probe
from tests.probes.conftest import ROLE_SECRET
from tests.tlsproxy import tls_terminator

SECRET = ROLE_SECRET


def _failure(url: str) -> str:
    with pytest.raises(ProbeUnreachable) as caught, connect({"DATABASE_URL": url}) as conn:
        rows(conn, "SELECT 1")
    message = str(caught.value)
    assert SECRET not in message and "ProbeUnreachable" not in message
    assert "OperationalError" not in message
    return message


def test_a_wrong_password_names_the_user(pg_cluster: PgCluster, role: str) -> None:
    message = _failure(f"postgresql://{role}:wrong-{SECRET}@127.0.0.1:{pg_cluster.port}/postgres")
    assert f'authentication failed for user "{role}"' in message
    assert f"DATABASE_URL ({role}@127.0.0.1:{pg_cluster.port}/postgres)" in message
    assert "check that user's password" in message


def test_no_password_where_the_server_asks_for_one(pg_cluster: PgCluster, role: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    message = _failure(f"postgresql://{role}@127.0.0.1:{pg_cluster.port}/postgres")
    assert "the server asks for a password and none was given" in message


def test_tls_required_of_a_server_without_it(pg_cluster: PgCluster, role: str) -> None:
    message = _failure(f"postgresql://{role}:{SECRET}@127.0.0.1:{pg_cluster.port}/postgres"
                       "?sslmode=require")
    assert f"the server at 127.0.0.1:{pg_cluster.port} does not offer TLS" in message
    assert "do not drop sslmode" in message


def test_a_closed_port_is_refused_naming_host_and_port() -> None:
    port = free_port()
    message = _failure(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db")
    assert f"connection refused at 127.0.0.1:{port}" in message


def test_an_unknown_database(pg_cluster: PgCluster, role: str) -> None:
    message = _failure(f"postgresql://{role}:{SECRET}@127.0.0.1:{pg_cluster.port}/no_such_db")
    assert f'database "no_such_db" does not exist on 127.0.0.1:{pg_cluster.port}' in message


def test_an_unresolvable_host() -> None:
    message = _failure(f"postgresql://u:{SECRET}@no-such-host.invalid:5432/db")
    assert 'the host name "no-such-host.invalid" does not resolve' in message


def test_a_role_without_connect_privilege(pg_cluster: PgCluster, role: str) -> None:
    name = f"locked_{uuid.uuid4().hex[:8]}"
    pg_cluster.create_database(name)
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(name)))
    message = _failure(f"postgresql://{role}:{SECRET}@127.0.0.1:{pg_cluster.port}/{name}")
    assert f'role "{role}" lacks the CONNECT privilege on database "{name}"' in message
    assert f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"' in message


def test_a_query_the_role_may_not_run(pg_cluster: PgCluster, role: str, pg_db: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE secret_table (x int)")
        conn.execute(sql.SQL("REVOKE ALL ON secret_table FROM PUBLIC"))
    database = psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"]
    url = f"postgresql://{role}:{SECRET}@127.0.0.1:{pg_cluster.port}/{database}"
    with pytest.raises(ProbeUnreachable) as caught, connect({"DATABASE_URL": url}) as conn:
        rows(conn, "SELECT * FROM secret_table")
    message = str(caught.value)
    assert message.startswith(f"connected with DATABASE_URL ({role}@")
    assert "the role lacks a privilege (permission denied for table secret_table)" in message


def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    monkeypatch.setattr(db, "CONNECT_TIMEOUT_S", 1)
    port = listener.getsockname()[1]
    try:
        message = _failure(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db")
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert f"no answer from 127.0.0.1:{port} within 1 s" in message


def test_a_certificate_from_an_unknown_authority_is_rejected(pg_cluster: PgCluster, role: str,
                                                             tmp_path: Path) -> None:
    """The demo's TLS terminator in front of the server, and a client that trusts another
    CA (sslmode=verify-full)."""
    write_self_signed(tmp_path / "server.crt", tmp_path / "server.key")
    write_self_signed(tmp_path / "other.crt", tmp_path / "other.key")
    with tls_terminator(pg_cluster, tmp_path / "server.crt", tmp_path / "server.key") as port:
        base = f"postgresql://{role}:{SECRET}@127.0.0.1:{port}/postgres"
        rejected = _failure(f"{base}?sslmode=verify-full&sslrootcert={tmp_path / 'other.crt'}")
        assert "the server's TLS certificate was rejected" in rejected
        assert "check sslrootcert" in rejected
        # the same server through the same terminator is reached with the right CA
        url = f"{base}?sslmode=verify-full&sslrootcert={tmp_path / 'server.crt'}"
        with connect({"DATABASE_URL": url}) as conn:
            assert rows(conn, "SELECT 1 AS one") == [{"one": 1}]


def test_a_dsn_that_does_not_parse_does_not_show_its_password() -> None:
    message = _failure(f"postgresql://u:{SECRET}@127.0.0.1:notaport/db")
    assert "does not parse" in message


def test_the_env_probe_names_the_cause_in_both_dsn_forms(pg_cluster: PgCluster, role: str,
                                                        tmp_path: Path) -> None:
    """The setup's DSN check, on the URL a SQLAlchemy app uses and on a libpq conninfo as
    psql and the scripts use: the wrong password is named, not 'ProbeUnreachable'."""
    url = f"postgresql+psycopg://{role}:nope@127.0.0.1:{pg_cluster.port}/postgres"
    conninfo = f"host=127.0.0.1 port={pg_cluster.port} user={role} password=nope dbname=postgres"
    for value in (url, conninfo):
        ctx = ProbeContext(workdir=tmp_path, env={"DATABASE_URL": value})
        result = run_probe("env.dsn", ctx, None, {"var": "DATABASE_URL"})
        assert not result.ok
        assert f'authentication failed for user "{role}"' in result.detail, result.detail
        assert "nope" not in result.detail and "ProbeUnreachable" not in result.detail


def test_a_password_libpq_cannot_read_is_not_shown() -> None:
    """A bare % in a URL's password: libpq quotes the token it choked on — the password."""
    dsn = f"postgresql://u:{SECRET}%zz@127.0.0.1:{free_port()}/db"
    with pytest.raises(psycopg.Error) as caught:
        psycopg.connect(dsn, connect_timeout=2)
    assert SECRET in str(caught.value)  # libpq's own words hold it
    failure = explain(caught.value, dsn)
    assert failure.kind == "bad_dsn"
    text = failure.text("PG_DSN", dsn)
    assert SECRET not in text and "does not parse" in text

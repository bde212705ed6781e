"""Every cause `connfail.explain` knows, read from the words libpq and the server write,
each with the exact cause and fix the operator is shown — pinned, so that the table of
causes reads every message as it did when it was a chain of ifs. The provoked failures
against a real server are in test_connfail.py; here the messages are written out, so that
causes no test server can stage (DNS, a full server, one starting up) are pinned too."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg_errors

from cockpit.probes.connfail import ConnectFailure, explain

DSN = "postgresql://app:s3cret@db.example:6543/shop"
SOCKET_DSN = "host=/tmp port=5432 user=app dbname=shop"
AUTH_FIX = "check that user's password (re-enter it, or fix it in the DSN)"
TLS_CERT_FIX = ("check sslrootcert (the CA that signed the server's certificate) and that the "
                "host name matches it")
HBA_FIX = "ask the DBA to allow this host, user and database in pg_hba.conf"
DNS = ('the host name "db.example" does not resolve',
       "check the host in the DSN and this machine's DNS")
TIMEOUT_FIX = ("check the network path and firewall to the server, and that it is not "
               "overloaded")
BUSY = ("busy", "the server has no free connection slot",
        "wait, or free connections (max_connections)")
OTHER_FIX = "the server's log may say more"
HBA_LINE = 'no pg_hba.conf entry for host "1.2.3.4", user "app", database "shop"'


def _failed(message: str) -> psycopg.OperationalError:
    return psycopg.OperationalError(message)


@pytest.mark.parametrize(("message", "dsn", "timeout_s", "expected"), [
    pytest.param('invalid connection option "foo"', DSN, None, (
        "bad_dsn", "the DSN does not parse as a connection string",
        "write it as postgresql://user:password@host:port/database?sslmode=require "
        "(or as key=value pairs)"), id="bad-dsn"),
    pytest.param('connection failed: connection to server at "10.0.0.1", port 6543 failed: '
                 'FATAL:  password authentication failed for user "app"', DSN, None,
                 ("auth", 'authentication failed for user "app"', AUTH_FIX), id="auth"),
    pytest.param("FATAL: password authentication failed", None, None,
                 ("auth", 'authentication failed for user "?"', AUTH_FIX), id="auth-unnamed"),
    pytest.param("fe_sendauth: no password supplied", DSN, None, (
        "no_password", "the server asks for a password and none was given",
        "put the password in the DSN or PGPASSWORD, or leave the DSN unset and let the "
        "cockpit ask for it"), id="no-password"),
    pytest.param("server does not support SSL, but SSL was required", DSN, None, (
        "tls_unsupported", "the server at db.example:6543 does not offer TLS, and the DSN "
        "requires it", "turn on ssl on the server (or the proxy in front of it); do not drop "
        "sslmode for production"), id="tls-unsupported"),
    pytest.param("SSL error: certificate verify failed", DSN, None, (
        "tls_rejected", "the server's TLS certificate was rejected (SSL error: certificate "
        "verify failed)", TLS_CERT_FIX), id="tls-rejected"),
    pytest.param('root cert file "/x" does not exist', DSN, None, (
        "tls_rejected", 'the server\'s TLS certificate was rejected (root cert file "/x" does '
        "not exist)", TLS_CERT_FIX), id="tls-root-cert"),
    pytest.param(f"FATAL:  {HBA_LINE}, SSL off", DSN, None, (
        "hba", f"the server refuses this client ({HBA_LINE}, SSL off)", HBA_FIX), id="hba"),
    pytest.param(f"FATAL:  {HBA_LINE}, no encryption", DSN, None, (
        "hba", f"the server refuses this client ({HBA_LINE}, no encryption)",
        f"{HBA_FIX} — or connect with sslmode=require, if the entry allows TLS only"),
        id="hba-no-encryption"),
    pytest.param("SSL SYSCALL error: EOF detected", DSN, None, (
        "tls", "TLS negotiation failed (SSL SYSCALL error: EOF detected)",
        "check the sslmode and certificate settings of the DSN"), id="tls"),
    pytest.param('connection to server at "127.0.0.1", port 6543 failed: Connection refused\n'
                 "\tIs the server running on that host and accepting TCP/IP connections?",
                 DSN, None, (
                     "refused", "connection refused at db.example:6543",
                     "check that PostgreSQL runs there and listens on that port "
                     "(listen_addresses, port), and the firewall"), id="refused"),
    pytest.param('could not translate host name "db.example" to address: Name or service not '
                 "known", DSN, None, ("dns", *DNS), id="dns"),
    pytest.param("nodename nor servname provided, or not known", DSN, None, ("dns", *DNS),
                 id="dns-bsd"),
    pytest.param("timeout expired", DSN, 2.5, (
        "timeout", "no answer from db.example:6543 within 2.5 s", TIMEOUT_FIX), id="timeout"),
    pytest.param("connection timed out", DSN, None, (
        "timeout", "no answer from db.example:6543", TIMEOUT_FIX), id="timed-out"),
    pytest.param('FATAL:  database "shop" does not exist', DSN, None, (
        "no_database", 'database "shop" does not exist on db.example:6543',
        "check the database name in the DSN"), id="no-database"),
    pytest.param('FATAL:  role "app" does not exist', DSN, None, (
        "no_role", 'role "app" does not exist on db.example:6543', "check the user in the DSN"),
        id="no-role"),
    pytest.param('FATAL:  permission denied for database "shop"\n'
                 "DETAIL:  User does not have CONNECT privilege.", DSN, None, (
                     "privilege", 'role "app" lacks the CONNECT privilege on database "shop"',
                     'GRANT CONNECT ON DATABASE "shop" TO "app" (a DBA)'), id="connect"),
    pytest.param("User does not have CONNECT privilege.", None, None, (
        "privilege", 'role "the role" lacks the CONNECT privilege on database "?"',
        'GRANT CONNECT ON DATABASE "?" TO "the role" (a DBA)'), id="connect-unnamed"),
    pytest.param("FATAL:  sorry, too many clients already", DSN, None, BUSY, id="busy"),
    pytest.param("FATAL:  remaining connection slots are reserved for non-replication "
                 "superuser connections", DSN, None, BUSY, id="busy-reserved"),
    pytest.param("FATAL:  the database system is starting up", DSN, None, (
        "not_ready", "the server is not accepting connections (the database system is "
        "starting up)", "wait and check again"), id="not-ready"),
    pytest.param('connection to server on socket "/tmp/.s.PGSQL.5432" failed: No such file or '
                 "directory", SOCKET_DSN, None, (
                     "no_socket", "no server on the local socket in /tmp, port 5432",
                     "check the socket folder and port, or that the server runs"),
                 id="no-socket"),
    pytest.param("FATAL:  le système de base de données s'arrête", DSN, None, (
        "other", "le système de base de données s'arrête", OTHER_FIX), id="other-language"),
    pytest.param("", DSN, None, ("other", "OperationalError", OTHER_FIX), id="other-empty"),
    pytest.param("whatever", "postgresql://u:p@h:notaport/db", None,
                 ("other", "whatever", OTHER_FIX), id="other-unparsed-dsn"),
    pytest.param("whatever", "postgresql://u:p@ss@h/db", None, (
        "bad_dsn", "the URL does not parse as meant: the password holds an un-encoded '@' "
        "(the URL's user part ends at it, so the rest of the password is read as the host)",
        "percent-encode it: write '@' as %40 in the URL (and '/' as %2F, '%' as %25)"),
        id="url-fault-first"),
])
def test_each_cause_is_named_with_its_fix(message: str, dsn: str | None,
                                          timeout_s: float | None,
                                          expected: tuple[str, str, str]) -> None:
    assert explain(_failed(message), dsn, timeout_s) == ConnectFailure(*expected)


def test_a_query_refused_for_a_privilege_is_read_by_its_sqlstate_after_connecting() -> None:
    failure = explain(pg_errors.InsufficientPrivilege("permission denied for table t"), DSN)
    assert failure == ConnectFailure(
        "privilege", "the role lacks a privilege (permission denied for table t)",
        "grant it to the role (a DBA), or connect as a role that has it", connected=True)


def test_sqlalchemys_wrapper_is_read_through_to_psycopgs_error() -> None:
    wrapper = RuntimeError("(psycopg.OperationalError) wrapped")
    wrapper.orig = _failed("FATAL:  sorry, too many clients already")  # type: ignore[attr-defined]
    assert explain(wrapper, DSN) == ConnectFailure(*BUSY)


def test_the_first_matching_cause_wins_when_a_message_holds_two() -> None:
    """A refused TLS handshake also says "ssl": the specific cause comes before the
    general one, and a certificate before the hba entry."""
    assert explain(_failed(f"{HBA_LINE}, SSL off"), DSN).kind == "hba"
    assert explain(_failed("SSL error: certificate verify failed; no pg_hba.conf entry"),
                   DSN).kind == "tls_rejected"

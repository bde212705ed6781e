"""Why a connection to PostgreSQL failed, by cause, with the next step to take — one place
for every DSN the cockpit uses (setup checks, probes, snapshot, halt diagnostics).

libpq reports a failed connection as text only: psycopg gives no SQLSTATE for it, even when
the server sent one (psycopg issue #1188). So the causes are read from libpq's and the
server's messages, in English; an error raised by a query once connected is read by its
SQLSTATE, through psycopg's error classes. A message no rule knows (one in another language
among them) is shown as libpq wrote it — never as a class name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.probes.dsn import conninfo, passwords, url_fault
from cockpit.session.redact import Redactor


@dataclass(frozen=True)
class Target:
    """Where a DSN points, without its password."""

    host: str
    port: str
    user: str
    database: str

    def __str__(self) -> str:
        where = f"{self.host}:{self.port}" if not self.host.startswith("/") else \
            f"socket {self.host} port {self.port}"
        return f"{self.user or '(default user)'}@{where}/{self.database or '(default db)'}"


def _passwords(dsn: str | None) -> list[str]:
    """The DSN's password as libpq reads it and as written in it, best effort (a DSN that
    does not parse may still hold one)."""
    return passwords(dsn, {}) if dsn else []


def target(dsn: str) -> Target | None:
    """The host, port, user and database a DSN (URL, SQLAlchemy URL or key=value) names;
    None if it does not parse, or libpq reads it otherwise than meant (a password's `@`)."""
    parts = conninfo(dsn)
    if parts is None or url_fault(dsn) is not None:
        return None
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    return Target(host=host, port=str(parts.get("port") or "5432"),
                  user=str(parts.get("user") or ""), database=str(parts.get("dbname") or ""))


@dataclass(frozen=True)
class ConnectFailure:
    kind: str  # auth, no_password, tls_unsupported, tls_rejected, tls, hba, refused, dns,
    #            timeout, no_database, no_role, privilege, busy, not_ready, no_socket,
    #            bad_dsn, other
    cause: str
    fix: str

    connected: bool = False  # the failure came from a query, after connecting

    def text(self, var: str, dsn: str | None) -> str:
        where = target(dsn) if dsn else None
        named = f"{var} ({where})" if where else var
        lead = f"connected with {named}, but" if self.connected else \
            f"cannot connect with {named}:"
        return f"{lead} {self.cause} — {self.fix}"


def _quoted(text: str, after: str) -> str | None:
    found = re.search(re.escape(after) + r' "([^"]*)"', text)
    return found.group(1) if found else None


def _libpq_line(message: str) -> str:
    """libpq's own words, the FATAL line first, without the "connection failed:" and
    "connection to server at ... failed:" wrappers psycopg and libpq put around them."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = " ".join(lines) if lines else message
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(r'connection to server (at|on) "[^"]*"( \([^)]*\))?, port \d+ failed:\s*',
                  "", text)
    return re.sub(r"\s+", " ", text.replace("FATAL:", "")).strip()


@dataclass(frozen=True)
class _Failed:
    """One failure as the causes read it: libpq's words with the password masked, the same
    lower-cased for matching, and where the DSN points."""

    original: BaseException
    message: str
    low: str
    where: Target | None
    timeout_s: float | None

    @property
    def host(self) -> str:
        return self.where.host if self.where else "the server"

    @property
    def port(self) -> str:
        return self.where.port if self.where else "?"

    @property
    def at(self) -> str:
        return f"{self.host}:{self.port}"

    def says(self, *needles: str) -> bool:
        return any(needle in self.low for needle in needles)


def _bad_dsn(f: _Failed) -> ConnectFailure | None:
    if not f.says("invalid connection option", "invalid dsn", 'missing "="', "invalid uri",
                  "invalid integer value", "invalid sslmode", "percent-encoded",
                  "invalid value for parameter"):
        return None
    # libpq's words quote the piece it choked on, which may be the password: not shown
    return ConnectFailure("bad_dsn", "the DSN does not parse as a connection string",
                          "write it as postgresql://user:password@host:port/database"
                          "?sslmode=require (or as key=value pairs)")


def _query_privilege(f: _Failed) -> ConnectFailure | None:
    from psycopg import errors as pg_errors  # here: psycopg costs every start 0.1 s

    if not isinstance(f.original, pg_errors.InsufficientPrivilege):
        return None
    return ConnectFailure("privilege", f"the role lacks a privilege ({f.message})",
                          "grant it to the role (a DBA), or connect as a role that has it",
                          connected=True)


def _auth(f: _Failed) -> ConnectFailure | None:
    if not f.says("password authentication failed"):
        return None
    user = _quoted(f.message, "for user") or (f.where.user if f.where else "?")
    return ConnectFailure("auth", f'authentication failed for user "{user}"',
                          "check that user's password (re-enter it, or fix it in the DSN)")


def _no_password(f: _Failed) -> ConnectFailure | None:
    if not f.says("no password supplied"):
        return None
    return ConnectFailure("no_password", "the server asks for a password and none was given",
                          "put the password in the DSN or PGPASSWORD, or leave the DSN "
                          "unset and let the cockpit ask for it")


def _tls_unsupported(f: _Failed) -> ConnectFailure | None:
    if not f.says("server does not support ssl"):
        return None
    return ConnectFailure("tls_unsupported", f"the server at {f.at} does not offer TLS, and "
                          "the DSN requires it", "turn on ssl on the server (or the proxy in "
                          "front of it); do not drop sslmode for production")


def _tls_rejected(f: _Failed) -> ConnectFailure | None:
    if not f.says("certificate", "root cert"):
        return None
    return ConnectFailure("tls_rejected", f"the server's TLS certificate was rejected "
                          f"({f.message})", "check sslrootcert (the CA that signed the "
                          "server's certificate) and that the host name matches it")


def _hba(f: _Failed) -> ConnectFailure | None:
    if not f.says("no pg_hba.conf entry"):
        return None
    fix = "ask the DBA to allow this host, user and database in pg_hba.conf"
    if f.says("no encryption"):
        fix += " — or connect with sslmode=require, if the entry allows TLS only"
    return ConnectFailure("hba", f"the server refuses this client ({f.message})", fix)


def _tls(f: _Failed) -> ConnectFailure | None:
    if not f.says("ssl", "tls"):
        return None
    return ConnectFailure("tls", f"TLS negotiation failed ({f.message})",
                          "check the sslmode and certificate settings of the DSN")


def _refused(f: _Failed) -> ConnectFailure | None:
    if not f.says("connection refused"):
        return None
    return ConnectFailure("refused", f"connection refused at {f.at}",
                          "check that PostgreSQL runs there and listens on that port "
                          "(listen_addresses, port), and the firewall")


def _dns(f: _Failed) -> ConnectFailure | None:
    if not f.says("could not translate host name", "name or service not known",
                  "nodename nor servname", "name resolution", "no address associated"):
        return None
    return ConnectFailure("dns", f'the host name "{f.host}" does not resolve',
                          "check the host in the DSN and this machine's DNS")


def _timeout(f: _Failed) -> ConnectFailure | None:
    if not f.says("timeout expired", "timed out"):
        return None
    within = f" within {f.timeout_s:g} s" if f.timeout_s else ""
    return ConnectFailure("timeout", f"no answer from {f.at}{within}",
                          "check the network path and firewall to the server, and that it "
                          "is not overloaded")


def _no_database(f: _Failed) -> ConnectFailure | None:
    name = _quoted(f.message, "database")
    if name is None or not f.says("does not exist"):
        return None
    return ConnectFailure("no_database", f'database "{name}" does not exist on {f.at}',
                          "check the database name in the DSN")


def _no_role(f: _Failed) -> ConnectFailure | None:
    name = _quoted(f.message, "role")
    if name is None or not f.says("does not exist"):
        return None
    return ConnectFailure("no_role", f'role "{name}" does not exist on {f.at}',
                          "check the user in the DSN")


def _connect_privilege(f: _Failed) -> ConnectFailure | None:
    if not f.says("permission denied for database", "connect privilege"):
        return None
    user = f.where.user if f.where else "the role"
    database = _quoted(f.message, "database") or (f.where.database if f.where else "?")
    return ConnectFailure("privilege", f'role "{user}" lacks the CONNECT privilege on '
                          f'database "{database}"',
                          f'GRANT CONNECT ON DATABASE "{database}" TO "{user}" (a DBA)')


def _busy(f: _Failed) -> ConnectFailure | None:
    if not f.says("too many clients", "connection slots are reserved"):
        return None
    return ConnectFailure("busy", "the server has no free connection slot",
                          "wait, or free connections (max_connections)")


def _not_ready(f: _Failed) -> ConnectFailure | None:
    if not f.says("starting up", "shutting down", "in recovery mode",
                  "not yet accepting connections", "not accepting connections"):
        return None
    return ConnectFailure("not_ready", f"the server is not accepting connections "
                          f"({f.message})", "wait and check again")


def _no_socket(f: _Failed) -> ConnectFailure | None:
    if not (f.says("no such file or directory") and f.says("socket")):
        return None
    return ConnectFailure("no_socket", f"no server on the local socket in {f.host}, port "
                          f"{f.port}", "check the socket folder and port, or that the server "
                          "runs")


# The causes in the order they are tried: the first that knows the message names it. The
# specific before the general: a rejected certificate and an hba entry say "ssl" too.
_CAUSES: tuple[Callable[[_Failed], ConnectFailure | None], ...] = (
    _bad_dsn, _query_privilege, _auth, _no_password, _tls_unsupported, _tls_rejected, _hba,
    _tls, _refused, _dns, _timeout, _no_database, _no_role, _connect_privilege, _busy,
    _not_ready, _no_socket)


def explain(exc: BaseException, dsn: str | None = None, timeout_s: float | None = None,
            ) -> ConnectFailure:
    """The cause of a failed connection or query (`exc`: psycopg's error, or SQLAlchemy's
    wrapping one), with the next step."""
    original = getattr(exc, "orig", None) or exc
    if dsn and (fault := url_fault(dsn)) is not None:  # libpq's own words would mislead
        return ConnectFailure("bad_dsn", *fault)
    # libpq does not quote a password; a message about the DSN's form might: masked in
    # every encoding, as the session masks it
    message = Redactor(_passwords(dsn)).redact_text(_libpq_line(str(original)))
    failed = _Failed(original, message, message.lower(), target(dsn) if dsn else None,
                     timeout_s)
    for cause in _CAUSES:
        if (found := cause(failed)) is not None:
            return found
    return ConnectFailure("other", message or type(original).__name__,
                          "the server's log may say more")

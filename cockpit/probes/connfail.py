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
from dataclasses import dataclass

from psycopg import errors as pg_errors

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


def explain(exc: BaseException, dsn: str | None = None, timeout_s: float | None = None,
            ) -> ConnectFailure:
    """The cause of a failed connection or query (`exc`: psycopg's error, or SQLAlchemy's
    wrapping one), with the next step."""
    original = getattr(exc, "orig", None) or exc
    if dsn and (fault := url_fault(dsn)) is not None:  # libpq's own words would mislead
        return ConnectFailure("bad_dsn", *fault)
    where = target(dsn) if dsn else None
    host = where.host if where else "the server"
    port = where.port if where else "?"
    # libpq does not quote a password; a message about the DSN's form might: masked in
    # every encoding, as the session masks it
    message = Redactor(_passwords(dsn)).redact_text(_libpq_line(str(original)))
    low = message.lower()
    if any(n in low for n in ("invalid connection option", "invalid dsn", 'missing "="',
                              "invalid uri", "invalid integer value", "invalid sslmode",
                              "percent-encoded", "invalid value for parameter")):
        # libpq's words quote the piece it choked on, which may be the password: not shown
        return ConnectFailure("bad_dsn", "the DSN does not parse as a connection string",
                              "write it as postgresql://user:password@host:port/database"
                              "?sslmode=require (or as key=value pairs)")
    if isinstance(original, pg_errors.InsufficientPrivilege):
        return ConnectFailure("privilege", f"the role lacks a privilege ({message})",
                              "grant it to the role (a DBA), or connect as a role that has it",
                              connected=True)
    if "password authentication failed" in low:
        user = _quoted(message, "for user") or (where.user if where else "?")
        return ConnectFailure("auth", f'authentication failed for user "{user}"',
                              "check that user's password (re-enter it, or fix it in the DSN)")
    if "no password supplied" in low:
        return ConnectFailure("no_password", "the server asks for a password and none was given",
                              "put the password in the DSN or PGPASSWORD, or leave the DSN "
                              "unset and let the cockpit ask for it")
    if "server does not support ssl" in low:
        return ConnectFailure("tls_unsupported", f"the server at {host}:{port} does not offer "
                              "TLS, and the DSN requires it",
                              "turn on ssl on the server (or the proxy in front of it); "
                              "do not drop sslmode for production")
    if "certificate" in low or "root cert" in low:
        return ConnectFailure("tls_rejected", f"the server's TLS certificate was rejected "
                              f"({message})", "check sslrootcert (the CA that signed the "
                              "server's certificate) and that the host name matches it")
    if "no pg_hba.conf entry" in low:
        fix = "ask the DBA to allow this host, user and database in pg_hba.conf"
        if "no encryption" in low:
            fix += " — or connect with sslmode=require, if the entry allows TLS only"
        return ConnectFailure("hba", f"the server refuses this client ({message})", fix)
    if "ssl" in low or "tls" in low:
        return ConnectFailure("tls", f"TLS negotiation failed ({message})",
                              "check the sslmode and certificate settings of the DSN")
    if "connection refused" in low:
        return ConnectFailure("refused", f"connection refused at {host}:{port}",
                              "check that PostgreSQL runs there and listens on that port "
                              "(listen_addresses, port), and the firewall")
    if any(n in low for n in ("could not translate host name", "name or service not known",
                              "nodename nor servname", "name resolution",
                              "no address associated")):
        return ConnectFailure("dns", f'the host name "{host}" does not resolve',
                              "check the host in the DSN and this machine's DNS")
    if "timeout expired" in low or "timed out" in low:
        within = f" within {timeout_s:g} s" if timeout_s else ""
        return ConnectFailure("timeout", f"no answer from {host}:{port}{within}",
                              "check the network path and firewall to the server, and that "
                              "it is not overloaded")
    if (name := _quoted(message, "database")) is not None and "does not exist" in low:
        return ConnectFailure("no_database", f'database "{name}" does not exist on '
                              f"{host}:{port}", "check the database name in the DSN")
    if (name := _quoted(message, "role")) is not None and "does not exist" in low:
        return ConnectFailure("no_role", f'role "{name}" does not exist on {host}:{port}',
                              "check the user in the DSN")
    if "permission denied for database" in low or "connect privilege" in low:
        user = where.user if where else "the role"
        database = _quoted(message, "database") or (where.database if where else "?")
        return ConnectFailure("privilege", f'role "{user}" lacks the CONNECT privilege on '
                              f'database "{database}"',
                              f'GRANT CONNECT ON DATABASE "{database}" TO "{user}" (a DBA)')
    if "too many clients" in low or "connection slots are reserved" in low:
        return ConnectFailure("busy", "the server has no free connection slot",
                              "wait, or free connections (max_connections)")
    if any(n in low for n in ("starting up", "shutting down", "in recovery mode",
                              "not yet accepting connections", "not accepting connections")):
        return ConnectFailure("not_ready", f"the server is not accepting connections ({message})",
                              "wait and check again")
    if "no such file or directory" in low and "socket" in low:
        return ConnectFailure("no_socket", f"no server on the local socket in {host}, port "
                              f"{port}", "check the socket folder and port, or that the "
                              "server runs")
    return ConnectFailure("other", message or type(original).__name__,
                          "the server's log may say more")

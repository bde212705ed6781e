"""Whether a DSN reaches the server itself or something in between, told by behaviour: a
transaction-mode pooler hands each transaction to whichever server connection is free (the
backend pid of one client changes while another holds the one it had); anything in between
answers on another port than the server's own (`inet_server_port()`); and startup options
are taken, refused or silently dropped."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

import psycopg

from cockpit.probes.db import libpq_connect
from cockpit.probes.dsn import conninfo

Options = Literal["taken", "refused", "dropped"]
# A custom setting a client leaves on its server connection, for another client to find.
_MARK = "cockpit.path_probe"
# A value no server has by default, so one that reads back proves the option arrived.
_PROBE_OPTION = ("lock_timeout", "4321")


@dataclass(frozen=True)
class ServerPath:
    """What lies between a DSN and its server."""

    transaction_pooled: bool  # the backend changed between two transactions
    server_port: int | None  # the server's own port, as it says; None: its local socket
    dsn_port: int  # the port the DSN names
    options: Options
    dsn_socket: bool = False  # the DSN itself names a local socket

    @property
    def in_between(self) -> bool:
        """Something answers for the server: a pooler, a proxy, a TLS terminator (one that
        relays TCP to the server's local socket too)."""
        if self.server_port is None:
            return self.transaction_pooled or not self.dsn_socket
        return self.transaction_pooled or self.server_port != self.dsn_port


def first_port(params: dict[str, str]) -> int:
    """The port libpq tries first (a multi-host DSN lists one per host)."""
    port = (params.get("port") or "").split(",")[0].strip()
    return int(port) if port.isdigit() else 5432




def _options(params: dict[str, str]) -> Options:
    name, value = _PROBE_OPTION
    try:
        with libpq_connect(params, options=f"-c {name}={value}") as conn:
            row = conn.execute("SELECT setting FROM pg_settings WHERE name = %s",
                               [name]).fetchone()
    except psycopg.OperationalError as exc:
        if "startup parameter" in str(exc):
            return "refused"
        raise
    return "taken" if row and row[0] == value else "dropped"


def _transaction_pooled(params: dict[str, str]) -> tuple[bool, int | None]:
    """Whether one client's transactions are served by more than one server connection,
    told three ways, any one enough: A's backend changes across its own transactions (a
    round-robin pool); client B, opening a transaction after A's, sees the mark A left on
    its server connection (B was handed it); A's backend changes while B holds a
    transaction open (A cannot have its old one back). A session pooler, or the server
    itself, keeps one backend per client through all of it. Also the server's own port."""
    token = secrets.token_hex(8)
    mark = "SELECT pg_backend_pid(), inet_server_port(), set_config(%s, %s, false)"
    with libpq_connect(params) as first, libpq_connect(params) as second:
        rows = []
        for _ in range(3):
            with first.transaction():
                row = first.execute(mark, [_MARK, token]).fetchone()
            assert row is not None
            rows.append(row)
        seen = {pid for pid, *_ in rows}
        before, server_port = rows[-1][0], rows[-1][1]
        if len(seen) > 1:
            return True, server_port
        with second.transaction():
            taken = second.execute("SELECT pg_backend_pid(), current_setting(%s, true)",
                                   [_MARK]).fetchone()
            assert taken is not None
            if taken[0] == before or taken[1] == token:  # a pool of one, too: A never waits
                return True, server_port
            with first.transaction():
                after = first.execute("SELECT pg_backend_pid()").fetchone()
    assert after is not None
    return after[0] != before, server_port


def admin_console(params: dict[str, str]) -> str | None:
    """PgBouncer's own answer where its admin console lets this role in (`SHOW VERSION` on
    database `pgbouncer`, for `admin_users` and `stats_users`), else None."""
    try:
        with libpq_connect(params, dbname="pgbouncer") as conn:
            conn.autocommit = True  # the console takes no transactions
            row = conn.execute("SHOW VERSION").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def probe_path(dsn: str) -> ServerPath:
    """The path to the server (psycopg.OperationalError: it cannot be reached at all)."""
    params = conninfo(dsn)
    if params is None:
        raise ValueError("the DSN does not parse")
    pooled, server_port = _transaction_pooled(params)
    host = (params.get("host") or "").split(",")[0].strip()
    return ServerPath(transaction_pooled=pooled, server_port=server_port,
                      dsn_port=first_port(params), options=_options(params),
                      dsn_socket=not host or host.startswith(("/", "@")))

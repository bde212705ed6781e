"""Whether a DSN reaches the server itself or something in between, told by behaviour: a
transaction-mode pooler hands each transaction to whichever server connection is free (the
backend pid of one client changes while another holds the one it had); anything in between
answers on another port than the server's own (`inet_server_port()`); and startup options
are taken, refused or silently dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg.conninfo import make_conninfo

from cockpit.probes.dsn import conninfo

Options = Literal["taken", "refused", "dropped"]
# A value no server has by default, so one that reads back proves the option arrived.
_PROBE_OPTION = ("lock_timeout", "4321")


@dataclass(frozen=True)
class ServerPath:
    """What lies between a DSN and its server."""

    transaction_pooled: bool  # the backend changed between two transactions
    server_port: int | None  # the server's own port, as it says
    dsn_port: int  # the port the DSN names
    options: Options

    @property
    def in_between(self) -> bool:
        """Something answers for the server: a pooler, a proxy, a TLS terminator."""
        return self.transaction_pooled or (self.server_port is not None
                                           and self.server_port != self.dsn_port)


def _connect(params: dict[str, str], **more: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo("", **{**params, **more}), connect_timeout=10)


def _options(params: dict[str, str]) -> Options:
    name, value = _PROBE_OPTION
    try:
        with _connect(params, options=f"-c {name}={value}") as conn:
            row = conn.execute("SELECT setting FROM pg_settings WHERE name = %s",
                               [name]).fetchone()
    except psycopg.OperationalError as exc:
        if "startup parameter" in str(exc):
            return "refused"
        raise
    return "taken" if row and row[0] == value else "dropped"


def probe_path(dsn: str) -> ServerPath:
    """The path to the server (psycopg.OperationalError: it cannot be reached at all)."""
    params = conninfo(dsn)
    if params is None:
        raise ValueError("the DSN does not parse")
    # Client A's two transactions, with client B holding a transaction open between them:
    # a transaction pooler gives B the server connection A let go, and A another one; a
    # session pooler (or the server itself) keeps A's.
    with _connect(params) as first, _connect(params) as second:
        with first.transaction():
            row = first.execute("SELECT pg_backend_pid(), inet_server_port()").fetchone()
        assert row is not None
        before, server_port = row
        with second.transaction():
            second.execute("SELECT 1")
            with first.transaction():
                after = first.execute("SELECT pg_backend_pid()").fetchone()
    assert after is not None
    pids = [before, after[0]]
    return ServerPath(transaction_pooled=pids[0] != pids[1], server_port=server_port,
                 dsn_port=int(params.get("port") or 5432), options=_options(params))

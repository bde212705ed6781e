"""Database connections for probes: SQLAlchemy 2 + psycopg 3, parameters hidden, a short
connect timeout, and failures turned into a cause a person can act on (connfail.py; never a
traceback).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cockpit.probes.connfail import explain
from cockpit.probes.dsn import conninfo, is_url, url_fault

if TYPE_CHECKING:  # SQLAlchemy and psycopg are imported on the first connection, not at
    import psycopg  # every start (0.5 s, before the first screen)
    import sqlalchemy
    from sqlalchemy import URL, Connection, Engine

CONNECT_TIMEOUT_S = 5


class ProbeUnreachable(Exception):
    """The probe's target could not be reached or read; the message names the cause and
    the next step."""


def libpq_connect(params: Mapping[str, str], timeout_s: float = 10, autocommit: bool = False,
                  **more: str) -> psycopg.Connection[Any]:
    """A psycopg connection from libpq's parameters (`conninfo`'s reading of a DSN), `more`
    replacing some: the connection a step's own libpq would make, for the probes that must
    see what it sees (startup options, a pooler in between)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    return psycopg.connect(make_conninfo("", **{**params, **more}),
                           connect_timeout=max(1, round(timeout_s)), autocommit=autocommit)


def sqlalchemy_url(env: Mapping[str, str], var: str = "DATABASE_URL") -> URL:
    """The DSN as SQLAlchemy's URL, built from libpq's reading of it (a URL or key=value
    pairs) — the reading the setup check makes, never a second parser's."""
    url = env.get(var)
    if not url:
        raise ProbeUnreachable(f"{var} is not set")
    if (fault := url_fault(url)) is not None:
        raise ProbeUnreachable(f"{var}: {fault[0]} — {fault[1]}")
    scheme = url.partition("://")[0] if is_url(url) else ""
    # postgresql:// and postgres:// are libpq's; a driver named (postgresql+…) is kept
    driver = scheme if "+" in scheme else "postgresql+psycopg"
    found = conninfo(url)
    if found is None:
        raise ProbeUnreachable(
            f"{var} does not parse as a database URL or key=value pairs — write it as "
            "postgresql://user:password@host:port/database?sslmode=require (percent-encode "
            "the password), or as libpq's host=… port=… user=… password='…' dbname=…")
    # each parameter goes to psycopg as the keyword libpq read it as
    password = found.pop("password", None)
    from sqlalchemy import URL

    return URL.create(driver, username=found.pop("user", None), password=password,
                      database=found.pop("dbname", None), query=found)


def make_engine(env: Mapping[str, str], var: str = "DATABASE_URL") -> Engine:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    try:
        return sqlalchemy.create_engine(sqlalchemy_url(env, var), hide_parameters=True,
                                        poolclass=NullPool,
                                        connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except (sqlalchemy.exc.ArgumentError, ValueError):  # its words may quote the URL
        raise ProbeUnreachable(
            f"{var} does not parse as a database URL — write it as postgresql://user:password"
            "@host:port/database?sslmode=require") from None


def _lost(exc: sqlalchemy.exc.DBAPIError) -> bool:
    """The connection itself failed mid-query (no SQLSTATE: the server or the network went
    away), rather than the query."""
    import psycopg

    return exc.connection_invalidated or (
        isinstance(exc.orig, psycopg.OperationalError) and exc.orig.sqlstate is None)


@contextmanager
def connect(env: Mapping[str, str], var: str = "DATABASE_URL") -> Iterator[Connection]:
    """A connection, or ProbeUnreachable naming the cause and the next step: when it cannot
    be opened, when it is lost, and when the role lacks a privilege a query needs (other
    errors of a query are the caller's)."""
    import psycopg
    import sqlalchemy
    from psycopg import errors as pg_errors

    engine = make_engine(env, var)
    dsn = env.get(var)
    try:
        try:
            conn = engine.connect()
        except (sqlalchemy.exc.DBAPIError, psycopg.Error) as exc:
            failure = explain(exc, dsn, CONNECT_TIMEOUT_S)
            raise ProbeUnreachable(failure.text(var, dsn)) from None
        with conn:
            try:
                yield conn
            except sqlalchemy.exc.DBAPIError as exc:
                if isinstance(exc.orig, pg_errors.InsufficientPrivilege) or _lost(exc):
                    failure = explain(exc, dsn, CONNECT_TIMEOUT_S)
                    if _lost(exc):
                        failure = replace(failure, cause=f"the connection was lost "
                                          f"({failure.cause})", connected=True)
                    raise ProbeUnreachable(failure.text(var, dsn)) from None
                raise
    finally:
        engine.dispose()


def rows(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    import sqlalchemy

    return [dict(r._mapping) for r in conn.execute(sqlalchemy.text(sql), params)]


def cut_query(text: str | None, redact: Callable[[str], str], limit: int) -> str | None:
    """A query's text as shown and kept: its secrets masked first, then cut to `limit`
    characters (the other way round, a password cut by the limit would escape the mask)."""
    return None if text is None else redact(text)[:limit]

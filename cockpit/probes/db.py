"""Database connections for probes: SQLAlchemy 2 + psycopg 3, parameters hidden, a short
connect timeout, and failures turned into a cause a person can act on (never a traceback).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool

CONNECT_TIMEOUT_S = 5


class ProbeUnreachable(Exception):
    """The probe's target could not be reached; the message names the cause."""


def sqlalchemy_url(env: Mapping[str, str], var: str = "DATABASE_URL") -> str:
    url = env.get(var)
    if not url:
        raise ProbeUnreachable(f"{var} is not set")
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(env: Mapping[str, str], var: str = "DATABASE_URL") -> Engine:
    return create_engine(sqlalchemy_url(env, var), hide_parameters=True, poolclass=NullPool,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def describe_failure(exc: BaseException) -> str:
    """Why a connection failed, in words, without the DSN."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).lower()
    for needle, cause in (
        ("password authentication failed", "authentication failed"),
        ("connection refused", "connection refused"),
        ("timeout expired", f"timeout after {CONNECT_TIMEOUT_S} s"),
        ("could not translate host name", "host name not found"),
        ("does not exist", "database or role does not exist"),
        ("ssl", "TLS negotiation failed"),
        ("no pg_hba.conf entry", "server refuses this client (pg_hba.conf)"),
    ):
        if needle in text:
            return cause
    return f"{type(original).__name__}"


@contextmanager
def connect(env: Mapping[str, str], var: str = "DATABASE_URL") -> Iterator[Connection]:
    """A connection, or ProbeUnreachable with the cause."""
    engine = make_engine(env, var)
    try:
        with engine.connect() as conn:
            yield conn
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
            psycopg.OperationalError) as exc:
        raise ProbeUnreachable(f"cannot reach the database: {describe_failure(exc)}") from None
    finally:
        engine.dispose()


def rows(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sqlalchemy.text(sql), params)]

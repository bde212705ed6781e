"""The session's DSNs: present, parseable, consistent with each other, the required database
and properties — and, on a live connection, TLS really in use, since a `sslmode=require` in
a string proves nothing by itself. The connection's own TLS state (libpq's) is the proof;
pg_stat_ssl adds whether the server or something in front of it terminates TLS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import sqlalchemy

from cockpit.probes.alembic_probes import guarded
from cockpit.probes.connfail import explain
from cockpit.probes.db import CONNECT_TIMEOUT_S, ProbeUnreachable, connect
from cockpit.probes.dsn import identity
from cockpit.probes.registry import ProbeContext, ProbeResult, register

TLS_SQL = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def _parts(dsn: str, env: Mapping[str, str]) -> dict[str, Any]:
    """What a DSN names (a URL or key=value pairs), the port defaulted as libpq does."""
    found = identity(dsn, env)
    return {**found, "port": found["port"] or 5432}


def _tls_in_use(env: Mapping[str, str], var: str) -> tuple[bool, str]:
    """Whether the live connection `var` opens is encrypted — as libpq negotiated it on
    this very connection — and whether the server itself terminates TLS (pg_stat_ssl)."""
    value = env[var]
    row: Sequence[Any] | None  # pg_stat_ssl's (ssl, version), if the server has a row
    try:
        if "+" in value.split("://", 1)[0]:  # SQLAlchemy form: through SQLAlchemy, as the app
            with connect(env, var) as conn:
                dbapi = conn.connection.dbapi_connection
                assert dbapi is not None  # None only once the connection is closed
                client = bool(dbapi.pgconn.ssl_in_use)
                row = conn.execute(sqlalchemy.text(TLS_SQL)).one()
        else:  # libpq form: through psycopg, as psql and the scripts would
            with psycopg.connect(value, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                client = bool(conn.pgconn.ssl_in_use)
                row = conn.execute(TLS_SQL).fetchone()
    except ProbeUnreachable as exc:  # through SQLAlchemy: the cause is named already
        return False, str(exc)
    except psycopg.Error as exc:
        return False, explain(exc, value, CONNECT_TIMEOUT_S).text(var, value)
    except Exception as exc:  # a query that failed once connected, say: named, not raised
        return False, f"{var}: the live TLS check failed ({explain(exc, value).cause})"
    if not client:
        return False, f"{var}: connected WITHOUT TLS"
    server = (f"the server terminates it ({row[1]})" if row and row[0]
              else "terminated in front of the server (pg_stat_ssl shows none)")
    return True, f"{var}: TLS in use on the live connection; {server}"


@register("env.dsn")
@guarded
def probe_env_dsn(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]) -> ProbeResult:
    var = str(args.get("var", "DATABASE_URL"))
    others = [str(v) for v in args.get("same_as", []) if v != var]
    problems: list[str] = []
    value = ctx.env.get(var)
    # Everything this probe checks is the operator's environment, not the change: a failure
    # is theirs to fix and check again (reached=False), never a finding.
    if not value:
        return ProbeResult(False, None, f"{var} is not set", reached=False)
    try:
        mine = _parts(value, ctx.env)
    except ValueError as exc:
        return ProbeResult(False, None, f"{var} does not parse ({exc})", reached=False)
    if args.get("database") and mine["database"] != args["database"]:
        problems.append(f"{var} names database {mine['database']!r}, the runbook requires "
                        f"{args['database']!r}")
    for key, want in dict(args.get("require", {})).items():
        if mine["query"].get(key) != want:
            problems.append(f"{var} lacks {key}={want}")
    for other in others:
        if other not in ctx.env:
            problems.append(f"{other} is not set")
            continue
        try:
            theirs = _parts(ctx.env[other], ctx.env)
        except ValueError as exc:
            problems.append(f"{other} does not parse ({exc})")
            continue
        for key in ("host", "port", "user", "database"):
            if theirs[key] != mine[key]:
                problems.append(f"{var} and {other} differ in {key}: {mine[key]!r} vs "
                                f"{theirs[key]!r}")
    tls_ok, tls_detail = _tls_in_use(ctx.env, var)
    if not tls_ok:
        problems.append(tls_detail)
    observed = {"host": mine["host"], "port": mine["port"], "user": mine["user"],
                "database": mine["database"], "tls": tls_ok}
    return ProbeResult(not problems, observed, "; ".join(problems) or tls_detail,
                       reached=not problems)

"""Pre-flight probes: what a DBA asks of the production database before GO — no long or
idle-in-transaction session, replicas caught up, connection slots free, nobody already
waiting on a lock. Each answers with the sessions it found; a role that cannot see other
roles' sessions answers `not checked (needs pg_read_all_stats)`, never a pass."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cockpit.probes.alembic_probes import guarded
from cockpit.probes.db import connect, cut_query, rows
from cockpit.probes.registry import ProbeContext, ProbeResult, register
from cockpit.runbook.model import duration_seconds
from cockpit.session.timing import clock

if TYPE_CHECKING:
    from sqlalchemy import Connection

NOT_CHECKED = "not checked (needs pg_read_all_stats)"
QUERY_CHARS = 200  # what a found session keeps of its query, once masked
KEPT = 100  # sessions kept as evidence; more are counted
NAMED = 3  # sessions the one-line detail names

# Membership, not a look at the rows: without the role, pg_stat_activity still lists other
# roles' sessions but hides their state and query, which would read as "nothing found".
_SEES = """
SELECT current_user AS role,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
       OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all"""

_SESSIONS = """
SELECT a.pid, a.usename, a.application_name, a.state, a.wait_event_type, a.wait_event,
       round(extract(epoch FROM now() - a.xact_start)::numeric, 1) AS xact_s,
       round(extract(epoch FROM now() - a.state_change)::numeric, 1) AS state_s,
       (SELECT round(extract(epoch FROM now() - min(l.waitstart))::numeric, 1)
          FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS wait_s,
       pg_blocking_pids(a.pid) AS blocked_by, a.query
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
  AND a.datname = current_database()
  AND left(coalesce(a.application_name, ''), 8) <> 'cockpit:'
  {where}
ORDER BY a.pid"""

# Slots are the server's, whatever the database: every client session but this probe's own
# holds one (the cockpit's too — they are real), reserved slots are not the application's.
_SLOTS = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
       + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) AS in_use"""

# replay_lag is NULL once a replica has caught up and no WAL has come since: no lag.
_REPLICAS = """
SELECT pid, application_name, client_addr::text AS client, state, sync_state,
       round(extract(epoch FROM coalesce(replay_lag, flush_lag, write_lag, interval '0'))
             ::numeric, 3) AS lag_s,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END AS behind_bytes
FROM pg_stat_replication ORDER BY pid"""


def _busy(observed: Any, detail: str) -> ProbeResult:
    """A database busy now: no finding about the change (which would halt the session), but
    a cause the operator clears — ends the session, waits for the replica — and checks again."""
    return ProbeResult(False, observed, detail, reached=False)


def _blind(conn: Connection) -> ProbeResult | None:
    """`not checked` when this role cannot see other roles' sessions, else None."""
    found = rows(conn, _SEES)[0]
    if found["sees_all"]:
        return None
    role = found["role"]
    return ProbeResult(False, NOT_CHECKED,
                       f"{NOT_CHECKED}: role {role} cannot see other roles' sessions — "
                       f"GRANT pg_read_all_stats TO {role} (or pg_monitor), then check again",
                       reached=False)


def _session(found: dict[str, Any], age: str, redact: Callable[[str], str]) -> dict[str, Any]:
    return {"pid": found["pid"], "application_name": found["application_name"],
            "user": found["usename"], "state": found["state"],
            "wait": (f"{found['wait_event_type']}/{found['wait_event']}"
                     if found["wait_event_type"] else None),
            "age_s": float(found[age]) if found[age] is not None else None,
            "blocked_by": found["blocked_by"] or [],
            "query": cut_query(found["query"], redact, QUERY_CHARS)}


def _sessions(ctx: ProbeContext, where: str, age: str) -> list[dict[str, Any]] | ProbeResult:
    """The sessions of this database that `where` picks (the cockpit's and this probe's own
    left out), each with its age from the column `age`; or `not checked`."""
    with connect(ctx.env) as conn:
        refused = _blind(conn)
        if refused is not None:
            return refused
        found = rows(conn, _SESSIONS.format(where=where))
    return [_session(s, age, ctx.redact) for s in found]


def _named(sessions: list[dict[str, Any]], age_word: str) -> str:
    """`pid 412 billing-app (idle in transaction, 0:06:12): SELECT …; …` for the first few."""
    parts = []
    for s in sessions[:NAMED]:
        age = f", {age_word} {clock(s['age_s'])}" if s["age_s"] is not None else ""
        blocked = (f", blocked by {', '.join(map(str, s['blocked_by']))}"
                   if s["blocked_by"] else "")
        query = " ".join((s["query"] or "").split())[:80]
        parts.append(f"pid {s['pid']} {s['application_name'] or '(no application name)'} "
                     f"({s['state']}{age}{blocked}): {query}")
    more = len(sessions) - NAMED
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _kept(sessions: list[dict[str, Any]], over: list[dict[str, Any]]) -> dict[str, Any]:
    pids = {s["pid"] for s in over}
    return {"sessions": [{**s, "over_limit": s["pid"] in pids} for s in sessions[:KEPT]],
            "found": len(sessions), "over_limit": len(over)}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@register("db.long_transactions")
@guarded
def probe_long_transactions(ctx: ProbeContext, expected: Any,
                            args: Mapping[str, Any]) -> ProbeResult:
    limit = str(args.get("max_age", "5m"))
    found = _sessions(ctx, "AND a.xact_start IS NOT NULL", "xact_s")
    if isinstance(found, ProbeResult):
        return found
    over = [s for s in found if (s["age_s"] or 0) > duration_seconds(limit)]
    observed = {"max_age": limit, **_kept(found, over)}
    if over:
        return _busy(observed, f"{_plural(len(over), 'transaction')} older than "
                           f"{limit}: {_named(over, 'open')}")
    oldest = max((s["age_s"] or 0 for s in found), default=None)
    return ProbeResult(True, observed, f"no transaction older than {limit}" + (
        f" ({len(found)} open, the oldest {clock(oldest)})" if oldest is not None else ""))


@register("db.idle_in_transaction")
@guarded
def probe_idle_in_transaction(ctx: ProbeContext, expected: Any,
                              args: Mapping[str, Any]) -> ProbeResult:
    limit = args.get("max_age")
    found = _sessions(ctx, "AND a.state IN ('idle in transaction', "
                           "'idle in transaction (aborted)')", "state_s")
    if isinstance(found, ProbeResult):
        return found
    longer = f" longer than {limit}" if limit else ""
    over = [s for s in found
            if limit is None or (s["age_s"] or 0) > duration_seconds(str(limit))]
    observed = {"max_age": limit, **_kept(found, over)}
    if over:
        return _busy(observed, f"{_plural(len(over), 'session')} idle in a "
                           f"transaction{longer}: {_named(over, 'for')}")
    return ProbeResult(True, observed, f"no session idle in a transaction{longer}" + (
        f" ({len(found)} idle for less)" if found else ""))


@register("db.lock_waiters")
@guarded
def probe_lock_waiters(ctx: ProbeContext, expected: Any,
                       args: Mapping[str, Any]) -> ProbeResult:
    most = int(args.get("max_waiting", 0))
    found = _sessions(ctx, "AND a.wait_event_type = 'Lock'", "wait_s")
    if isinstance(found, ProbeResult):
        return found
    ok = len(found) <= most
    observed = {"max_waiting": most, **_kept(found, [] if ok else found)}
    if not found:
        return ProbeResult(True, observed, "no session waiting on locks")
    said = f"{_plural(len(found), 'session')} waiting on locks (at most {most})"
    said = f"{said}: {_named(found, 'waiting')}"
    return ProbeResult(True, observed, said) if ok else _busy(observed, said)


@register("db.connection_headroom")
@guarded
def probe_connection_headroom(ctx: ProbeContext, expected: Any,
                              args: Mapping[str, Any]) -> ProbeResult:
    min_free, percent = int(args.get("min_free", 5)), int(args.get("min_free_percent", 10))
    with connect(ctx.env) as conn:
        refused = _blind(conn)
        if refused is not None:
            return refused
        slots = rows(conn, _SLOTS)[0]
        by_app = rows(conn, """
            SELECT coalesce(nullif(application_name, ''), '(none)') AS app, count(*) AS n
            FROM pg_stat_activity WHERE backend_type = 'client backend'
              AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC, 1""")
    usable = slots["max_connections"] - slots["reserved"]
    in_use = int(slots["in_use"])
    free = usable - in_use
    need = max(min_free, math.ceil(usable * percent / 100))
    observed = {"max_connections": slots["max_connections"], "reserved": slots["reserved"],
                "usable": usable, "in_use": in_use, "free": free, "needed": need,
                "by_application": {r["app"]: int(r["n"]) for r in by_app}}
    said = (f"{free} of {usable} usable connection slots free ({in_use} in use; "
            f"max_connections {slots['max_connections']}, {slots['reserved']} reserved)")
    if free >= need:
        return ProbeResult(True, observed, said)
    busiest = ", ".join(f"{app} {n}" for app, n in list(observed["by_application"].items())[:3])
    return _busy(observed, f"{said}: at least {need} free needed"
                       + (f" — the most: {busiest}" if busiest else ""))


@register("db.replica_lag")
@guarded
def probe_replica_lag(ctx: ProbeContext, expected: Any,
                      args: Mapping[str, Any]) -> ProbeResult:
    limit = str(args.get("max_lag", "1s"))
    with connect(ctx.env) as conn:
        refused = _blind(conn)
        if refused is not None:
            return refused
        found = rows(conn, _REPLICAS)
    replicas = [{**r, "lag_s": float(r["lag_s"]),
                 "behind_bytes": int(r["behind_bytes"]) if r["behind_bytes"] is not None
                 else None} for r in found]
    return replica_verdict(replicas, limit)


def replica_verdict(replicas: list[dict[str, Any]], limit: str) -> ProbeResult:
    """The answer for these rows of pg_stat_replication (`lag_s` the replay lag in seconds):
    each must be streaming and no further behind than `limit`."""
    observed = {"max_lag": limit, "replicas": replicas}
    if not replicas:
        return ProbeResult(True, observed, "no replicas (pg_stat_replication is empty): "
                                           "nothing to wait for")
    behind = [r for r in replicas
              if r["state"] != "streaming" or r["lag_s"] > duration_seconds(limit)]
    shown = "; ".join(f"{r['application_name'] or r['client'] or r['pid']} ({r['state']}, "
                      f"{r['lag_s']:g}s behind)" for r in (behind or replicas)[:NAMED])
    if behind:
        return _busy(observed, f"{_plural(len(behind), 'replica')} not streaming "
                     f"within {limit}: {shown}")
    return ProbeResult(True, observed, f"{_plural(len(replicas), 'replica')} within {limit}: "
                                       f"{shown}")

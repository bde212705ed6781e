"""The lock radar's eye: one read-only sample of what a step's database sessions (named
`cockpit:<run>` through PGAPPNAME) wait on, who blocks them, how many sessions queue behind
the locks they hold or ask for, and how far a long operation (an index build, a cluster, a
vacuum, a copy) has come. PostgreSQL's own views answer (14 or later: pg_locks.waitstart);
nothing is written. The queue is read from pg_locks, so a role without pg_read_all_stats
still counts the other roles' sessions waiting behind its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cockpit.probes.db import cut_query, rows
from cockpit.session.radarview import radar_line

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["app_name", "radar_line", "sample"]

# PostgreSQL keeps application_name to NAMEDATALEN - 1 bytes
_APP_NAME_BYTES = 63
# What a sample keeps of a query's text: cut after its secrets are masked (a password cut
# in two by the limit would not be recognised), so it is fetched whole — PostgreSQL keeps
# no more than track_activity_query_size of it.
QUERY_CHARS = 200


def app_name(run: str) -> str:
    """The application_name a run's connections carry: `cockpit:<run id>`, cut to what
    PostgreSQL keeps (whole characters)."""
    name = f"cockpit:{run}".encode()[:_APP_NAME_BYTES]
    return name.decode(errors="ignore")


# `pg_blocking_pids` names hard blockers (holding a conflicting lock) and soft ones (ahead
# in the queue asking for one): a session queued behind the migration's own waiting
# ACCESS EXCLUSIVE request counts as waiting behind it.
_SAMPLE = """
WITH mine AS (
    SELECT pid, wait_event_type, wait_event, state, query,
           extract(epoch FROM now() - xact_start) AS xact_s,
           pg_blocking_pids(pid) AS blocked_by
    FROM pg_stat_activity WHERE application_name = :app
), behind AS (
    -- from pg_locks, which every role sees whole: pg_stat_activity hides the wait details
    -- of other roles' sessions (the application's) without pg_read_all_stats
    SELECT l.pid, max(extract(epoch FROM now() - l.waitstart)) AS wait_s
    FROM pg_locks l
    WHERE NOT l.granted AND l.pid NOT IN (SELECT pid FROM mine)
      AND pg_blocking_pids(l.pid) && ARRAY(SELECT pid FROM mine)
    GROUP BY l.pid
)
SELECT
    (SELECT coalesce(json_agg(json_build_object(
        'pid', pid, 'wait_event_type', wait_event_type, 'wait_event', wait_event,
        'state', state, 'xact_s', round(xact_s::numeric, 1), 'blocked_by', blocked_by,
        'query', query) ORDER BY pid), '[]') FROM mine) AS sessions,
    (SELECT count(*) FROM behind) AS waiting,
    (SELECT round(coalesce(max(wait_s), 0)::numeric, 1) FROM behind) AS oldest_wait_s
"""

_PROGRESS = """
SELECT 'create_index' AS kind, pid, phase,
       CASE WHEN blocks_total > 0 THEN round(100.0 * blocks_done / blocks_total, 1)
            WHEN tuples_total > 0 THEN round(100.0 * tuples_done / tuples_total, 1) END AS pct
  FROM pg_stat_progress_create_index WHERE pid = ANY(CAST(:pids AS int[]))
UNION ALL
SELECT 'cluster', pid, phase, CASE WHEN heap_blks_total > 0
       THEN round(100.0 * heap_blks_scanned / heap_blks_total, 1) END
  FROM pg_stat_progress_cluster WHERE pid = ANY(CAST(:pids AS int[]))
UNION ALL
SELECT 'vacuum', pid, phase, CASE WHEN heap_blks_total > 0
       THEN round(100.0 * heap_blks_scanned / heap_blks_total, 1) END
  FROM pg_stat_progress_vacuum WHERE pid = ANY(CAST(:pids AS int[]))
UNION ALL
SELECT 'copy', pid, command, CASE WHEN bytes_total > 0
       THEN round(100.0 * bytes_processed / bytes_total, 1) END
  FROM pg_stat_progress_copy WHERE pid = ANY(CAST(:pids AS int[]))
"""


# who holds what the run waits for: pg_stat_activity shows another role's application and
# state only to pg_read_all_stats, so either may be NULL (said as unknown)
_HOLDERS = """
SELECT pid, application_name AS application, state,
       round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_s
  FROM pg_stat_activity WHERE pid = ANY(CAST(:pids AS int[])) ORDER BY pid
"""


def sample(conn: Connection, app: str, redact: Callable[[str], str]) -> dict[str, Any]:
    """One look: the run's sessions (what each waits on and who blocks it), how many
    sessions wait behind them and the oldest wait, and any long operation's progress. Each
    query's text is passed through `redact` before it is cut to QUERY_CHARS."""
    try:
        found = rows(conn, _SAMPLE, app=app)[0]
        sessions = [{**s, "query": cut_query(s.get("query"), redact, QUERY_CHARS)}
                    for s in found["sessions"] or []]
        pids = [s["pid"] for s in sessions]
        progress = rows(conn, _PROGRESS, pids=pids) if pids else []
        blockers = sorted({pid for s in sessions for pid in s["blocked_by"] or []})
        holders = rows(conn, _HOLDERS, pids=blockers) if blockers else []
    finally:
        # PostgreSQL keeps pg_stat_activity as it was for the rest of a transaction: end
        # it, so the next look sees the next moment
        conn.rollback()
    return {
        "sessions": sessions,
        "waiting": int(found["waiting"]),
        "oldest_wait_s": float(found["oldest_wait_s"]),
        "blockers": blockers,
        "holders": [{**h, "application": cut_query(h["application"], redact, 64),
                     "xact_s": float(h["xact_s"]) if h["xact_s"] is not None else None}
                    for h in holders],
        "progress": [{**p, "pct": float(p["pct"]) if p["pct"] is not None else None}
                     for p in progress],
    }

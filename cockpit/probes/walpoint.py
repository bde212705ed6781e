"""Where the server's write-ahead log stands now: the point a DBA restores to before, should
the cutover halt with a partial change (`pg_current_wal_lsn()` and the server's own clock,
read just before each changing step starts)."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy

from cockpit.probes.db import connect

_NOW = "SELECT pg_current_wal_lsn()::text, to_char(now() AT TIME ZONE 'UTC', " \
       "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def wal_position(env: Mapping[str, str], var: str) -> tuple[str, str]:
    """(LSN, server time in UTC) through the DSN in `var` (ProbeUnreachable: not read)."""
    with connect(env, var) as conn:
        row = conn.execute(sqlalchemy.text(_NOW)).one()
    return str(row[0]), str(row[1])

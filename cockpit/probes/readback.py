"""The settings a step's connections are meant to have — `lock_timeout` and
`statement_timeout` from PGOPTIONS, `application_name` from PGAPPNAME — read back from a
connection made as the step's own are, through the same client library (libpq). A pooler in
front of the server may refuse the startup options or, worse, drop them silently: PgBouncer
1.18 in transaction mode with `ignore_startup_parameters = options` answers `lock_timeout`
0 while the runbook says 5 s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psycopg

from cockpit.probes.db import libpq_connect
from cockpit.probes.dsn import conninfo

# pg_settings' `setting` is in the parameter's own unit: milliseconds for both timeouts.
_READ = "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)"
_WHO = "SELECT current_user, current_database()"
REFUSED = ("a connection pooler refused the startup options (PGOPTIONS): connect the "
           "migration to the server's own port, or set the timeouts as the role's defaults")
OWN = ("the DSN sets `{key}` itself, and libpq takes the DSN's over the environment's: the "
       "steps' {what} never reach the server — remove `{key}` from the DSN (put its "
       "settings in the role's defaults)")
DROPPED = ("the settings did not take: a connection pooler dropped the startup options "
           "(PGOPTIONS); connect the migration to the server's own port, or set the timeouts "
           "as the role's defaults")


@dataclass(frozen=True)
class ReadBack:
    """What one connection made as the step's own said, against what was meant."""

    ok: bool
    observed: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    who: tuple[str, str] = ("", "")  # the role and database the connection had


def shown(name: str, value: str) -> str:
    """A setting as pg_settings gives it, with its unit (milliseconds for the timeouts)."""
    return f"{value}ms" if name.endswith("_timeout") and value.isdigit() else value


Cause = str | Callable[[tuple[str, str]], str]  # or made from (role, database)


def read_back(dsn: str, env: Mapping[str, str], wanted: Mapping[str, str],
              timeout_s: int = 10, cause: Cause = DROPPED) -> ReadBack:
    """Connect to `dsn` with the step's environment `env` (its PGOPTIONS and PGAPPNAME) and
    compare each of `wanted` (name: value as pg_settings gives it, milliseconds for the
    timeouts; `application_name`: the name) with what the server says it is; `cause` is
    what a value that differs is put down to."""
    params = conninfo(dsn)
    if params is None:
        return ReadBack(False, {}, "the DSN does not parse")
    asked = dict(params)
    # libpq's order: what the DSN itself sets beats PGOPTIONS and PGAPPNAME, as it will
    # for the step's own connections
    own = [key for key in ("options", "application_name") if key in params]
    if env.get("PGOPTIONS"):
        asked.setdefault("options", env["PGOPTIONS"])
    if env.get("PGAPPNAME"):
        asked.setdefault("application_name", env["PGAPPNAME"])
    try:
        with libpq_connect(asked, timeout_s, autocommit=True) as conn:
            found: dict[str, str] = dict(conn.execute(_READ, [list(wanted)]).fetchall())
            row = conn.execute(_WHO).fetchone()
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        # libpq may have tried again without TLS (sslmode=prefer): the refusal is any line
        refusal = next((line for line in lines if "startup parameter" in line), None)
        if refusal is not None:
            return ReadBack(False, {}, f"{REFUSED} (the server said: {refusal.strip()})")
        return ReadBack(False, {}, f"cannot connect: {lines[-1]}")
    who = (str(row[0]), str(row[1])) if row else ("", "")
    observed = {name: str(found.get(name, "")) for name in wanted}
    wrong = [f"{name} is {shown(name, observed[name]) or 'unset'}, expected "
             f"{shown(name, value)}" for name, value in wanted.items() if observed[name] != value]
    if not wrong:
        return ReadBack(True, observed, "read back: " + ", ".join(
            f"{name} {shown(name, value)}" for name, value in observed.items()), who)
    if own:
        what = "timeouts" if own == ["options"] else "settings and run name"
        cause = OWN.format(key="` and `".join(own), what=what)
    said = cause if isinstance(cause, str) else cause(who)
    return ReadBack(False, observed, f"{', '.join(wrong)} — {said}", who)

"""What a DSN's connections really get, checked before GO: the path to the server (a
transaction-mode pooler refused, anything else in between noted) and the settings a step's
connections are meant to have, read back through a connection made as the step's own. A
timeout the runbook asks for and the server never applied is a guard that fell away
silently; this is where it is caught."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import psycopg

from cockpit.probes.connfail import explain
from cockpit.probes.dsn import conninfo
from cockpit.probes.grants import capabilities, ident
from cockpit.probes.pooler import ServerPath, admin_console, probe_path
from cockpit.probes.readback import DROPPED, Cause, read_back

ANSWER_S = 30.0  # each check's answer, whatever waits in between
T = TypeVar("T")


class NoAnswer(Exception):
    """A check got no answer in time."""


def within(fn: Callable[[], T], timeout_s: float = ANSWER_S) -> T:
    """fn's answer, or NoAnswer after `timeout_s`: connect_timeout covers the connection,
    not a query a full pool keeps waiting (PgBouncer's query_wait_timeout is 120 s by
    default, or never). The abandoned call ends on its own when the pooler gives up."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["answer"] = fn()
        except BaseException as exc:  # handed to the caller as it is
            box["error"] = exc

    worker = threading.Thread(target=run, name="cockpit-check", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise NoAnswer(f"no answer within {timeout_s:g} s: a pooler with no free server "
                       "connection (its pool full?), or a server that does not answer")
    if "error" in box:
        raise box["error"]
    return box["answer"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str


# SQLAlchemy drivers built on libpq: they read PGOPTIONS and PGAPPNAME as psql does
LIBPQ_DRIVERS = {"", "psycopg", "psycopg2", "psycopg2cffi"}


def driver_verdict(var: str, dsn: str) -> Verdict | None:
    """A SQLAlchemy URL whose driver is not libpq's (asyncpg, pg8000) never reads PGOPTIONS
    or PGAPPNAME: the read-back, made through libpq, would prove nothing about it."""
    scheme = dsn.partition("://")[0] if "://" in dsn else ""
    driver = scheme.partition("+")[2]
    if driver.lower() in LIBPQ_DRIVERS:
        return None
    return Verdict(False, f"{var} names the driver `{driver}`, which does not read PGOPTIONS "
                          "or PGAPPNAME: the steps' timeouts and run name would never reach the "
                          "server through it — use postgresql+psycopg://")


def path_verdict(var: str, dsn: str) -> Verdict:
    """Direct to the server, or through what: a transaction-mode pooler is refused (a
    migration's session — its settings, its advisory locks, the radar's view of its
    backends by name — does not outlast a transaction there); a session-mode pooler or a
    proxy is allowed with a note."""
    try:
        path = within(lambda: probe_path(dsn))
    except NoAnswer as exc:
        return Verdict(False, f"{var}: the path to the server could not be probed ({exc})")
    except (psycopg.Error, ValueError) as exc:
        return Verdict(False, f"{var}: the path to the server could not be probed "
                              f"({explain(exc, dsn).cause})")
    if path.transaction_pooled:
        own = f"port {path.server_port}" if path.server_port else "own port"
        return Verdict(False, (
            f"{var} reaches a transaction-mode connection pooler on port {path.dsn_port}: a "
            "migration's session settings, its advisory locks and the radar's view of its "
            f"backends do not outlast a transaction there — connect to the server's {own} "
            "instead (Azure: 5432, not the built-in PgBouncer's 6432)"))
    hosts = ((conninfo(dsn) or {}).get("host") or "").count(",") + 1
    several = (f"; NOTE {var} names {hosts} hosts: this is the one libpq reached first, as "
               "the steps' connections will — check the others by failing over") \
        if hosts > 1 else ""
    if not path.in_between:
        where = "its local socket" if path.dsn_socket else f"port {path.dsn_port}"
        return Verdict(True, f"{var}: direct to the server ({where}){several}")
    return Verdict(True, f"NOTE {var}: {_between(path, dsn)}{several}")


def _between(path: ServerPath, dsn: str) -> str:
    own = (f"its own port {path.server_port}" if path.server_port is not None
           else "its local socket")
    where = f"answers on port {path.dsn_port}, the server on {own}"
    if path.options == "taken":
        return (f"something in between {where}: a proxy that passes startup options on and "
                "keeps one server connection per client (a TLS terminator, say), not a "
                "pooler that drops them — allowed")
    # only here is the admin console asked: a server asked for database `pgbouncer` would
    # log a failed connection for its DBA to wonder about
    params = conninfo(dsn) or {}
    version = admin_console(params)
    what = f"{version} in session mode" if version else "a session-mode pooler"
    return (f"{what} {where}: it {path.options} the startup options and keeps one server "
            "connection per client — allowed, the settings read back below")


def settings_verdict(var: str, dsn: str,
                     checks: Sequence[tuple[Mapping[str, str], Mapping[str, str]]],
                     cause: Cause = DROPPED) -> Verdict:
    """Each (environment, wanted) of `checks` — a step's PGOPTIONS and PGAPPNAME, and the
    values its connections must show — read back on `dsn`."""
    said: list[str] = []
    for env, wanted in checks:
        try:
            back = within(partial(read_back, dsn, env, wanted, cause=cause))
        except NoAnswer as exc:
            return Verdict(False, f"{var}: the settings could not be read back ({exc})")
        if not back.ok:
            return Verdict(False, f"{var}: {back.detail}")
        if back.detail not in said:
            said.append(back.detail)
    return Verdict(True, f"{var}: " + "; ".join(said))


def role_defaults_cause(settings: Mapping[str, str]) -> Cause:
    """Why the role route's read-back differs, with the statements the DBA runs for the
    role and database the connection had (values in milliseconds)."""
    def said(who: tuple[str, str]) -> str:
        role, database = (ident(name) for name in who)
        where = f"ALTER ROLE {role} IN DATABASE {database}"
        run = " ".join(f"{where} SET {name} = '{value}ms';" for name, value in settings.items())
        reset = " ".join(f"{where} RESET {name};" for name in settings)
        return (f"the role's defaults do not give them (`timeouts_from = \"role\"`): the DBA "
                f"runs {run} It holds for every session of that role, the application's "
                f"too (after the cutover: {reset}). A pooler's server connections made before "
                "keep the old defaults until replaced (PgBouncer: RECONNECT on its admin "
                "console)")

    return said


def role_and_server(var: str, dsn: str, env: Mapping[str, str]) -> str:
    """The migration role's gaps (warnings, each naming its GRANT) and the server's offer:
    shown, never closing the gate."""
    try:
        found = within(lambda: capabilities(dsn, env))
    except NoAnswer as exc:
        return f"{var}: the role's grants were not read ({exc})"
    except (psycopg.Error, ValueError) as exc:
        return f"{var}: the role's grants were not read ({explain(exc, dsn).cause})"
    return "; ".join([f"{var}: {found.server}", *found.warnings])

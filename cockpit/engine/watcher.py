"""The lock radar's watcher: a small process of its own, started with a step that changes
the database and detached like its supervisor (a crash of the cockpit leaves it watching),
with its own read-only connection, outside the supervisor's hot path.

    python -m cockpit.engine.watcher RADAR_SPEC.json

Once a second it samples what the run's sessions (`cockpit:<run>`) wait on and who waits
behind them (probes/radar.py), appends the sample to `<run>.radar.jsonl` — a time series the
session keeps as evidence — and judges the step's `lock_queue` rules. A rule over its limit
for its number of samples in a row writes `<run>.stop-request.json` and signals the
supervisor (SIGUSR1), which stops the child as an abort rule's match does: SIGINT first, so
PostgreSQL cancels the statement and the migration's transaction rolls back. When the exit
record appears it writes `<run>.radar.done.json` and ends. It never fails the step: a
database it cannot reach is a sample saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.engine.supervisor import SECRETS_ENV, utc_now, write_json_atomic
from cockpit.probes.db import connect
from cockpit.probes.radar import sample
from cockpit.session.modes import session_opener
from cockpit.session.redact import Redactor

if TYPE_CHECKING:
    from sqlalchemy import Connection

START_WAIT_S = 30.0  # how long to wait for the supervisor to start the child


def tripped(rule: dict[str, Any], found: dict[str, Any]) -> bool:
    """Whether one sample is over a lock_queue rule's limits."""
    if "error" in found:
        return False
    waiting = rule.get("max_waiting")
    wait_s = rule.get("max_wait_s")
    return bool((waiting is not None and found.get("waiting", 0) > waiting)
                or (wait_s is not None and found.get("oldest_wait_s", 0.0) > wait_s))


def why(rule: dict[str, Any], found: dict[str, Any], samples: int) -> str:
    blockers = found.get("blockers") or []
    return (f"lock queue: {found.get('waiting', 0)} session(s) waiting behind the step's "
            f"locks, the oldest {found.get('oldest_wait_s', 0.0):.1f} s, for {samples} "
            f"sample(s) (rule {rule['id']}: {rule.get('label', '')})"
            + (f"; the step itself waits on {', '.join(map(str, blockers))}" if blockers
               else ""))


@contextlib.contextmanager
def _looking(env: dict[str, str], var: str) -> Iterator[Connection]:
    """The watcher's connection: read-only, and never itself in a queue for long (its
    queries take no table lock; the timeouts are a guard), named apart from the step's."""
    with connect(env, var) as conn:
        for setting in ("SET default_transaction_read_only = on", "SET lock_timeout = '500ms'",
                        "SET statement_timeout = '2s'",
                        "SET application_name = 'cockpit-radar'"):
            conn.exec_driver_sql(setting)
        conn.commit()
        yield conn


def watch(spec: dict[str, Any], env: dict[str, str], redactor: Redactor) -> int:
    record, started = Path(spec["record"]), Path(spec["started"])
    deadline = time.monotonic() + START_WAIT_S
    while not started.exists():  # the supervisor's handlers are set once this exists
        if record.exists() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    try:
        supervisor = int(json.loads(started.read_text(encoding="utf-8"))["supervisor_pid"])
    except (OSError, ValueError, KeyError):
        supervisor = 0
    rules = spec.get("rules", [])
    streak = {rule["id"]: 0 for rule in rules}
    asked = False
    count = 0
    series = Path(spec["series"])
    with open(series, "ab", opener=session_opener) as out:
        held = contextlib.ExitStack()  # the connection, while it works
        conn: Connection | None = None
        while not record.exists():
            begun = time.monotonic()
            try:
                if conn is None:
                    conn = held.enter_context(_looking(env, spec.get("dsn_var", "DATABASE_URL")))
                found: dict[str, Any] = sample(conn, spec["app"], redactor.redact_text)
            except Exception as exc:  # the radar's own trouble never fails the step
                # masked before it is cut, as a query's text is
                found = {"error": redactor.redact_text(str(exc)).splitlines()[0][:300]
                         if str(exc) else type(exc).__name__}
                with contextlib.suppress(Exception):
                    held.close()  # a new one next time
                conn = None
            found["at"] = utc_now()
            # a query's text or an error may hold a password: redacted before disk (the
            # sample is kept redacted, in the series and in a stop request alike)
            line = redactor.redact((json.dumps(found, default=str) + "\n").encode())
            found = json.loads(line)
            if record.exists():  # the step ended during this look (a slow connect): the
                break            # series its finish hashes is complete without it
            out.write(line)
            out.flush()
            count += 1
            for rule in rules:
                streak[rule["id"]] = streak[rule["id"]] + 1 if tripped(rule, found) else 0
                if not asked and supervisor and streak[rule["id"]] >= rule.get("samples", 2):
                    write_json_atomic(Path(spec["stop_request"]), {
                        "rule": rule["id"], "line": why(rule, found, streak[rule["id"]]),
                        "at": found["at"], "sample": found})
                    if hasattr(signal, "SIGUSR1"):  # Windows: the supervisor looks for it
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(supervisor, signal.SIGUSR1)
                    asked = True
            # till the next sample; the step's end is noticed within 50 ms (its finish
            # waits for the series to be complete)
            next_at = begun + float(spec.get("interval", 1.0))
            while time.monotonic() < next_at and not record.exists():
                time.sleep(0.05)
        with contextlib.suppress(Exception):
            held.close()
        out.flush()
        os.fsync(out.fileno())
    data = series.read_bytes()
    write_json_atomic(Path(spec["done"]), {"samples": count, "bytes": len(data),
                                           "sha256": hashlib.sha256(data).hexdigest(),
                                           "stop_requested": asked})
    return 0


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    env = dict(os.environ)
    secrets = json.loads(env.pop(SECRETS_ENV, "[]"))
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return watch(spec, env, Redactor(secrets))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

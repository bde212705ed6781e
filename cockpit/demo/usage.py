"""Whether a rehearsal world is in use: a live cockpit opened it or holds one of its sessions,
or a step of one of its sessions runs (its supervisor, or the lock radar beside it). Read
from world.json, the sessions' lock files and the process table; nothing is changed."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from cockpit.session.lock import holder_alive, read_lock_info

# A world's own processes, as their command lines name them (`is_process`).
PROXY = "cockpit.demo.tlsproxy"
WATCHDOG = "cockpit.demo.watchdog"
LOCKER = "psycopg.connect(sys.argv[1]"  # a fault's database client (python -c ...)

# The processes a running step keeps beside it, detached from any cockpit.
STEP_PROCESSES = ("cockpit.engine.supervisor", "cockpit.engine.watcher")


@dataclass(frozen=True)
class InUse:
    """Why a world may not be stopped now, in words; `step`: a step is running there."""

    reason: str
    step: bool


def is_process(pid: Any, marker: str) -> bool:
    """Whether `pid` is still the process we started: its command line names `marker` (a
    pid alone may be a stranger's by now)."""
    try:
        return bool(pid) and marker in " ".join(psutil.Process(int(pid)).cmdline())
    except (psutil.Error, TypeError, ValueError):
        return False


def user_mark(pid: int) -> list[float]:
    """How world.json names a cockpit process that uses the world: its pid and start time
    (a pid alone may be a stranger's by the time it is read)."""
    return [pid, psutil.Process(pid).create_time()]


def _user_alive(mark: Any) -> bool:
    try:
        pid, started = int(mark[0]), float(mark[1])
        proc = psutil.Process(pid)
        return proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, TypeError, ValueError, IndexError):
        return False


def live_users(marks: list[Any]) -> list[list[float]]:
    return [list(mark) for mark in marks if _user_alive(mark)]


def steps_running(sessions: list[Path]) -> list[int]:
    """The pids of the step processes (supervisor, radar) of these sessions."""
    roots = [s.resolve() for s in sessions]
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = proc.info["cmdline"] or []
        if not any(name in cmdline for name in STEP_PROCESSES):
            continue
        with contextlib.suppress(OSError, ValueError):
            named = Path(cmdline[-1])
            if not named.is_absolute():
                named = Path(proc.info["cwd"] or "/") / named
            if any(named.resolve().is_relative_to(root) for root in roots):
                found.append(proc.pid)
    return found


def world_in_use(info: dict[str, Any], myself: int | None = None) -> InUse | None:
    """Why the world whose world.json reads `info` is in use now, or None if it is not.
    `myself`: a pid not to count (the cockpit that asks)."""
    sessions = [Path(s) for s in info.get("sessions") or []]
    if pids := steps_running(sessions):
        return InUse(f"a step is running there (pid {pids[0]})", step=True)
    for mark in live_users(info.get("users") or []):
        if int(mark[0]) != myself:
            return InUse(f"a cockpit uses it (pid {int(mark[0])})", step=False)
    for session in sessions:
        if holder_alive(session) and (read_lock_info(session) or {}).get("pid") != myself:
            return InUse(f"a cockpit holds its session {session}", step=False)
    return None

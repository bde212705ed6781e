"""The watchdog started with a rehearsal world (a detached process, like the TLS terminator):
it stops the world's server and terminator once nothing has used the world for its idle time
— no live cockpit opened it or holds one of its sessions, no step of them runs. So a demo
that was killed, or whose terminal closed, leaves no database running for long; `cockpit
resume` starts the world again. The idle time is 10 minutes unless `cockpit demo
--idle-stop SECONDS` or $COCKPIT_DEMO_IDLE_STOP says otherwise (0: never stop).

    python -m cockpit.demo.watchdog WORKSPACE IDLE_SECONDS
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from cockpit.demo.usage import LOCKER, PROXY, WATCHDOG, is_process, world_in_use
from cockpit.errors import CockpitError
from cockpit.session.safefs import write_private

IDLE_ENV = "COCKPIT_DEMO_IDLE_STOP"
DEFAULT_IDLE_S = 600.0
STATE = ".watchdog.json"  # in the workspace: since when the world is idle, for --worlds


def idle_setting(given: float | None = None) -> float:
    """Seconds of disuse after which a world is stopped: `given` (the --idle-stop flag), else
    $COCKPIT_DEMO_IDLE_STOP, else 10 minutes."""
    if given is not None:
        return _checked(given, "--idle-stop")
    text = os.environ.get(IDLE_ENV, "").strip()
    if not text:
        return DEFAULT_IDLE_S
    try:
        return _checked(float(text), IDLE_ENV)
    except ValueError:
        raise CockpitError(f"{IDLE_ENV}={text!r}: not a number of seconds (0: never stop an "
                           "idle rehearsal world)") from None


def _checked(seconds: float, where: str) -> float:
    if not seconds >= 0 or seconds == float("inf"):
        raise CockpitError(f"{where}: {seconds!r} is no number of seconds (0: never stop an "
                           "idle rehearsal world)")
    return seconds


def read_state(workspace: Path) -> dict[str, Any] | None:
    """What the world's watchdog last wrote: its pid, idle_stop, idle_since (None: in use)."""
    with contextlib.suppress(OSError, ValueError):
        state = json.loads((workspace / STATE).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) else None
    return None


def _read_info(workspace: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        info = json.loads((workspace / "world.json").read_text(encoding="utf-8"))
        return info if isinstance(info, dict) else None
    return None


def _write_state(workspace: Path, idle_s: float, idle_since: str | None) -> None:
    state = {"pid": os.getpid(), "idle_stop": idle_s, "idle_since": idle_since}
    # A note for --worlds: the folder may be going (removed by hand) — nothing to stop for.
    with contextlib.suppress(OSError, CockpitError):
        write_private(workspace / STATE, json.dumps(state).encode())


def _server_pid(info: dict[str, Any]) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError, TypeError):
        text = (Path(info["pg_root"]) / "data" / "postmaster.pid").read_text()
        return int(text.split()[0])
    return None


def _stop_what_was_left(info: dict[str, Any], server: int | None) -> None:
    """The world's folder is gone (removed by hand) with its processes perhaps still up: each
    is stopped, once its command line shows it is still that process."""
    left: list[tuple[Any, str, signal.Signals]] = [
        (server, str(Path(info.get("pg_root") or "/nonexistent") / "data"), signal.SIGINT),
        (info.get("proxy_pid"), PROXY, signal.SIGTERM),
        (info.get("locker_pid"), LOCKER, signal.SIGTERM)]
    for pid, marker, sig in left:
        if is_process(pid, marker):
            with contextlib.suppress(psutil.Error, OSError):
                psutil.Process(int(pid)).send_signal(sig)


def watch(workspace: Path, idle_s: float) -> int:
    poll = min(5.0, max(0.2, idle_s / 10))
    quiet_from = time.monotonic()
    # Started by a cockpit that has just marked itself a user: in use until a poll finds not.
    idle_since: str | None = None
    _write_state(workspace, idle_s, idle_since)
    last: dict[str, Any] = {}
    server: int | None = None
    wait = min(poll, 0.2)  # soon at first: what to stop is known once world.json is read
    while True:
        time.sleep(wait)
        info = _read_info(workspace)
        if info is None and not last and workspace.exists():
            continue  # started before world.json is written (the world is being made)
        if info is None:  # the world's folder removed (world.json goes first): stop the rest
            _stop_what_was_left(last, server)
            return 0
        named = info.get("watchdog_pid")
        if named != os.getpid() and is_process(named, WATCHDOG):
            return 0  # started again, with a watchdog of its own
        last, server, wait = info, _server_pid(info) or server, poll
        if world_in_use(info) is not None:
            quiet_from = time.monotonic()
            if idle_since is not None:
                idle_since = None
                _write_state(workspace, idle_s, idle_since)
            continue
        if idle_since is None:
            idle_since = datetime.now(UTC).isoformat(timespec="seconds")
            _write_state(workspace, idle_s, idle_since)
        if time.monotonic() - quiet_from >= idle_s:
            from cockpit.demo.world import World  # the server's tools: only when stopping

            try:
                if World.load(workspace).stop_unused():
                    return 0
            except Exception:  # the world taken apart under us: what it ran is stopped
                _stop_what_was_left(last, server)
                return 0
            quiet_from = time.monotonic()  # someone came back just now


def main(argv: list[str]) -> int:
    workspace, idle = Path(argv[0]), float(argv[1])
    return watch(workspace, idle)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

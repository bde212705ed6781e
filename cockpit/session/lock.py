"""One writer per session: an OS lock on `lock` plus who holds it (pid, host, user, since).

The OS releases the lock when its holder dies; the holder's info stays in the file. So a
lock we can take while the file still names someone else is stale: it is taken over only
on an explicit request, and the caller records that as an event.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from cockpit.errors import EXIT_REFUSED, CockpitError

LOCK = "lock"

def _try_lock_windows(fd: int, msvcrt: Any = None) -> bool:
    """A non-blocking lock of the file's first byte (`locking` starts at the position, 0)."""
    if msvcrt is None:
        import msvcrt
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _try_lock_posix(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


_try_lock = _try_lock_windows if os.name == "nt" else _try_lock_posix


class SessionLocked(CockpitError):
    exit_code = EXIT_REFUSED


def holder_text(info: dict[str, Any]) -> str:
    return (f"{info.get('user', '?')}@{info.get('host', '?')} (pid {info.get('pid', '?')}, "
            f"since {info.get('since', '?')})")


def read_lock_info(folder: Path) -> dict[str, Any] | None:
    try:
        text = (folder / LOCK).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return {"raw": text[:200]}


def holder_alive(folder: Path) -> bool | None:
    """Whether the cockpit the lock file names is alive: True or False for a holder on this
    machine; None when nobody holds the session or the holder is on another host (its pid
    means nothing here). Read-only: no lock is taken, not even for a moment."""
    info = read_lock_info(folder)
    if not info or "pid" not in info:
        return None
    if info.get("host") not in (None, socket.gethostname()):
        return None
    try:
        return psutil.pid_exists(int(info["pid"]))
    except (TypeError, ValueError):
        return None


@dataclass
class SessionLock:
    folder: Path
    fd: int
    info: dict[str, Any]
    taken_over: dict[str, Any] | None  # the stale holder's info, when we took over

    @classmethod
    def acquire(cls, folder: Path, take_over: bool = False) -> SessionLock:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            info = read_lock_info(folder) or {}
            raise SessionLocked(
                f"{folder}: session is driven by {holder_text(info)}; one operator at a time "
                "(a reviewer can watch with `cockpit mirror`)"
            )
        previous = read_lock_info(folder)
        if previous and not take_over:
            os.close(fd)
            raise SessionLocked(
                f"{folder}: the lock names {holder_text(previous)}, which is gone without "
                "releasing it; if that cockpit is really dead, resume with --take-over"
            )
        info = {"pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
                "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode("utf-8"))
        os.fsync(fd)
        return cls(folder, fd, info, previous if previous else None)

    def release(self) -> None:
        """Clear our info, then let the OS lock go."""
        if self.fd < 0:
            return
        os.ftruncate(self.fd, 0)
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "?"

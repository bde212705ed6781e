"""One writer per session: an OS lock on `lock` (0600: no other account can open it, so none
can lock it), plus who holds it (pid, host, user, since) in `holder.json`, readable as the
folder is, for a reviewer's mirror under another account.

The OS releases the lock when its holder dies; the holder file stays. So a lock we can take
while the holder file still names someone is stale: it is taken over only on an explicit
request, and the caller records that as an event. Sessions written before the holder file
kept that info in `lock` itself: it is read from there when the holder file is missing.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.session.modes import BINARY
from cockpit.session.replace import read_replaced
from cockpit.session.store import fsync_dir, write_atomic

LOCK = "lock"
HOLDER = "holder.json"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# A lock no holder file names is a cockpit about to name itself, or a child forked just
# before its cockpit let go (it shares the lock until exec): waited for, this long.
NAMELESS_GRACE = 2.0
LEASE_RENEW_S = 2.0  # how often a holder renews its lease in the holder file
PRESENT_S = 5 * LEASE_RENEW_S  # a lease not renewed for this long: its holder is gone
_LEASES: dict[Path, threading.Event] = {}  # this process's leases being renewed, by folder

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
    """Who the holder file names (in a session written before it: the lock file); None
    when nobody holds the session."""
    for name in (HOLDER, LOCK):
        try:
            text = read_replaced(folder / name).decode("utf-8")
        except FileNotFoundError:
            continue
        except PermissionError:  # a private lock: its info, if any, is in the holder file
            return None
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return {"raw": text[:200]}
    return None


def lock_holders(path: Path) -> list[int]:
    """The pids that hold a lock on `path`: the kernel's (Linux's /proc/locks names the
    process that took it), or — that one dead — the processes that have the file open (a
    child that inherited it holds the lock on). [] where it is not known (another system,
    a pid of another namespace)."""
    if not sys.platform.startswith("linux"):  # /proc/locks is Linux's (Wine's Z:\proc too)
        return []
    try:
        found = os.stat(path)
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    inode = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    taken = []
    for line in table.splitlines():
        fields = line.split()  # "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END"
        if len(fields) >= 6 and fields[1] != "->" and fields[5] == inode \
                and fields[4].isdigit() and int(fields[4]) > 0:
            taken.append(int(fields[4]))
    alive = [pid for pid in taken if _alive(pid)]
    return alive or (_openers(found) if taken else [])


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _openers(found: os.stat_result) -> list[int]:
    """The processes (that we may look at) with this file open, but for us."""
    pids = []
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any((s := os.stat(entry.path)).st_ino == found.st_ino
                   and s.st_dev == found.st_dev for entry in os.scandir(fds)):
                pids.append(int(fds.parent.name))
        except (OSError, ValueError):  # gone, or not ours to look at
            continue
    return [pid for pid in pids if pid != os.getpid()]


def held_text(folder: Path) -> str:
    """Whoever really holds the session's lock, in words: the holder file's cockpit when the
    kernel agrees (or cannot say), else the process that does hold it, and its user."""
    info = read_lock_info(folder) or {}
    real = lock_holders(folder / LOCK)
    if not real or info.get("pid") in real:
        return f"session is driven by {holder_text(info)}"
    described = []
    for pid in real:
        try:
            process = psutil.Process(pid)
            described.append(f"pid {pid} (user {process.username()}, {process.name()})")
        except (psutil.Error, KeyError):
            described.append(f"pid {pid}")
    return (f"its lock is held by {', '.join(described)} — not a cockpit this session "
            "knows; if it is no operator's, stop it")


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


def _taken_once_let_go(fd: int, folder: Path) -> bool:
    """The lock, taken once its nameless holder lets go (within NAMELESS_GRACE); False at
    once while the holder file names a cockpit."""
    deadline = time.monotonic() + NAMELESS_GRACE
    while read_lock_info(folder) is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if _try_lock(fd):
            return True
    return False


@dataclass
class SessionLock:
    folder: Path
    fd: int
    info: dict[str, Any]
    taken_over: dict[str, Any] | None  # the stale holder's info, when we took over
    _lease: threading.Event | None = None  # set to stop renewing
    _renewer: threading.Thread | None = None

    def keep_lease(self, every_s: float = LEASE_RENEW_S) -> None:
        """Renew the lease in the holder file (`renewed`) every `every_s` until released: a
        cockpit on another host tells a live holder from a dead one by it (the OS lock and
        the pid say nothing across machines)."""
        if self._renewer is not None:
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(every_s):
                with contextlib.suppress(OSError):  # a full disk: the lease ages, as it would
                    write_holder(self.folder, {**self.info, "renewed": _now()})

        self._lease = stop
        _LEASES[self.folder] = stop  # release_if_mine stops it too (a hang-up's last resort)
        self._renewer = threading.Thread(target=renew, name="lease", daemon=True)
        self._renewer.start()

    @classmethod
    def acquire(cls, folder: Path, take_over: bool = False) -> SessionLock:
        try:
            fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | _NOFOLLOW | BINARY, 0o600)
        except OSError as exc:
            raise CockpitError(f"{folder / LOCK}: cannot be opened ({exc.strerror}); a "
                               "session's lock is a file of its own") from None
        if not _try_lock(fd) and not _taken_once_let_go(fd, folder):
            os.close(fd)
            raise SessionLocked(f"{folder}: {held_text(folder)}; one operator at a time "
                                "(a reviewer can watch with `cockpit mirror`)")
        previous = read_lock_info(folder)
        if previous and not take_over:
            os.close(fd)
            raise SessionLocked(
                f"{folder}: the lock names {holder_text(previous)}, which is gone without "
                "releasing it; if that cockpit is really dead, resume with --take-over"
            )
        if hasattr(os, "fchmod") and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # an old session's lock, 0644: no one else may lock it
        os.ftruncate(fd, 0)  # an old session's holder info: the holder file has it now
        now = _now()
        info = {"pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
                "since": now, "renewed": now}
        write_holder(folder, info)
        return cls(folder, fd, info, previous if previous else None)

    def release(self) -> None:
        """Stop renewing, clear our info, then let the OS lock go."""
        if self.fd < 0:
            return
        if self._lease is not None and self._renewer is not None:
            self._lease.set()
            self._renewer.join(5)
            _LEASES.pop(self.folder, None)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / HOLDER).unlink()
        fsync_dir(self.folder)
        os.close(self.fd)
        self.fd = -1


def release_if_mine(folder: Path) -> None:
    """The holder file removed if it names this process: a cockpit ended the hard way (a
    hang-up's last resort) then leaves a lock `resume` takes without --take-over — the OS
    lets the lock itself go with the process."""
    if (lease := _LEASES.pop(folder, None)) is not None:
        lease.set()  # no renewal may write the holder file again after this
    info = read_lock_info(folder) or {}
    if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            (folder / HOLDER).unlink()


def write_holder(folder: Path, info: dict[str, Any]) -> None:
    """The holder file, replaced atomically, readable by whom the folder lets read."""
    write_atomic(folder / HOLDER, json.dumps(info).encode("utf-8"))
    if hasattr(os, "fchmod"):  # POSIX modes; Windows has its ACLs
        os.chmod(folder / HOLDER, 0o600 | (os.stat(folder).st_mode & 0o044))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def holder_present(folder: Path, now: datetime | None = None) -> bool | None:
    """For a mirror: whether the cockpit holding the session is there — by its pid on this
    host, by its lease on another (renewed lately: there; not for a while: gone); None
    when nobody holds the session, or a holder on another host keeps no lease."""
    alive = holder_alive(folder)
    if alive is not None:
        return alive
    info = read_lock_info(folder)
    if not info or not isinstance(info.get("renewed"), str):
        return None
    age = lease_age(info, now)
    return None if age is None else age < PRESENT_S


def lease_age(info: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds since the holder last renewed its lease (or took the lock, before any
    renewal); None when the holder file says neither."""
    stamp = info.get("renewed") or info.get("since")
    if not isinstance(stamp, str):
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - when).total_seconds()

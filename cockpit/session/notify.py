"""Wakes a follower when a watched folder changes: Linux inotify where it is there (it needs
only read permission, so it works for a reviewer and on a read-only mount), else the polling
interval. A wake-up says only "look again"; the followers read what was appended themselves,
so a missed or merged notification costs at most one polling interval."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import sys
import time
from pathlib import Path

POLL_S = 0.05  # the fallback: nothing waits longer than this for a look
MIN_GAP_S = 0.01  # a busy log notifies per write: batch them, so ten mirrors cost little
# IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
_MASK = 0x002 | 0x004 | 0x008 | 0x080 | 0x100
# inotify's flags are O_NONBLOCK and O_CLOEXEC; Windows has neither (nor inotify): read them
# only where they exist, so that importing this never fails there.
_IN_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_IN_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        return libc
    except (OSError, AttributeError):
        return None


class ChangeWaiter:
    def __init__(self, folders: list[Path] | None = None) -> None:
        self._libc = _libc()
        self.fd: int | None = None
        if self._libc is not None:
            fd = self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
            self.fd = fd if fd >= 0 else None  # e.g. the watch limit reached: poll instead
        self.watched: set[Path] = set()
        self._last = 0.0
        for folder in folders or []:
            self.watch(folder)

    @property
    def notifying(self) -> bool:
        return self.fd is not None and bool(self.watched)

    def watch(self, folder: Path) -> bool:
        """Watch one more folder; True if it was not watched before (and now is)."""
        folder = folder.resolve()
        if folder in self.watched or self.fd is None or self._libc is None:
            return False
        if self._libc.inotify_add_watch(self.fd, os.fsencode(folder), _MASK) < 0:
            return False
        self.watched.add(folder)
        return True

    def drain(self) -> bool:
        """Consume pending notifications; True if there were any."""
        if self.fd is None:
            return False
        seen = False
        while True:
            try:
                if not os.read(self.fd, 65536):
                    return seen
                seen = True
            except BlockingIOError:
                return seen

    def wait(self, timeout: float = POLL_S) -> None:
        """Until something changed in a watched folder, or `timeout` (at most POLL_S
        without notification) has passed."""
        if not self.notifying:
            time.sleep(min(timeout, POLL_S))
        else:
            assert self.fd is not None
            gap = MIN_GAP_S - (time.monotonic() - self._last)
            if gap > 0:
                time.sleep(gap)
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if ready:
                self.drain()
        self._last = time.monotonic()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

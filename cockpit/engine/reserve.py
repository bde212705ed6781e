"""The space of a run's exit record, taken before its command starts: a disk the step's output
fills still has room for the record that says so. The record is written into that space
and renamed into place. Standard library only: the supervisor imports it.

(On copy-on-write file systems — btrfs, ZFS — an overwrite needs new blocks anyway; there
the reserve only makes a full disk at the start refuse the run before anything starts.)"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from cockpit.session.modes import BINARY, file_mode
from cockpit.session.replace import replace_file

RESERVE_BYTES = 64 << 10  # well above any record: its free-text fields are bounded


class RecordReserve:
    def __init__(self, record: Path) -> None:
        self.record = record
        self.temp = record.with_name(f".{record.name}.reserved.tmp")
        self.fd = -1

    def take(self) -> None:
        """Hold the space now; OSError (a full disk) if there is none, nothing left."""
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | BINARY
        fd = os.open(self.temp, flags, file_mode(self.record.parent))
        try:
            _allocate(fd, RESERVE_BYTES)
        except BaseException:
            os.close(fd)
            self.temp.unlink(missing_ok=True)
            raise
        self.fd = fd

    def drop(self) -> None:
        """Give the space back unused."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            self.temp.unlink(missing_ok=True)

    def write(self, data: bytes) -> None:
        """The record, into the held space (cut to its size), then renamed into place."""
        fd, self.fd = self.fd, -1
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        except BaseException:
            self.temp.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        replace_file(self.temp, self.record)
        if os.name != "nt":
            folder = os.open(self.record.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def _allocate(fd: int, size: int) -> None:
    """Blocks for `size` bytes: fallocate where there is one, else written zeros."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except AttributeError:  # macOS, Windows
        pass
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    view = memoryview(bytes(size))
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)

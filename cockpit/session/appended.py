"""Reading what was appended to a file since an offset: what the event follower and the log
tail both do, read-only."""

from __future__ import annotations

import os
from pathlib import Path


def read_appended(path: Path, offset: int, limit: int = -1) -> tuple[int, bytes] | None:
    """(the file's size now, up to `limit` bytes from `offset`), or None while it does not
    exist. A size below `offset` means the file shrank; then nothing is read."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < offset:
                return size, b""
            handle.seek(offset)
            return size, handle.read(limit)
    except FileNotFoundError:
        return None

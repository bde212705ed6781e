"""Replacing a file by rename, as Windows allows it: standard library only (the supervisor
imports it, and starts fast)."""

from __future__ import annotations

import os
import time
from pathlib import Path

# On Windows a file that anyone has open — a mirror in the middle of reading session.json, a
# scan — cannot be replaced until it is closed (ERROR_ACCESS_DENIED; Wine does the same).
# Readers hold it for milliseconds: wait that out, within a bound, rather than fail the write.
REPLACE_WAIT_S = 5.0


def replace_file(temp: Path, path: Path) -> None:
    """os.replace, waiting out (within REPLACE_WAIT_S) a reader that holds `path` open on
    Windows."""
    deadline, pause = time.monotonic() + REPLACE_WAIT_S, 0.002
    while True:
        try:
            os.replace(temp, path)
            return
        except PermissionError:
            if os.name != "nt" or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def read_replaced(path: Path) -> bytes:
    """A file that is replaced by rename (session.json, an exit record, the lock's holder),
    read whole. On Windows, opening it at the moment it is being replaced is refused
    (PermissionError, for a few milliseconds): asked again, within REPLACE_WAIT_S."""
    deadline, pause = time.monotonic() + REPLACE_WAIT_S, 0.002
    while True:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except PermissionError:
            if os.name != "nt" or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

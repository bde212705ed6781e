"""Replacing a file by rename, as Windows allows it: standard library only (the supervisor
imports it, and starts fast)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# On Windows a file that anyone has open — a mirror in the middle of reading session.json, a
# scan — cannot be replaced until it is closed (ERROR_ACCESS_DENIED; Wine does the same).
# Readers hold it for milliseconds: wait that out, within a bound, rather than fail the write.
REPLACE_WAIT_S = 5.0


def _retried_on_windows(action: Callable[[], T]) -> T:
    """`action()`, asked again on Windows while it is refused (PermissionError) by someone
    holding the file — within REPLACE_WAIT_S, then the refusal stands."""
    deadline, pause = time.monotonic() + REPLACE_WAIT_S, 0.002
    while True:
        try:
            return action()
        except PermissionError:
            if os.name != "nt" or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def replace_file(temp: Path, path: Path) -> None:
    """os.replace, waiting out (within REPLACE_WAIT_S) a reader that holds `path` open on
    Windows."""
    _retried_on_windows(lambda: os.replace(temp, path))


def read_replaced(path: Path) -> bytes:
    """A file that is replaced by rename (session.json, an exit record, the lock's holder),
    read whole. On Windows, opening it at the moment it is being replaced is refused
    (PermissionError, for a few milliseconds): asked again, within REPLACE_WAIT_S."""
    return _retried_on_windows(path.read_bytes)

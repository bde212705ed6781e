"""How readable what a session writes is: never more than the session folder itself. A
folder the operator keeps private (0700) gets private files (0600); one opened to a group
(0750) gives its files to the group to read (0640) — as a reviewer's mirror under another
account needs; the umask may only take more away. Standard library only: the supervisor
uses it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Windows' C runtime opens a file in text mode unless told otherwise, and then writes each \n
# as \r\n (and reads \r\n as \n): every file the cockpit opens with os.open carries this, or
# logs, events and copies would no longer match their sha256.
BINARY = getattr(os, "O_BINARY", 0)

OWNER_FILE = 0o600  # the owner always reads and writes what it made
OWNER_FOLDER = 0o700


def _bits(folder: Path | str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(folder).st_mode)
    except OSError:
        return None


def file_mode(folder: Path | str) -> int:
    """The mode of a file written in `folder`: read as the folder lets others read, written
    by its owner only, never executable (private if the folder cannot be read)."""
    bits = _bits(folder)
    return OWNER_FILE if bits is None else bits & 0o644 | OWNER_FILE


def folder_mode(like: Path | str) -> int:
    """The mode of a folder made inside a session: as open as the session folder `like`,
    never writable by others than its owner."""
    bits = _bits(like)
    return OWNER_FOLDER if bits is None else bits & 0o755 | OWNER_FOLDER


def inherited_mode(path: Path) -> int:
    """The mode a new session folder at `path` takes: that of the nearest folder above it
    that exists (sessions made in a private folder are private)."""
    for above in path.absolute().parents:
        if above.is_dir():
            return folder_mode(above)
    return OWNER_FOLDER


def make_folder(path: Path, like: Path | str) -> None:
    """`path` and any folder missing above it, each with the mode of the session folder
    `like` (Path.mkdir gives the ones above the default mode)."""
    if path.is_dir():
        return
    mode = folder_mode(like)
    missing = [path, *[p for p in path.parents if not p.is_dir()]]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode)
        except FileExistsError:  # made meanwhile (another process of this session)
            if not folder.is_dir():
                raise


def session_opener(path: str, flags: int) -> int:
    """An `opener` for open(): a file created in a session's folder gets that folder's
    file mode."""
    return os.open(path, flags | BINARY, file_mode(os.path.dirname(path) or "."))

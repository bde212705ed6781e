"""Private folders and files of the rehearsal world: seen to be ours before they are used
(looked at without following a link), and written so nobody else can read them."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


def private_folder_problem(folder: Path | str, uid: int) -> str | None:
    """Why `folder` is not a private folder of `uid` (a folder, not a link, owned by `uid`,
    mode 0700), or None when it is one."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return "it is gone"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder" + (" but a link" if stat.S_ISLNK(info.st_mode) else "")
    if info.st_uid != uid:
        return f"it belongs to uid {info.st_uid}, not {uid}"
    if stat.S_IMODE(info.st_mode) != 0o700:
        return f"its mode is {stat.S_IMODE(info.st_mode):04o}, not 0700"
    return None


def private_folder(folder: Path) -> Path:
    """`folder` and any parent it lacks made 0700; an existing `folder` must be a folder of
    ours (not a link), and is made 0700. Returns it; raises OSError naming what is wrong."""
    missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"{folder}: not a folder of ours (a link, or another owner's)")
    os.chmod(folder, 0o700)
    return folder


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by us alone: a new file under a random name
    beside it (created exclusively, never through a link), then renamed over it."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise

"""Private folders of the rehearsal world: seen to be ours before they are used (looked at
without following a link). Its private files are written with `safefs.write_private`."""

from __future__ import annotations

import contextlib
import os
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

"""Where a session folder may be. A new one (`--session`) is made only where its name leads
nowhere else — not a link — and never inside another session's folder (which is that
session's evidence: a folder put there breaks its verify). A session is resumed by its own
name, not through a link: resume writes there and starts processes that keep the path."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.session.layout import EVENTS


def enclosing_session(folder: Path) -> Path | None:
    """The session folder `folder` lies inside (as named, or where its links lead), if any."""
    named = Path(os.path.abspath(folder))
    real = named.parent.resolve()
    for place in (*named.parents, real, *real.parents):
        if os.path.lexists(place / EVENTS):
            return place
    return None


def check_new_session_folder(folder: Path) -> None:
    """A `--session` folder, refused before anything is made (exit 1)."""
    if os.path.islink(folder):
        raise CockpitError(f"--session {folder}: is a link (to {os.readlink(folder)}); name "
                           "a folder of its own — a new session is made only where its "
                           "name leads nowhere else")
    if (inside := enclosing_session(folder)) is not None:
        raise CockpitError(f"--session {folder}: lies inside the session {inside} (it has "
                           f"{EVENTS}), whose folder is its evidence; name a folder outside "
                           "any session")


def check_own_name(folder: Path) -> None:
    """A session resumed by its own name: a link is refused, naming the folder itself."""
    if os.path.islink(folder):
        real = Path(folder).resolve()
        raise CockpitError(f"{folder}: is a link; resume writes to the session and starts "
                           "processes that keep its path, so name the folder itself: "
                           f"cockpit resume {real}")


# Windows' MAX_PATH: a longer path fails unless long paths are enabled machine-wide and for
# the program — which the cockpit does not assume. 259 characters and the terminating NUL.
WINDOWS_PATH_LIMIT = 259
# The longest names a session writes below its folder, beside the step and file names: a
# run's `steps/<step>.<n>.operator-stop.json` and a captured input's
# `evidence/inputs/<16 hex>-<name>`.
_RUN_FILE = "steps/{step}.99.operator-stop.json"
_INPUT_FILE = "evidence/inputs/0123456789abcdef-{name}"


def deepest_path(folder: Path, step_ids: list[str], input_names: list[str]) -> str:
    """The longest path the session in `folder` will write (as Windows spells it)."""
    names = [_RUN_FILE.format(step=step) for step in step_ids]
    names += [_INPUT_FILE.format(name=name) for name in input_names]
    names.append("evidence/manifest.json")
    return max((os.path.join(os.path.abspath(folder), *name.split("/")) for name in names),
               key=len)


def check_path_length(folder: Path, step_ids: list[str], input_names: list[str],
                      os_name: str = os.name) -> None:
    """On Windows, a session whose deepest file would pass MAX_PATH is refused before it is
    made (exit 1): its evidence could not be written midway through the cutover."""
    if os_name != "nt":
        return
    deepest = deepest_path(folder, step_ids, input_names)
    if len(deepest) > WINDOWS_PATH_LIMIT:
        raise CockpitError(
            f"--session {folder}: its deepest file would be {len(deepest)} characters long "
            f"({deepest}), past Windows' limit of {WINDOWS_PATH_LIMIT}; give --session a "
            "shorter folder (e.g. d:\\s\\cutover-1), or shorten the runbook's step ids")

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

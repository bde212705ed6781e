"""One writer across machines: when a target's session is found locked by a cockpit that is
gone, may it be taken over here? On this host, the holder's pid says so. Across hosts (a
Celery worker lost), only the lease says it: the holder stopped renewing it in the holder
file for `lease_s`, and the running step's supervisor — which may outlive its cockpit, on a
host that is still up — has not touched its run record for `lease_s` either. Anything
less: wait, never two writers."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.session.layout import EVENTS
from cockpit.session.lock import holder_alive, holder_text, lease_age, read_lock_info
from cockpit.session.runfiles import running_files
from cockpit.session.state import fold
from cockpit.session.store import read_event_log


def take_over_reason(folder: Path, lease_s: float) -> str | None:
    """Why the lock of the session in `folder` may be taken over now; None: it may not
    (a live holder here, a lease still renewed, a supervisor still beating, or nobody)."""
    info = read_lock_info(folder)
    if not info:
        return None
    alive = holder_alive(folder)
    if alive is True:
        return None
    if alive is False:
        return f"its holder {holder_text(info)} is gone (this host)"
    age = lease_age(info)
    if age is None or age < lease_s:
        return None
    beat = supervisor_beat_age(folder)
    if beat is not None and beat < lease_s:
        return None
    said = f"; its step's supervisor last beat {beat:.0f} s ago" if beat is not None else ""
    return (f"its holder {holder_text(info)} stopped renewing its lease {age:.0f} s ago "
            f"(more than {lease_s:g} s){said}")


def held_by_a_live_cockpit(folder: Path, lease_s: float) -> bool:
    """Whether some cockpit, here or on another host, holds the session in `folder` now."""
    return bool(read_lock_info(folder)) and take_over_reason(folder, lease_s) is None


def supervisor_beat_age(folder: Path) -> float | None:
    """Seconds since the running step's supervisor last touched its run record (or made
    its claim); None when no step runs or it never started."""
    try:
        state = fold(read_event_log(folder / EVENTS).events)
    except (CockpitError, OSError):  # no session yet, or one that cannot be read
        return None
    found = running_files(folder, state)
    if found is None:
        return None
    files = found[1]
    for path in (files.started, files.claim):
        try:
            return time.time() - path.stat().st_mtime
        except OSError:
            continue
    return None

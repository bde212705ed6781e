"""A reviewer's mirror never competes with the cutover it watches: it lowers its own CPU
priority, so on a busy machine the operator's steps and supervisors run first."""

from __future__ import annotations

import contextlib
import os

MIRROR_NICENESS = 19  # the lowest: ten mirrors weigh less than one ordinary process


def yield_to_operator() -> None:
    if hasattr(os, "nice"):
        # Where it is not permitted, the mirror still works, at normal priority.
        with contextlib.suppress(OSError):
            os.nice(max(0, MIRROR_NICENESS - os.nice(0)))

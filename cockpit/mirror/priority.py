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
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        # Linux: run only on a CPU nothing else wants. Nice 19 still takes a share and
        # delays the wake-up of the operator's short-lived commands; SCHED_IDLE does not.
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

"""A mirror yields the CPU to the operator: the lowest niceness everywhere, and on Linux the
idle scheduling class, so it runs only on a CPU the cutover does not want."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

PROBE = ("import os; from cockpit.mirror.priority import yield_to_operator; "
         "yield_to_operator(); print(os.nice(0), os.sched_getscheduler(0))")


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="the idle class is Linux's")
def test_a_mirror_runs_at_the_lowest_priority() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)
    nice, policy = (int(x) for x in done.stdout.split())
    assert nice == 19 and policy == os.SCHED_IDLE

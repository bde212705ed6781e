"""The peak memory of a process a test starts, measured by a small Python in between: a child
forked from the test runner itself would start with the runner's high-water mark as its own
(Linux carries it across exec), and a process's peak read from /proc misses its last moments.
The peak is the process's own, or that of a child it reaped (for a headless run, its
supervisors); the CPU time counts both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BETWEEN = ("import os, sys\n"
            "pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)\n"
            "_, status, usage = os.wait4(pid, 0)\n"
            "with open(sys.argv[1], 'w') as out:\n"
            "    out.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} '\n"
            "              f'{usage.ru_utime + usage.ru_stime}')\n")


def start(argv: list[str], result: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """Start `argv` (its first item a full path) under the measuring Python, in a process
    group of their own; `popen`: the keywords for Popen (cwd, stdout, ...)."""
    return subprocess.Popen([sys.executable, "-S", "-c", _BETWEEN, str(result), *argv],
                            start_new_session=True, **popen)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill what `start` started, if it still runs (a test that failed half-way)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass(frozen=True)
class Measure:
    code: int  # exit code
    peak_kib: int  # peak RSS
    cpu_s: float  # user and system time, its reaped children's included


def measured(result: Path) -> Measure:
    """How a process started by `start` ran, once it has ended."""
    code, kib, cpu = result.read_text().split()
    return Measure(int(code), int(kib), float(cpu))

"""Dispatch on this machine: each target a `cockpit fleet target` process of its own (Alembic
is not thread-safe; each database gets its own process), in a session of its own so that a
Ctrl-C meant for the fleet never reaches a target mid-step. The fleet bounds how many run at
once; the work itself happens on the database servers."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from cockpit.fleet.folder import console_file

TARGET_COMMAND = ("-m", "cockpit", "fleet", "target")


@dataclass(frozen=True)
class Ended:
    target: str
    exit_code: int | None  # None: not ours to wait for (adopted after the fleet's restart)
    said: str  # the last line it printed


@dataclass(frozen=True)
class Note:
    """What a dispatcher has to say between ends: trouble with its broker, a target sent
    again (`resent`: how, for the ledger), a target running past a limit."""

    said: str
    target: str | None = None
    resent: str | None = None


class DispatchTrouble(Exception):
    """The dispatch cannot send now (its broker unreachable): said, and tried again."""


class LocalPool:
    """Target processes started here, and those a dead fleet process left running (adopted
    by pid on resume); `ended()` says which have finished since it was last asked."""

    name = "local"

    def __init__(self, fleet: Path) -> None:
        self.fleet = fleet
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._adopted: dict[str, int] = {}

    def dispatch(self, target: str) -> str:
        log = console_file(self.fleet, target)
        with open(log, "ab") as out:
            child = subprocess.Popen(
                [sys.executable, *TARGET_COMMAND, str(self.fleet), target],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._children[target] = child
        return f"local pid {child.pid}"

    def adopt(self, target: str, how: str) -> bool:
        """A target dispatched by an earlier fleet process: watched by its pid while that
        process still runs `fleet target` for it. False: it is not running any more."""
        words = how.split()
        if len(words) != 3 or words[:2] != ["local", "pid"] or not words[2].isdigit():
            return False
        pid = int(words[2])
        try:
            line = psutil.Process(pid).cmdline()
        except (psutil.Error, OSError):
            return False
        if target not in line or "target" not in line:
            return False
        self._adopted[target] = pid
        return True

    @property
    def running(self) -> set[str]:
        return set(self._children) | set(self._adopted)

    def ended(self) -> list[Ended]:
        done: list[Ended] = []
        for target, child in list(self._children.items()):
            code = child.poll()
            if code is not None:
                del self._children[target]
                done.append(Ended(target, code, last_line(console_file(self.fleet, target))))
        for target, pid in list(self._adopted.items()):
            if not _alive(pid):
                del self._adopted[target]
                done.append(Ended(target, None, last_line(console_file(self.fleet, target))))
        return done

    def notes(self) -> list[Note]:
        return []  # a child process here ends or runs: nothing between

    def close(self) -> None:
        """Nothing is stopped: a target runs to its end (or its next step, after a halt)."""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


TELLING = ("STOPPED", "REFUSED", "WAITING", "HELD", "NO-GO", "DECISION", "cockpit:")


def last_line(path: Path, tail: int = 16384) -> str:
    """What a target's console said last that tells where it stopped (a STOPPED, REFUSED,
    NO-GO... line, with the indented lines under it that say why), else its last line."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - tail))
            lines = [line.rstrip() for line in
                     handle.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    at = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith(TELLING)), None)
    if at is None:
        return lines[-1].strip() if lines else ""
    why = [line.strip() for line in lines[at + 1:at + 3] if line.startswith("  ")]
    return " — ".join([lines[at].strip(), *why])

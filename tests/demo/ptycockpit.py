"""`cockpit` in a real pseudo-terminal, as a terminal emulator runs it: its own session with
the terminal as its controlling one, keys typed into it, its screen read — and a hang-up made
the way an emulator makes one, by closing the terminal's master side."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil

from tests.conftest import REPO
from tests.run import as_a_terminal_starts_it
from tests.waiting import wait_until, within

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]")


def cockpit_command() -> list[str]:
    """`uv run cockpit`, as a user starts it (without syncing: the suite's venv is ready);
    this Python's `-m cockpit` where uv is not on the PATH."""
    uv = shutil.which("uv")
    return [uv, "run", "--no-sync", "cockpit"] if uv else [sys.executable, "-m", "cockpit"]


def _controlling_terminal() -> None:
    as_a_terminal_starts_it()
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyCockpit:
    def __init__(self, args: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)
                 ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.proc = subprocess.Popen([*cockpit_command(), *args], cwd=REPO,
                                     env={**env, "TERM": "xterm-256color"}, stdin=slave,
                                     stdout=slave, stderr=slave, close_fds=True,
                                     preexec_fn=_controlling_terminal)
        os.close(slave)
        self.started = time.monotonic()
        self._output = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.closed = False

    def _read(self) -> None:
        # select with a timeout, never a blocking read: a read in progress would hold the
        # master open, and closing it would hang nothing up.
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._output += data

    def text(self, since: int = 0) -> str:
        """What the terminal was sent (from the `mark` given), escape sequences taken out."""
        with self._lock:
            raw = bytes(self._output[since:])
        return _ESCAPES.sub(b"", raw).decode("utf-8", "replace")

    def mark(self) -> int:
        with self._lock:
            return len(self._output)

    def wait_for_text(self, text: str, deadline_s: float = 120) -> None:
        def shown() -> bool:
            assert self.proc.poll() is None, f"the cockpit ended waiting for {text!r}"
            return text in self.text()

        wait_until(shown, f"{text!r} on the screen", deadline_s, every_s=0.05)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def session_processes(self) -> list[int]:
        """Every process still in the terminal's session: the cockpit and whatever it started
        that stayed there (the world's server, its terminator and the step supervisors start
        sessions of their own)."""
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == self.proc.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
            except (OSError, psutil.Error):
                continue
        return found

    def hang_up(self) -> None:
        """Close the terminal, as an emulator does when its window is closed."""
        self._stop.set()
        self._reader.join()
        os.close(self.master)
        self.closed = True

    def wait_gone(self, within_s: float) -> float:
        """Seconds until no process of the terminal's session is left (the cockpit's own
        exit reaped); fails after `within_s`."""
        hung_up = time.monotonic()

        def gone() -> bool:
            self.proc.poll()  # the cockpit's own exit reaped
            return not self.session_processes()

        assert within(gone, within_s), \
            f"still running {within_s} s after the hang-up: {self._describe()}"
        return time.monotonic() - hung_up

    def _describe(self) -> str:
        lines = []
        for pid in self.session_processes():
            try:
                lines.append(f"{pid} {' '.join(psutil.Process(pid).cmdline())[:160]}")
            except psutil.Error:
                continue
        return "; ".join(lines)

    def kill(self) -> None:
        """End whatever is left (a failed test's cockpit)."""
        for pid in self.session_processes():
            try:
                os.kill(pid, 9)
            except OSError:
                continue
        if not self.closed:
            self.hang_up()
        self.proc.wait(10)


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []

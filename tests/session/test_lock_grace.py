"""A session's lock held while no holder file names anyone (a cockpit between taking the lock
and naming itself, or a child forked an instant before its cockpit let go, not yet at exec)
is waited for, briefly; a lock a cockpit's holder file names is refused at once, or as soon
as it names itself; a nameless holder that keeps it is refused after the grace, named by its
pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cockpit.session.lock import HOLDER, LOCK, NAMELESS_GRACE, SessionLock, SessionLocked

# Takes the lock, says so, and keeps it until its stdin closes (or `after` seconds).
HOLD = ("import fcntl, os, select, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "select.select([sys.stdin], [], [], float(sys.argv[2]))\n")


@contextmanager
def held(folder: Path, after: float) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(folder / LOCK), str(after)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_nameless_holder_that_lets_go_at_once_is_waited_for(tmp_path: Path) -> None:
    with held(tmp_path, after=0.3):
        began = time.monotonic()
        lock = SessionLock.acquire(tmp_path)
        waited = time.monotonic() - began
    try:
        assert 0.2 <= waited < NAMELESS_GRACE
        assert json.loads((tmp_path / HOLDER).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_a_named_holder_is_refused_at_once(tmp_path: Path) -> None:
    with held(tmp_path, after=30) as child:
        (tmp_path / HOLDER).write_text(json.dumps({"pid": child.pid, "host": "h", "user": "u",
                                                   "since": "then"}))
        began = time.monotonic()
        with pytest.raises(SessionLocked, match=f"driven by u@h \\(pid {child.pid}"):
            SessionLock.acquire(tmp_path)
        assert time.monotonic() - began < 0.5


def test_a_nameless_holder_that_keeps_it_is_refused_after_the_grace_named(
        tmp_path: Path) -> None:
    with held(tmp_path, after=30) as child:
        began = time.monotonic()
        with pytest.raises(SessionLocked, match=f"held by pid {child.pid} .*not a cockpit"):
            SessionLock.acquire(tmp_path)
        assert NAMELESS_GRACE <= time.monotonic() - began < NAMELESS_GRACE + 1.5


def test_a_holder_that_names_itself_during_the_wait_is_refused_then_by_name(
        tmp_path: Path) -> None:
    with held(tmp_path, after=30) as child:
        named = threading.Timer(0.3, lambda: (tmp_path / HOLDER).write_text(json.dumps(
            {"pid": child.pid, "host": "h", "user": "u", "since": "then"})))
        named.start()
        began = time.monotonic()
        with pytest.raises(SessionLocked, match=f"driven by u@h \\(pid {child.pid}"):
            SessionLock.acquire(tmp_path)
        assert 0.25 <= time.monotonic() - began < 1.0
        named.join()

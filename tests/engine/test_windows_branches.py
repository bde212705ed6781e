"""The Windows branches of the supervisor, the launcher and the session lock, tested here on
their flag and signal logic (the values are Windows' own, fixed by its API), next to the
POSIX branch each replaces, run for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import psutil
import pytest

from cockpit.engine.launcher import detach_kwargs
from cockpit.engine.supervisor import (
    group_alive,
    group_kwargs,
    group_signal,
    signal_group,
)
from cockpit.session import lock as lock_module
from cockpit.session.lock import SessionLock, SessionLocked, _try_lock_posix, _try_lock_windows
from tests.waiting import wait_until, within

CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, CTRL_BREAK_EVENT = 0x200, 0x08000000, 1


class FakeChild:
    """A Popen-like child recording the signals sent to it."""

    def __init__(self, returncode: int | None = None, gone: bool = False) -> None:
        self.pid, self.returncode, self.gone, self.sent = 4242, returncode, gone, []

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.gone:
            raise ProcessLookupError
        self.sent.append(sig)


def test_windows_children_lead_a_new_process_group_and_the_supervisor_has_its_own_console(
        ) -> None:
    """A console of its own, unseen (not DETACHED_PROCESS: without a console it cannot send
    the step Ctrl+Break — WinError 6, issue #29)."""
    assert group_kwargs("nt") == {"creationflags": CREATE_NEW_PROCESS_GROUP}
    assert detach_kwargs("nt") == {"creationflags": CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP}
    assert group_kwargs("posix") == detach_kwargs("posix") == {"start_new_session": True}


def test_windows_interrupt_is_ctrl_break_to_the_group_and_other_signals_pass_as_they_are() -> None:
    assert group_signal(signal.SIGINT, "nt") == CTRL_BREAK_EVENT
    assert group_signal(signal.SIGTERM, "nt") == signal.SIGTERM
    assert group_signal(signal.SIGINT, "posix") == signal.SIGINT
    child = FakeChild()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal_group(child, sig, "nt")  # type: ignore[arg-type]
    assert child.sent == [CTRL_BREAK_EVENT, signal.SIGTERM]
    signal_group(FakeChild(gone=True), signal.SIGTERM, "nt")  # a child already gone: quiet


def test_windows_group_is_alive_while_its_child_runs() -> None:
    assert group_alive(FakeChild(returncode=None), "nt")  # type: ignore[arg-type]
    assert not group_alive(FakeChild(returncode=0), "nt")  # type: ignore[arg-type]


def test_posix_group_signal_reaches_a_grandchild_and_then_the_group_is_gone() -> None:
    child = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], **group_kwargs())
    try:
        wait_until(lambda: psutil.Process(child.pid).children(), "the grandchild to start")
        assert group_alive(child)  # type: ignore[arg-type]
        signal_group(child, signal.SIGTERM)  # type: ignore[arg-type]
        child.wait(timeout=10)
        within(lambda: not group_alive(child), deadline_s=10, every_s=0.05)  # type: ignore[arg-type]
        assert not group_alive(child)  # type: ignore[arg-type]  # the sleep went too
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)


class FakeMsvcrt:
    """msvcrt.locking as Windows behaves: one byte locked at the file position, by one fd."""

    LK_NBLCK = 2

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}
        self.calls: list[tuple[int, int, int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((fd, mode, nbytes, position))
        key = (os.fstat(fd).st_ino, position)
        if key in self.held and self.held[key] != fd:
            raise OSError(36, "Resource deadlock avoided")
        self.held[key] = fd


def test_windows_lock_takes_the_first_byte_without_blocking(tmp_path: Path) -> None:
    fake = FakeMsvcrt()
    path = tmp_path / "lock"
    first, second = (os.open(path, os.O_RDWR | os.O_CREAT) for _ in range(2))
    try:
        assert _try_lock_windows(first, fake)
        assert not _try_lock_windows(second, fake)
        assert [call[1:] for call in fake.calls] == [(FakeMsvcrt.LK_NBLCK, 1, 0)] * 2
    finally:
        os.close(first)
        os.close(second)


def test_a_second_operator_is_refused_on_the_windows_branch_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock_module, "_try_lock", partial(_try_lock_windows, msvcrt=FakeMsvcrt()))
    held = SessionLock.acquire(tmp_path)
    with pytest.raises(SessionLocked, match=f"pid {os.getpid()}"):
        SessionLock.acquire(tmp_path)
    held.release()


def test_posix_lock_is_exclusive_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        assert _try_lock_posix(fd)
        probe = ("import os, sys\nfrom cockpit.session.lock import _try_lock_posix\n"
                 "print(_try_lock_posix(os.open(sys.argv[1], os.O_RDWR)))")
        other = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                               text=True, check=True)
        assert other.stdout.strip() == "False"
    finally:
        os.close(fd)


@pytest.mark.parametrize("os_name", ["posix", "nt"])
def test_the_output_reader_gives_every_byte_then_the_end(os_name: str) -> None:
    """Windows cannot wait on a pipe: its reader is a thread feeding a queue; POSIX waits
    on the pipe itself. Both give every byte in order, None while nothing comes, then b""."""
    from cockpit.engine.supervisor import ChunkReader

    read_end, write_end = os.pipe()
    reader = ChunkReader(read_end, os_name=os_name)
    try:
        assert reader.get(0.05) is None  # nothing written yet
        sent = b"".join(b"line %d\n" % i for i in range(20000))

        def write() -> None:  # beside the reader: a pipe holds only so much
            for start in range(0, len(sent), 4096):
                os.write(write_end, sent[start : start + 4096])
            os.close(write_end)

        writer = threading.Thread(target=write)
        writer.start()
        got = b""

        def drained() -> bool:  # each get waits up to 50 ms for bytes itself
            nonlocal got
            chunk = reader.get(0.05)
            got += chunk or b""
            return chunk == b""

        wait_until(drained, "the reader to reach the pipe's end", 10, every_s=0)
        writer.join(10)
        assert got == sent and reader.get(0.05) == b"" and reader.empty()
    finally:
        os.close(read_end)

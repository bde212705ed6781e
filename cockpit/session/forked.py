"""Work for the second core: a function run in a forked child while the caller goes on,
its text result sent back through a pipe. Only where a fork is safe — POSIX, and no other
thread in the process (a fork copies one thread: a lock another held would stay held in
the child); elsewhere the work runs in place, when its result is asked for."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


def in_child(work: Callable[[], str | None]) -> Callable[[], str | None]:
    """Start `work` in a forked child; the returned call waits for its result — None when
    the work found none, or the child did not finish (the caller then does without).
    Call it exactly once: it also reaps the child."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return work
    try:
        read, write = os.pipe()
    except OSError:  # out of descriptors: in place
        return work
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory: in place
        os.close(read)
        os.close(write)
        return work
    if pid == 0:  # the child: nothing of the parent's (buffers, atexit) is run on its way out
        code = 1
        try:
            os.close(read)
            found = work()
            view = memoryview(b"-" if found is None else b"=" + found.encode())
            while view:
                view = view[os.write(write, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write)

    def collect() -> str | None:
        with os.fdopen(read, "rb") as pipe:
            sent = pipe.read()
        _, status = os.waitpid(pid, 0)
        return sent[1:].decode() if status == 0 and sent[:1] == b"=" else None

    return collect

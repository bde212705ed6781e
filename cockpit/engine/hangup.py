"""A hang-up (SIGHUP: the terminal went away) ends a cockpit cleanly at any moment — the
session's lock released, the world it owns stopped, nothing lost; a running step goes on under
its supervisor, which ignores hang-ups.

How it ends depends on where the hang-up lands:
- in a block of our own that cleans up after itself (building or opening a world, waiting
  for a step): `HangUp` is raised there at once;
- in the screen: the app is asked to exit, and the callers' `finally` blocks close the rest;
- anywhere else (the engine writing the session): it is noted, and `check()` raises it at the
  next safe point.
Should none of these end the process within a few seconds, it ends the way a crash would —
which the session survives (invariant 7) — but tidily: the cleanups registered with
`add_cleanup` (the lock, the world) run first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

EXIT_HANGUP = 129  # 128 + SIGHUP, as a shell reports it
GRACE_APP_S = 2.5  # for the screen to close and the session and world with it
GRACE_S = 2.0  # for the engine's call in flight to reach the next check()
CLEANUP_S = 2.0  # for the cleanups of a hard exit: the process ends then, done or not


class HangUp(BaseException):
    """The terminal went away; not an Exception, so no `except Exception` swallows it."""


class App(Protocol):
    def exit(self) -> None: ...


class _Guard:
    def __init__(self) -> None:
        self.installed = False
        self.noted = False
        self.raised = False
        self.interruptible = 0
        self.app: App | None = None
        self.cleanups: list[Callable[[], object]] = []
        self.timer: threading.Timer | None = None
        self.lock = threading.Lock()


_guard = _Guard()


def install() -> None:
    """From now on a hang-up ends this process as above (`run`, `resume`, `demo`) — unless
    hang-ups are ignored already (`nohup`): whoever started it so asked for that. Windows has
    no hang-up signal: nothing to do there."""
    if not hasattr(signal, "SIGHUP") or signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        return
    _guard.installed = True
    signal.signal(signal.SIGHUP, _on_hangup)


def hung_up() -> bool:
    return _guard.noted


def check() -> None:
    """A safe point: raise the hang-up noted while the engine was busy."""
    if _guard.noted and not _guard.raised:
        _guard.raised = True
        raise HangUp()


def _on_hangup(signum: int, frame: object) -> None:
    _guard.noted = True
    app = _guard.app
    if app is not None:
        try:  # on the event loop's own turn, not in the middle of whatever it was doing
            asyncio.get_running_loop().call_soon_threadsafe(app.exit)
        except RuntimeError:  # the loop is not running yet, or no more
            app.exit()
        _arm(GRACE_APP_S)
        return
    if _guard.interruptible and not _guard.raised:
        _guard.raised = True
        _arm(GRACE_APP_S)  # should the block's own cleanup hang
        raise HangUp()
    _arm(GRACE_S)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A block of our own code that a hang-up may stop at once: it cleans up on the way out
    (BaseException), and writes nothing a crash could not leave behind."""
    check()
    _guard.interruptible += 1
    try:
        yield
    finally:
        _guard.interruptible -= 1


@contextlib.contextmanager
def screen(app: App) -> Iterator[None]:
    """While `app` runs, a hang-up asks it to exit; once it has, the hang-up is raised."""
    check()
    _guard.app = app
    try:
        yield
    except Exception:
        if not _guard.noted:
            raise
        # The screen failed on its way out, writing to a terminal that is gone: the hang-up
        # is what happened.
    finally:
        _guard.app = None
    if _guard.noted:
        _quiet()  # the terminal is gone: what follows must not fail writing to it
        _guard.raised = True
        raise HangUp()


class Screen(Protocol):
    """A cockpit screen, as `run_screen` drives it (a Textual app)."""

    def run(self) -> object: ...

    def exit(self) -> None: ...


def run_screen(app: Screen) -> None:
    """Run a cockpit screen; a closed terminal (SIGHUP) ends it like `q`, then raises
    `HangUp`, so the session and the world are closed properly by the callers — a running
    step goes on under its supervisor. A hang-up before the screen is up ends it before it
    starts."""
    with screen(app):
        app.run()


def add_cleanup(cleanup: Callable[[], object]) -> None:
    """Run `cleanup` should this process be ended the hard way (latest first)."""
    _guard.cleanups.append(cleanup)


def _arm(grace: float) -> None:
    with _guard.lock:
        if _guard.timer is None:
            _guard.timer = threading.Timer(grace, _hard_exit)
            _guard.timer.daemon = True
            _guard.timer.start()


def _hard_exit() -> None:
    # A cleanup may wait on what the stuck main thread holds (the world's lock): the process
    # ends on time regardless; what a cleanup could not do, the watchdog or --take-over does.
    # Each cleanup in a thread of its own, all at once: a slow one (the world's server
    # stopping on a loaded machine) must not keep a quick one (the session's lock) from
    # being done before the deadline.
    _quiet()
    runs = [threading.Thread(target=_suppressed, args=(cleanup,), daemon=True)
            for cleanup in reversed(list(_guard.cleanups))]
    for run in runs:
        run.start()
    deadline = time.monotonic() + CLEANUP_S
    for run in runs:
        run.join(max(0.0, deadline - time.monotonic()))
    os._exit(EXIT_HANGUP)


def _suppressed(cleanup: Callable[[], object]) -> None:
    with contextlib.suppress(BaseException):
        cleanup()


def _quiet() -> None:
    """stdout and stderr to /dev/null: writing to a hung-up terminal fails (EIO)."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)

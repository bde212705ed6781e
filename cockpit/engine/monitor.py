"""The step monitor: once a step is launched, the engine — not a screen — watches it and
records its life: its end (and the halt an abort match calls for), a supervisor lost or a
step past its timeout, the lock radar's start, the drift notes. It runs only in the process
that holds the session's lock (a mirror has no controller), in one thread woken by the
session's file notifier, and each of its looks takes the controller's turn, so its writes and
the operator's verbs never interleave. Screens and the headless runner only read what it
records (the controller's listeners)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.session.notify import ChangeWaiter

LOOK_EVERY_S = 0.5  # a look at least this often: timeouts, the radar's start and drift are timed
LOOK_GAP_S = 0.05  # at most one look per this: a chatty log notifies per write
FAULT_PAUSE_S = 1.0  # after a look that failed, before the next: no loop of failures


class StepMonitor:
    """`look()` (the controller's: record what the running step's files now say) at every
    change in the session's folder or its `steps/` and at least every LOOK_EVERY_S, under `turn`,
    until `stop()`. A look that raises is handed to `on_fault` (the controller records it)
    and the monitor goes on."""

    def __init__(self, look: Callable[[], object], turn: threading.RLock, folder: Path,
                 on_fault: Callable[[BaseException], object]) -> None:
        self._look = look
        self._turn = turn
        self._folder = folder
        self._on_fault = on_fault
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.fault: BaseException | None = None  # the last look's failure, until one succeeds

    @property
    def running(self) -> bool:
        """Watching: started and not stopped (a stopped thread may take a moment to end,
        but begins no look)."""
        return (self._thread is not None and self._thread.is_alive()
                and not self._stopped.is_set())

    def start(self) -> None:
        if self._thread is not None or self._stopped.is_set():
            return
        self._thread = threading.Thread(target=self._watch, name="cockpit-step-monitor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """No look begins after this returns: a look in flight holds the turn, which the
        caller takes next (the controller's close) before it lets the session go."""
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            with self._turn:  # waits for a look in flight; the next sees the flag
                pass

    def _look_once(self) -> None:
        """One look in the session's turn, unless stopped meanwhile."""
        with self._turn:
            if not self._stopped.is_set():
                self._look()

    def _watch(self) -> None:
        # The session folder (a run's first files appear under it) and its steps/ once
        # there; never made here — the session makes its folders with their modes.
        waiter = ChangeWaiter([self._folder])
        try:
            while not self._stopped.is_set():
                waiter.watch(self._folder / "steps")
                began = time.monotonic()
                try:
                    self._look_once()
                    self.fault = None
                except Exception as exc:  # recorded by the controller; the watch goes on
                    self.fault = exc
                    self._on_fault(exc)
                    self._stopped.wait(FAULT_PAUSE_S)
                gap = LOOK_GAP_S - (time.monotonic() - began)
                if gap > 0 and self._stopped.wait(gap):
                    break
                waiter.wait(LOOK_EVERY_S)
        finally:
            waiter.close()

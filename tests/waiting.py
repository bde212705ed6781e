"""Waiting in tests: on a condition, with a deadline — never an unbounded loop, never a
sleep standing in for "long enough"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

DEADLINE_S = 60.0


class Polled(Protocol):
    def running(self) -> Any: ...

    def poll(self) -> bool: ...


def wait_until(condition: Callable[[], object], what: str, deadline_s: float = DEADLINE_S,
               every_s: float = 0.02) -> None:
    """Return once `condition()` is true; fail naming `what` if it is not by the deadline."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {deadline_s:g} s: {what}"
        time.sleep(every_s)


def finish_running(ctl: Polled, deadline_s: float = DEADLINE_S) -> None:
    """Poll a controller until no step runs (its end recorded)."""

    def ended() -> bool:
        ctl.poll()
        return ctl.running() is None

    wait_until(ended, "the running step to end", deadline_s)


async def pause_until(pilot: Any, condition: Callable[[], object], what: str,
                      deadline_s: float = DEADLINE_S, every_s: float = 0.05) -> None:
    """As wait_until, inside a Textual test: the app runs while we wait."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {deadline_s:g} s: {what}"
        await pilot.pause(every_s)


class LineReader:
    """Reads a child's output lines as they come (a thread), so a test can wait for one
    line with a deadline instead of sleeping for long enough."""

    def __init__(self, stream: Any) -> None:
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, text: str, deadline_s: float = DEADLINE_S) -> None:
        wait_until(lambda: any(text in line for line in list(self.lines)),
                   f"a line with {text!r}", deadline_s)

    def text(self, deadline_s: float = DEADLINE_S) -> str:
        """Everything, once the stream has closed."""
        self._thread.join(deadline_s)
        assert not self._thread.is_alive(), "the output did not end"
        return "".join(self.lines)

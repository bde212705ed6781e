"""Waiting in tests: on a condition, with a deadline — never an unbounded loop, never a
sleep standing in for "long enough". The only module of tests/ that sleeps
(tests/test_no_sleeps.py holds the rule): where time itself must pass, a helper here says why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

DEADLINE_S = 60.0
T = TypeVar("T")


class Polled(Protocol):
    def running(self) -> Any: ...

    def poll(self) -> bool: ...


def within(condition: Callable[[], object], deadline_s: float = DEADLINE_S,
           every_s: float = 0.02) -> bool:
    """Whether `condition()` came true by the deadline, asked every `every_s` — for a caller
    that does its own failing (or cleaning up) when it did not. An assertion raised by the
    condition (a child that died meanwhile) ends the wait at once."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)
    return True


def wait_until(condition: Callable[[], object], what: str, deadline_s: float = DEADLINE_S,
               every_s: float = 0.02) -> None:
    """Return once `condition()` is true; fail naming `what` if it is not by the deadline."""
    assert within(condition, deadline_s, every_s), f"not within {deadline_s:g} s: {what}"


def wait_for(value: Callable[[], T], what: str, deadline_s: float = DEADLINE_S,
             every_s: float = 0.02) -> T:
    """The first true value `value()` gives; fail naming `what` if none by the deadline."""
    got: list[T] = []

    def given() -> bool:
        got[:] = [value()]
        return bool(got[0])

    wait_until(given, what, deadline_s, every_s)
    return got[0]


def finish_running(ctl: Polled, deadline_s: float = DEADLINE_S) -> None:
    """Poll a controller until no step runs (its end recorded)."""

    def ended() -> bool:
        ctl.poll()
        return ctl.running() is None

    wait_until(ended, "the running step to end", deadline_s)


def let_time_pass(seconds: float) -> None:
    """Let time itself pass, where the passing is what the test is about: a transaction
    must grow older than a limit, a child must be slow or write in two parts, a kill lands
    at a chosen moment, or nothing must have happened a while after a cause. Never for
    "long enough for X": wait for X."""
    time.sleep(seconds)


async def let_time_pass_async(seconds: float) -> None:
    """As let_time_pass, inside an event loop that goes on meanwhile (a browser drawing a
    page for the time a screenshot allows it)."""
    await asyncio.sleep(seconds)


async def app_idle(pilot: Any) -> None:
    """Inside a Textual test: return once the app has handled what is queued — messages,
    scheduled animations, the refresh they caused. Waits on the app, not on a clock."""
    await pilot.wait_for_scheduled_animations()


async def pause_until(pilot: Any, condition: Callable[[], object], what: str,
                      deadline_s: float = DEADLINE_S, every_s: float = 0.05) -> None:
    """As wait_until, inside a Textual test: the app runs while we wait."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {deadline_s:g} s: {what}"
        await pilot.pause(every_s)


async def let_app_time_pass(pilot: Any, seconds: float) -> None:
    """As let_time_pass, inside a Textual test (the app runs meanwhile): for a screen that
    must show nothing new a while after a cause, or timers whose period is the point."""
    await pilot.pause(seconds)


async def wait_until_async(condition: Callable[[], object], what: str,
                           deadline_s: float = DEADLINE_S, every_s: float = 0.05) -> None:
    """As wait_until, inside an event loop that goes on meanwhile (an aiohttp server)."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {deadline_s:g} s: {what}"
        await asyncio.sleep(every_s)


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

"""A resumed session's rehearsal world, opened by the world's own process
(`python -m cockpit.demo.worldproc up WORKSPACE SESSION`), so `resume` loads none of the
world's machinery. The child tells, one JSON object a line on its stdout pipe, what it is
waiting for and then the steps' DSN variables and the password it set (never on a command
line or in a file); it holds the world open until told `end` on its stdin (or the pipe
closes), then stops it — unless a step of the session still runs, whose watchdog stops it
later — and says so before it exits."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

WORLD_ENTRY = "cockpit.demo.worldproc"
WORLD_FILE = "world.json"  # what a rehearsal world's workspace holds (cockpit/demo/world.py)
END_S = 30.0  # for the world to be stopped once told: its server and helpers, each bounded


def world_of(workdir: Path) -> Path | None:
    """The rehearsal world a session's working directory belongs to, if any: told from its
    files alone, without loading the world's machinery."""
    workspace = workdir.parent
    return workspace if (workspace / WORLD_FILE).exists() else None


class WorldFailed(Exception):
    """The world's process failed in a way it could not name as a refusal."""


class WorldLink:
    """The world held open by its own process: the steps' environment and its password."""

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], secret: str) -> None:
        self.proc = proc
        self.env = env
        self.secret = secret

    @classmethod
    def open(cls, workspace: Path, session: Path, say: Callable[[str], None]) -> WorldLink:
        """The world up with a fresh password, once no step of `session` runs any more (the
        caller holds its lock); what the world's process says meanwhile goes to `say`."""
        from cockpit.engine import hangup

        proc = subprocess.Popen(
            [sys.executable, "-m", WORLD_ENTRY, "up", str(workspace), str(session)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, encoding="utf-8", start_new_session=True)
        try:
            with hangup.interruptible():
                env, secret = _until_up(proc, say)
        except BaseException:  # refused, or cut short: its process cleans up and ends
            _stop(proc)
            raise
        return cls(proc, {**os.environ, **env}, secret)

    def close(self) -> None:
        """This cockpit is done with the world: stopped, or left to a step that runs."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("end\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(END_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _until_up(proc: subprocess.Popen[str], say: Callable[[str], None]
              ) -> tuple[dict[str, str], str]:
    """Read the world's process until it is up; a refusal raised as the error it was."""
    assert proc.stdout is not None
    while (message := _message(proc.stdout)) is not None:
        if "say" in message:
            say(str(message["say"]))
        elif "up" in message:
            return dict(message["up"]["env"]), str(message["up"]["secret"])
        elif "refused" in message:
            raise _refusal(str(message["refused"]), int(message.get("exit_code", 1)))
        elif "failed" in message:
            raise WorldFailed(str(message["failed"]))
    raise WorldFailed(f"the rehearsal world's process ended (exit {proc.wait()}) before the "
                      "world was up")


def _message(stream: IO[str]) -> dict[str, Any] | None:
    line = stream.readline()
    if not line:
        return None
    try:
        message = json.loads(line)
    except ValueError:
        raise WorldFailed(f"the rehearsal world's process said {line[:200]!r}") from None
    return message if isinstance(message, dict) else {}


def _refusal(text: str, exit_code: int) -> Exception:
    from cockpit.errors import CockpitError

    error = CockpitError(text)
    error.exit_code = exit_code
    return error


def _stop(proc: subprocess.Popen[str]) -> None:
    """End the world's process while it opens the world: it stops what it started."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(END_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

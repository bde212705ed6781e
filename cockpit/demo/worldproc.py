"""The rehearsal world's own entry point for a resumed cockpit, which loads none of the
world's machinery itself (cockpit/cli/worldlink.py is the other side):

    python -m cockpit.demo.worldproc up WORKSPACE SESSION

It waits for a step of SESSION that still runs (the step uses the world's current
password), brings the world up with a fresh password and tells the cockpit, one JSON object
a line on stdout: `{"say": ...}` while it waits, then `{"up": {"env": ..., "secret": ...}}`
— or `{"refused": ..., "exit_code": ...}` / `{"failed": ...}`. It then holds the world open
for the cockpit (whose pid world.json names as its user) until stdin says `end` or closes,
and stops the world unless a step still runs; a SIGTERM meanwhile ends it the same way.
Terminal hang-ups are not its business: the cockpit ends it."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any


class Ended(BaseException):
    """Told to end (SIGTERM) while opening the world: what was started is stopped."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "up":
        print("usage: python -m cockpit.demo.worldproc up WORKSPACE SESSION", file=sys.stderr)
        return 1
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _ended)
    channel = _channel()
    return up(Path(args[1]), Path(args[2]), channel, os.getppid())


def up(workspace: Path, session: Path, channel: IO[str], user: int) -> int:
    """Open the world for the cockpit `user`, hold it until told to end, then stop it."""
    from cockpit.demo.session import leave_or_stop, open_world_for_resume
    from cockpit.demo.world import World
    from cockpit.errors import CockpitError

    orders = Orders()
    world: World | None = None
    try:
        world = open_world_for_resume(session, workspace,
                                      lambda text: _send(channel, {"say": text}), user=user)
        orders.opened = True
        changed = {k: v for k, v in world.env().items() if os.environ.get(k) != v}
        _send(channel, {"up": {"env": changed, "secret": world.password}})
        orders.ended.wait()
    except (Ended, OSError):  # told to end, or nobody left to read: the end all the same
        pass
    except CockpitError as exc:
        _send(channel, {"refused": exc.message, "exit_code": exc.exit_code})
        return exc.exit_code
    except Exception as exc:  # the cockpit masks it and reports it as an internal error
        _send(channel, {"failed": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the stop below runs to its end
        if world is not None:
            leave_or_stop(world, session, user)
    return 0


class Orders:
    """What the cockpit says on stdin: `end`, or nothing more (its pipe closed). Before the
    world is up, either ends the opening at once (SIGTERM to this process)."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.opened = False
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        for line in sys.stdin:
            if line.strip() == "end":
                break
        self.ended.set()
        if not self.opened:
            os.kill(os.getpid(), signal.SIGTERM)


def _ended(signum: int, frame: object) -> None:
    raise Ended()


def _channel() -> IO[str]:
    """The pipe to the cockpit, kept apart from stdout, which goes nowhere from now on: a
    process started from here never holds the cockpit's end of it."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    return channel


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


if __name__ == "__main__":
    raise SystemExit(main())

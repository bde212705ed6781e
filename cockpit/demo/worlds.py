"""`cockpit demo --worlds` and `--stop WORKSPACE`: this user's rehearsal worlds that are
running, from the user's registry, and stopping one by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from cockpit.demo import registry
from cockpit.demo.usage import world_in_use
from cockpit.demo.watchdog import read_state
from cockpit.demo.world import World
from cockpit.errors import EXIT_REFUSED, CockpitError

Print = Callable[[str], None]


class WorldInUse(CockpitError):
    exit_code = EXIT_REFUSED


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}h{rest // 60:02d}m" if hours else
            f"{rest // 60}m{rest % 60:02d}s" if rest >= 60 else f"{rest}s")


def _idle(world: World) -> str:
    state = read_state(world.workspace)
    if state is None:
        return "no watchdog"
    stop = float(state.get("idle_stop") or 0)
    since = state.get("idle_since")
    if since is None:
        return f"in use (stops {_duration(stop)} after)"
    try:
        idle = time.time() - datetime.fromisoformat(str(since)).timestamp()
    except ValueError:
        return "?"
    return f"{_duration(max(idle, 0))} (stops at {_duration(stop)})"


def running_worlds() -> list[World]:
    """This user's worlds whose server runs; a noted world that no longer runs is forgotten."""
    found = []
    for workspace in registry.remembered():
        try:
            world = World.load(workspace)
        except CockpitError:
            registry.forget(workspace)
            continue
        if world.cluster.running():
            found.append(world)
        else:
            registry.forget(workspace)
    return found


def list_worlds(out: Print) -> int:
    worlds = running_worlds()
    if not worlds:
        out("no rehearsal world of yours is running")
        return 0
    rows = [("WORKSPACE", "PORT", "PID", "IDLE")]
    for world in worlds:
        pid = world.cluster.postmaster_pid()
        rows.append((str(world.workspace), str(world.info.port), str(pid or "?"), _idle(world)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  " + row[3])
    return 0


def stop_world(workspace: Path, force: bool, out: Print) -> int:
    """Stop a world: refused (exit 3) while a step runs there or a cockpit uses it, unless
    `force` — a step then fails, its database gone."""
    world = World.load(workspace.resolve())
    if not world.cluster.running():
        world.stop()  # the terminator or the watchdog may have outlived it
        out(f"the rehearsal world in {world.workspace} is not running")
        return 0
    in_use = world_in_use(asdict(world.info))
    if in_use is not None and not force:
        raise WorldInUse(f"{world.workspace}: not stopped: {in_use.reason}; "
                         + ("stopping its database would fail that step; " if in_use.step
                            else "")
                         + "add --force to stop it all the same")
    world.stop()
    out(f"stopped the rehearsal world in {world.workspace} (`cockpit resume SESSION` starts "
        "it again)")
    return 0

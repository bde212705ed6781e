"""The processes left in a step's process group once its command has ended: listed (pid and
command line), then stopped — TERM, then KILL — so that nothing a step started outlives it
unnoticed. Zombies are not counted: they have ended, only their parent has not yet reaped
them. Standard library only: the supervisor imports it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass

COMMAND_LIMIT = 200  # characters of a command line kept in the record
LISTED_LIMIT = 20  # processes named in the record; its count says how many there were


@dataclass(frozen=True)
class Member:
    pid: int
    command: str


def members(pgid: int) -> list[Member]:
    """The live processes whose process group is `pgid`, by pid."""
    if os.path.isdir("/proc/self"):
        return _from_proc(pgid)
    return _from_ps(pgid)


def _from_proc(pgid: int) -> list[Member]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
            name, _, rest = stat.partition(b" (")[2].rpartition(b") ")
            fields = rest.split()
            if int(fields[2]) != pgid or fields[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                argv = handle.read()
        except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
            continue
        command = argv.rstrip(b"\0").replace(b"\0", b" ") or b"[" + name + b"]"
        found.append(Member(int(entry.name), _text(command)))
    return sorted(found, key=lambda m: m.pid)


def _from_ps(pgid: int) -> list[Member]:
    """macOS and other systems without /proc: ps, which every POSIX system has."""
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=,pgid=,stat=,args="], capture_output=True,
                             check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[1] == str(pgid).encode() and not parts[2].startswith(b"Z"):
            found.append(Member(int(parts[0]), _text(parts[3] if len(parts) > 3 else b"")))
    return sorted(found, key=lambda m: m.pid)


def _text(command: bytes) -> str:
    return command.decode("utf-8", errors="replace")[:COMMAND_LIMIT]


def stop_group(pgid: int, plan: list[tuple[int, float]], poll: float = 0.05) -> list[str]:
    """Signal the group as `plan` says — each signal, then up to so many seconds for the
    group to be gone before the next — until none of it is left; returns the signals sent.
    Each signal is followed by CONT, so a stopped member gets it too."""
    sent = []
    for sig, wait in plan:
        if not members(pgid):
            break
        _signal(pgid, sig)
        _signal(pgid, getattr(signal, "SIGCONT", sig))
        sent.append(signal.Signals(sig).name)
        deadline = time.monotonic() + wait
        while members(pgid) and time.monotonic() < deadline:
            time.sleep(poll)
    return sent


def term_then_kill(grace: float) -> list[tuple[int, float]]:
    """TERM, then KILL after `grace` seconds (and a few for the KILL to be done)."""
    return [(signal.SIGTERM, grace), (getattr(signal, "SIGKILL", signal.SIGTERM), 5.0)]


def _signal(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def described(left: list[Member], count: int | None = None) -> str:
    """"pid 123 (sleep 300), pid 124 (…)" — the first few, and how many more (of `count`,
    where more were found than listed)."""
    total = len(left) if count is None else count
    shown = ", ".join(f"pid {m.pid} ({m.command})" for m in left[:5])
    return shown + (f" and {total - 5} more" if total > 5 else "")

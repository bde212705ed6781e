"""The lock radar as a person reads it: a sample as one line, and the queue behind the step
over the last samples as a sparkline — for the phase pane, the mirror and the report. Pure:
samples in, text out (the watcher, engine/watcher.py, takes them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_BARS = "▁▂▃▄▅▆▇█"
_TAIL_BYTES = 1 << 15  # the last samples are enough for a line and its sparkline


def radar_line(found: dict[str, Any]) -> str:
    """A sample as one line, what the lock_queue rule weighs first: "12 waiting behind,
    oldest 3.1 s · create_index 45% (building index: scanning table) · waits on
    Lock/relation (blocked by 4242)"."""
    sessions = found.get("sessions") or []
    if not sessions:
        return "no session of this step connected"
    parts = [f"{found.get('waiting', 0)} waiting behind, oldest "
             f"{found.get('oldest_wait_s', 0.0):.1f} s"]
    for p in found.get("progress") or []:
        pct = f" {p['pct']:.0f}%" if p.get("pct") is not None else ""
        phase = f" ({p['phase']})" if p.get("phase") else ""
        parts.append(f"{p['kind']}{pct}{phase}")
    waits = sorted({f"{s['wait_event_type']}/{s['wait_event']}" for s in sessions
                    if s.get("wait_event_type")})
    parts.append(f"waits on {', '.join(waits)}" if waits else "running")
    if found.get("blockers"):
        parts[-1] += f" (blocked by {', '.join(map(str, found['blockers']))})"
    return " · ".join(parts)


def sparkline(values: list[int]) -> str:
    """Each value as a bar, scaled to the largest (all low bars when none waits)."""
    top = max(values, default=0)
    if top <= 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, round(v * (len(_BARS) - 1) / top))]
                   for v in values)


def last_samples(path: Path, count: int = 30) -> list[dict[str, Any]]:
    """The last `count` complete samples of a radar series (fewer, or none, if the file
    is new, missing or holds a line being written)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
            data = handle.read()
    except OSError:
        return []
    found = []
    for line in data.split(b"\n")[-count - 1:]:
        try:
            value = json.loads(line)
        except ValueError:
            continue  # the first (cut by the seek) or a torn last line
        if isinstance(value, dict):
            found.append(value)
    return found[-count:]


def radar_text(path: Path, count: int = 15) -> str:
    """"radar: <the queue's sparkline> <the last sample's line>" ("" before any sample): the
    bars next to the count they draw, where a narrow pane still shows them."""
    samples = last_samples(path, count)
    if not samples:
        return ""
    latest = samples[-1]
    if "error" in latest:
        return f"radar: cannot look ({latest['error']})"
    queue = sparkline([int(s.get("waiting", 0)) for s in samples if "error" not in s])
    return f"radar: {queue} {radar_line(latest)}"

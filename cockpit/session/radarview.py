"""The lock radar as a person reads it: a sample as one line, and the queue behind the step
over the last samples as a sparkline — for the phase pane, the mirror, headless and the report.
Pure: samples in, text out (the watcher, engine/watcher.py, takes them)."""

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
    return _text(last_samples(path, count))


def _text(samples: list[dict[str, Any]]) -> str:
    if not samples:
        return ""
    latest = samples[-1]
    if "error" in latest:
        return f"radar: cannot look ({latest['error']})"
    queue = sparkline([int(s.get("waiting", 0)) for s in samples if "error" not in s])
    return f"radar: {queue} {radar_line(latest)}"


def _gist(sample: dict[str, Any]) -> tuple[Any, ...]:
    """What a sample says, less its clocks (the oldest wait's age, a build's percentage):
    a new gist is news."""
    if "error" in sample:
        return ("error", sample["error"])
    waits = sorted(f"{s.get('wait_event_type')}/{s.get('wait_event')}"
                   for s in sample.get("sessions") or [] if s.get("wait_event_type"))
    progress = [(p.get("kind"), p.get("phase")) for p in sample.get("progress") or []]
    return (sample.get("waiting", 0), bool(sample.get("sessions")), waits, progress,
            sorted(map(str, sample.get("blockers") or [])))


class RadarNews:
    """The radar's text for a runner without a screen (headless): the same text the
    operator's screen shows, given once each time what it says changes."""

    def __init__(self) -> None:
        self._size = -1
        self._gist: tuple[Any, ...] | None = None

    def news(self, path: Path | None) -> str | None:
        """The text when the series at `path` says something new since the last call;
        None otherwise (no series, nothing written, or the same said again)."""
        try:
            size = path.stat().st_size if path is not None else -1
        except OSError:
            size = -1
        if size < 0 or size == self._size:  # nothing new written: not read again
            return None
        self._size = size
        samples = last_samples(path, 15) if path is not None else []
        if not samples or _gist(samples[-1]) == self._gist:
            return None
        self._gist = _gist(samples[-1])
        return _text(samples)


def holder_text(samples: list[dict[str, Any]]) -> str | None:
    """Who held the lock the run waited for, from the last sample that saw one: "pid 4242
    (billing-worker, idle in transaction, open 12.0 s)"; None if no sample saw a blocker."""
    for found in reversed(samples):
        holders = found.get("holders") or []
        if holders:
            return "; ".join(
                f"pid {h.get('pid')} ({h.get('application') or 'application unknown'}, "
                f"{h.get('state') or 'state unknown'}, "
                + (f"open {h['xact_s']:.1f} s)" if h.get("xact_s") is not None
                   else "no open transaction)")
                for h in holders)
        if found.get("blockers"):
            return ", ".join(f"pid {pid}" for pid in found["blockers"])
    return None

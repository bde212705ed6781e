"""A lock-timeout retry's waits: doubling from the first delay up to the cap, each with
jitter (half of it fixed, half random), so that several cutovers — or one cutover's
attempts — do not queue for the same lock in step."""

from __future__ import annotations

from cockpit.runbook.model import Retry, duration_seconds


def retry_delay(retry: Retry, attempt: int, jitter: float) -> float:
    """Seconds to wait before `attempt` (2 for the first retry), `jitter` in [0, 1): never
    less than half the doubled delay, never more than it, never more than the cap."""
    if not 2 <= attempt <= retry.attempts:
        raise ValueError(f"attempt {attempt} is outside 2..{retry.attempts}")
    base = min(duration_seconds(retry.cap),
               duration_seconds(retry.first_delay) * float(2 ** (attempt - 2)))
    return float(base * (0.5 + min(max(jitter, 0.0), 1.0) / 2))

"""The value types a runbook's fields share — a duration, an id, a variable's name — and a
duration in seconds."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# A duration: 500ms, 30s, 10min (or 10m), 2h.
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,6}(?:ms|s|m|min|h)$")]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600}


def duration_seconds(duration: str) -> float:
    """Seconds in a `Duration` ("500ms", "30s", "10m", "10min", "2h")."""
    number = duration.rstrip("minsh")
    return int(number) * _UNIT_SECONDS[duration[len(number):]]

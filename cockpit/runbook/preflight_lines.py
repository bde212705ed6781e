"""A checklist's pre-flight questions, read as the probes that answer them: "No transaction
older than 5 minutes", "no idle-in-transaction session", "replicas within 1 s", "connection
headroom …", "no session waiting on locks" — with the limit the line states, where it
states one (the probe's default otherwise). The importer makes them probe gates."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cockpit.runbook.model import ArgValue

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "sixty": 60,
    "ninety": 90,
}
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_UNIT_WORDS = (r"(?P<unit>milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?"
               r"|hrs?|h)\b")
_NUMBER = r"(?P<n>\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"
_DURATION = re.compile(_NUMBER + r"\s*" + _UNIT_WORDS)
# the limit follows one of these words; else the line's first duration is taken
_LIMIT_WORDS = (r"(?:within|under|below|less\s+than|more\s+than|longer\s+than|older\s+than"
                r"|over|beyond|exceeding|at\s+most|max(?:imum)?|<=?|≤)\s*")

_IDLE = re.compile(r"\bidle[\s-]+in[\s-]+(?:a\s+)?transactions?\b")
_LONG = re.compile(r"\blong[\s-]*running\s+(?:transactions?|queries|sessions?)\b"
                   r"|\blong\s+transactions?\b|\btransactions?\b.*\b(?:older|longer)\s+than\b")
_REPLICA = re.compile(r"\breplica(?:s|tion)?\b.*\b(?:lag|within|behind|caught\s+up)\b"
                      r"|\b(?:lag|within|behind)\b.*\breplicas?\b")
_HEADROOM = re.compile(r"\bconnections?\s+(?:headroom|slots?)\b|\bfree\s+connections?\b"
                       r"|\bheadroom\b.*\bconnections?\b|\bmax_connections\b")
_WAITERS = re.compile(r"\block\s+waiters?\b|\b(?:waiting|waits|queued|blocked)\b.*\blocks?\b")


@dataclass(frozen=True)
class PreflightGate:
    probe: str
    args: dict[str, ArgValue]


def _duration(found: re.Match[str]) -> str | None:
    """`5m`, `90s`, `500ms`: the duration a match names, as a runbook writes one."""
    raw = found["n"]
    number = float(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else float(raw)
    unit = found["unit"]
    unit = ("ms" if unit.startswith("ms") or unit.startswith("milli") else
            "h" if unit.startswith("h") else "m" if unit.startswith("m") else "s")
    if number.is_integer() and number >= 1:
        return f"{int(number)}{unit}"
    millis = round(number * _UNITS[unit] * 1000)
    return f"{millis}ms" if millis >= 1 else None


def _limit(words: str) -> str | None:
    found = (re.search(_LIMIT_WORDS + _DURATION.pattern, words)
             or _DURATION.search(words))
    return _duration(found) if found else None


def preflight_gate(text: str) -> PreflightGate | None:
    """The probe (and its limits) a gate's line asks for, or None when it asks for none."""
    words = " ".join(text.replace("`", "").lower().split())
    if _IDLE.search(words):
        limit = _limit(words)
        return PreflightGate("db.idle_in_transaction", {"max_age": limit} if limit else {})
    if _LONG.search(words):
        limit = _limit(words)
        return PreflightGate("db.long_transactions", {"max_age": limit} if limit else {})
    if _REPLICA.search(words):
        limit = _limit(words)
        return PreflightGate("db.replica_lag", {"max_lag": limit} if limit else {})
    if _HEADROOM.search(words):
        if percent := re.search(r"(\d+)\s*%", words):
            return PreflightGate("db.connection_headroom",
                                 {"min_free_percent": int(percent[1])})
        if count := re.search(r"(\d+)\s+(?:free\s+)?(?:connections?|slots?)\b", words):
            return PreflightGate("db.connection_headroom", {"min_free": int(count[1])})
        return PreflightGate("db.connection_headroom", {})
    if _WAITERS.search(words):
        most = re.search(r"\b(?:more\s+than|at\s+most)\s+(\d+)\b", words)
        return PreflightGate("db.lock_waiters", {"max_waiting": int(most[1])} if most else {})
    return None

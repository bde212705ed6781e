"""Abort rules against a stream of output, fast enough for a million lines.

All rules are one RE2 expression (one named group per rule), which scans a log at about
1 GB/s. A rule RE2 cannot express (a look-around) falls back to Python's `re`, which is slow
on an alternation whose branches start with `\\b` or a class: so each pattern's required
literal (`DuplicateTable`, `already exists`, ...) is pulled out, one alternation of those
finds candidate lines, and only those lines meet the full rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from cockpit.session.fastre import compile_fast, group_name

# The parser behind `re` (typeshed does not describe it); private, so every use of it has
# a safe fallback.
_c: Any = getattr(re, "_constants", None)
_p: Any = getattr(re, "_parser", None)


def required_literals(pattern: str) -> list[str] | None:
    """Texts one of which every match of `pattern` contains, or None if none is known."""
    if _p is None:
        return None
    try:
        parsed = _p.parse(pattern)
    except Exception:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    items = list(parsed)
    if len(items) == 1 and items[0][0] is _c.BRANCH:
        found = [_longest_run(list(branch)) for branch in items[0][1][1]]
        return None if any(f is None for f in found) else sorted(set(found))  # type: ignore[arg-type]
    run = _longest_run(items)
    return [run] if run else None


def _longest_run(items: Sequence[Any]) -> str | None:
    best, current = "", ""
    for op, arg in items:
        if op is _c.LITERAL:
            current += chr(arg)
            best = max(best, current, key=len)
        else:
            current = ""
    return best or None


class AbortScanner:
    """All abort rules of a step; `search` returns the first (rule id, matching line)."""

    def __init__(self, rules: Iterable[dict[str, Any]]) -> None:
        self.rules = list(rules)
        groups, literals, slow = [], set(), []
        for index, rule in enumerate(self.rules):
            body = "|".join(f"(?:{p})" for p in rule["patterns"])
            groups.append(f"(?P<r{index}>{body})")
            for pattern in rule["patterns"]:
                found = required_literals(pattern)
                if found is None:
                    slow.append(f"(?P<r{index}>{pattern})")
                else:
                    literals.update(found)
        # every rule in one pattern (the supervisor joins it to the secrets' for one pass)
        self.pattern: bytes | None = "|".join(groups).encode() if groups else None
        self.full = re.compile("|".join(groups).encode()) if groups else None
        self.fast = compile_fast("|".join(groups).encode()) if groups else None
        ordered = sorted(literals, key=len, reverse=True)
        self.prefilter = (re.compile(b"|".join(re.escape(lit.encode()) for lit in ordered))
                          if ordered else None)
        self.slow = re.compile("|".join(slow).encode()) if slow else None

    def __bool__(self) -> bool:
        return self.full is not None

    def _hit(self, match: Any, data: bytes) -> tuple[str, bytes]:
        name = group_name(match)
        index = int(name[1:]) if name else 0
        start = data.rfind(b"\n", 0, match.start()) + 1
        end = data.find(b"\n", match.end())
        return self.rules[index]["id"], data[start : end if end >= 0 else len(data)]

    def search(self, data: bytes) -> tuple[str, bytes] | None:
        if self.full is None:
            return None
        if self.fast is not None:
            match = self.fast.search(data)
            return self._hit(match, data) if match is not None else None
        if self.slow is not None and (match := self.slow.search(data)) is not None:
            return self._hit(match, data)
        if self.prefilter is None:
            return None
        position = 0
        while (candidate := self.prefilter.search(data, position)) is not None:
            start = data.rfind(b"\n", 0, candidate.start()) + 1
            end = data.find(b"\n", candidate.end())
            end = len(data) if end < 0 else end
            match = self.full.search(data, start, end)
            if match is not None:
                return self._hit(match, data)
            position = end + 1
        return None

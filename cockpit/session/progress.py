"""An upgrade's progress, counted off from Alembic's own output: each `Running upgrade a -> b`
line starts revision b. Against the path the step was expected to take (recorded when it
started), that is "revision k of N", the current revision and how long it has run — and a
revision the path did not hold is flagged the moment its line appears."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# "INFO  [alembic.runtime.migration] Running upgrade 0020 -> 0021, performance drift flags"
_RUNNING = re.compile(r"Running upgrade (?P<down>.*?) ?-> (?P<rev>[^\s,]+)")


@dataclass
class UpgradeProgress:
    path: list[str]  # the revisions expected, in order; empty: not known
    seen: list[str] = field(default_factory=list)  # each revision started, in order
    unexpected: list[str] = field(default_factory=list)
    since: float | None = None  # when the current revision's line was seen (monotonic)

    def feed(self, lines: Iterable[str], now: float) -> list[str]:
        """Take in a step's output lines; returns the revisions just found unexpected."""
        found = []
        for line in lines:
            if (match := _RUNNING.search(line)) is None:
                continue
            revision = match["rev"]
            if revision in self.seen:  # the same line twice (two log handlers): one start
                continue
            self.seen.append(revision)
            self.since = now
            if self.path and revision not in self.path:
                self.unexpected.append(revision)
                found.append(revision)
        return found

    @property
    def current(self) -> str | None:
        return self.seen[-1] if self.seen else None

    def text(self, now: float, bar: int = 10, upto: int | None = None) -> str:
        """"revision 3 of 6 ▰▰▰▰▰▱▱▱▱▱ 0021 (0:00:04)"; with no path known, without the
        count of all; "" before the first revision starts. `upto`: the line of the k-th
        revision started (a printer tells each), else of the current one."""
        count = len(self.seen) if upto is None else min(upto, len(self.seen))
        if count == 0:
            return ""
        revision = self.seen[count - 1]
        # a revision since followed by another was timed by the next one's start: not kept
        since = self.since if count == len(self.seen) and self.since is not None else now
        elapsed = max(now - since, 0.0)
        clock = f"{int(elapsed) // 60}:{int(elapsed) % 60:02d}"
        if not self.path:
            return f"revision {count}: {revision} ({clock})"
        total = len(self.path)
        filled = round(bar * min(count, total) / total)
        unexpected = [r for r in self.unexpected if r in self.seen[:count]]
        flag = f" · UNEXPECTED {', '.join(unexpected)}" if unexpected else ""
        return (f"revision {count} of {total} {'▰' * filled}{'▱' * (bar - filled)} "
                f"{revision} ({clock}){flag}")

"""What showing a step's output inert costs (invariant 11): the one follower (LogTail, as
headless, the plain mirror and the panes use it) reads a 1,000,000-line log (~165 MB, the
lines of bench/stream.py), and its lines are decoded for showing — inert, against the plain
UTF-8 decode it replaced, in the same run. Then a log whose every line is coloured (SGR
sequences, each shown as caret text), and the function alone per line. Each timing is the
best of three, taken in turn with its baseline. The last line is one JSON object.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.session import logtail
from cockpit.session.inert import inert
from cockpit.session.logtail import LogTail

LINES = 1_000_000
REPEAT = 3
LINE = ("INFO  [alembic.runtime.migration] Running upgrade 0019_nav_snapshots_and_investor_"
        "statements -> 0020_covenant_flags, backfill batch {:07d} of 1000000: rows=1000 ok")


def _plain(block: bytes) -> list[str]:  # what the follower did before inert.py
    return [line.decode("utf-8", errors="replace") for line in block.split(b"\n")[:-1]]


DECODER = "inert_lines"  # the name LogTail decodes its lines with


def followed(path: Path) -> tuple[float, float]:
    """Best wall seconds for a follower to take in every line of `path`, decoding as before
    and inert, in turn (the machine's load falls on both alike)."""
    inert_lines: Callable[[bytes], list[str]] = getattr(logtail, DECODER)
    best = {_plain: float("inf"), inert_lines: float("inf")}
    for _ in range(REPEAT):
        for decode in best:
            setattr(logtail, DECODER, decode)
            try:
                start = time.perf_counter()
                count = len(LogTail(path).read_all())
                best[decode] = min(best[decode], time.perf_counter() - start)
            finally:
                setattr(logtail, DECODER, inert_lines)
            assert count == LINES
    return best[_plain], best[inert_lines]


def per_line(lines: list[str]) -> float:
    """Best nanoseconds per line of `inert` alone."""
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        for line in lines:
            inert(line)
        best = min(best, time.perf_counter() - start)
    return best / len(lines) * 1e9


def main() -> None:
    plain_lines = [LINE.format(i) for i in range(LINES)]
    coloured = [f"\x1b[32m{line}\x1b[0m" for line in plain_lines]
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        plain_log, coloured_log = Path(tmp) / "plain.log", Path(tmp) / "coloured.log"
        plain_log.write_text("\n".join(plain_lines) + "\n")
        coloured_log.write_text("\n".join(coloured) + "\n")
        size = plain_log.stat().st_size
        before, after = followed(plain_log)
        coloured_before, coloured_after = followed(coloured_log)
    clean_ns, sgr_ns = per_line(plain_lines[:200_000]), per_line(coloured[:200_000])
    print(f"following a {size / 1e6:.0f} MB log of {LINES:,} lines (best of {REPEAT}):")
    print(f"  decoded as before:  {before:6.2f} s  {size / before / 1e6:6.0f} MB/s")
    print(f"  decoded inert:      {after:6.2f} s  {size / after / 1e6:6.0f} MB/s   "
          f"ratio {after / before:.2f}")
    print("every line coloured (two SGR sequences each, shown as caret text):")
    print(f"  decoded as before:  {coloured_before:6.2f} s")
    print(f"  decoded inert:      {coloured_after:6.2f} s   ratio "
          f"{coloured_after / coloured_before:.2f}")
    print(f"inert alone: {clean_ns:.0f} ns per printable line, {sgr_ns:.0f} ns per coloured one")
    print(json.dumps({
        "lines": LINES, "bytes": size, "before_s": round(before, 3),
        "after_s": round(after, 3), "ratio": round(after / before, 3),
        "coloured_before_s": round(coloured_before, 3),
        "coloured_after_s": round(coloured_after, 3),
        "coloured_ratio": round(coloured_after / coloured_before, 3),
        "inert_ns_per_line": round(clean_ns), "inert_ns_per_coloured_line": round(sgr_ns),
    }))


if __name__ == "__main__":
    main()

"""The supervisor's account of a step's lines — how many, and the last one — for output that
comes in pieces, and its cost for a line that never ends."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from cockpit.engine.launcher import write_spec
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import ExitRecord
from tests import peakrss
from tests.conftest import REPO
from tests.engine.test_supervisor import run_child

DUPLICATE = {"id": "dup", "patterns": [r"\bDuplicateTable\b"]}


@pytest.mark.parametrize("rules", [(), (DUPLICATE,)], ids=["no-rule", "a-rule"])
def test_a_line_written_in_pieces_is_counted_once_and_is_the_last_line(
        tmp_path: Path, rules: tuple[dict[str, object], ...]) -> None:
    # Each piece waits longer than the supervisor holds a partial line: it is written
    # (flushed) on its own before the rest of its line arrives.
    files, _ = run_child(tmp_path, """
        import sys, time
        out = sys.stdout
        out.write("first line\\n"); out.flush(); time.sleep(0.3)
        out.write("ERROR: migr"); out.flush(); time.sleep(0.3)
        out.write("ation 0021 "); out.flush(); time.sleep(0.3)
        out.write("failed\\n   \\n"); out.flush(); time.sleep(0.3)
        out.write("tail wri"); out.flush(); time.sleep(0.3)
        out.write("tten in two\\n"); out.flush()
    """, rules=rules)
    log = (tmp_path / "step.log").read_bytes()
    assert log == b"first line\nERROR: migration 0021 failed\n   \ntail written in two\n"
    record = files.exit_record()
    assert record is not None and record.lines == 4
    assert record.last_line == "tail written in two"
    # ... and when the last line is blank, the one before it; cut short, it still counts
    (tmp_path / "again").mkdir()
    files, _ = run_child(tmp_path / "again", """
        import sys, time
        out = sys.stdout
        out.write("ERROR: migr"); out.flush(); time.sleep(0.3)
        out.write("ation 0021 failed\\n \\n"); out.flush(); time.sleep(0.3)
        out.write("unterminated, in"); out.flush(); time.sleep(0.3)
        out.write(" two pieces"); out.flush()
    """, rules=rules)
    record = files.exit_record()
    assert record is not None and record.lines == 3
    assert record.last_line == "unterminated, in two pieces"


def _one_line(folder: Path, size: int) -> tuple[float, peakrss.Measure, ExitRecord]:
    """A child printing `size` bytes without a newline and no abort rule, under the supervisor
    started directly: (wall seconds, how it ran, its exit record)."""
    folder.mkdir()
    files = RunFiles(folder, "long.1")
    command = f"head -c {size} /dev/zero | tr '\\0' x"
    write_spec(files, {"step": "long", "command": command, "cwd": str(folder),
                       "log": str(files.log), "rules": [], "grace": 1.0})
    result = folder / "measure"
    start = time.perf_counter()
    peakrss.start([sys.executable, "-m", "cockpit.engine.supervisor", str(files.spec)],
                  result, cwd=REPO).wait()
    wall = time.perf_counter() - start
    measure = peakrss.measured(result)  # the peak: its own, or that of sh, head or tr: small
    assert measure.code == 0, files.err.read_text()
    record = files.exit_record()
    assert record is not None
    files.log.unlink()  # gigabytes: gone at once
    return wall, measure, record


@pytest.mark.slow
def test_a_line_without_a_newline_costs_linear_time_and_bounded_memory(
        tmp_path: Path) -> None:
    """Time as CPU seconds (the supervisor's and its pipeline's), the best of two runs: on a
    shared machine the wall clock measures the neighbours as much as the work."""
    half, whole = 500_000_000, 1_000_000_000
    runs = {size: [_one_line(tmp_path / f"{size}-{n}", size) for n in range(2)]
            for size in (half, whole)}
    for size, each in runs.items():
        for _wall, _measure, record in each:
            assert record.bytes == size and record.lines == 1
            assert record.exit_code == 0
            assert record.last_line == "x" * 2000  # its end, bounded
    cpu = {size: min(m.cpu_s for _w, m, _r in each) for size, each in runs.items()}
    wall = {size: min(w for w, _m, _r in each) for size, each in runs.items()}
    peak = max(m.peak_kib for each in runs.values() for _w, m, _r in each)
    print(f"500 MB line: {cpu[half]:.1f} s CPU ({wall[half]:.1f} s wall); 1 GB line: "
          f"{cpu[whole]:.1f} s CPU ({wall[whole]:.1f} s wall); x{cpu[whole] / cpu[half]:.2f}; "
          f"supervisor peak {peak / 1024:.1f} MiB")
    # Linear is x2, quadratic x4: x2.8 tells them apart with room for a busy neighbour
    # (x2.27 was seen with the machine's other core loaded).
    assert cpu[whole] <= 2.8 * cpu[half], cpu
    assert peak < 64 * 1024, peak

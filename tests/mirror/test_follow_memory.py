"""Following a step's output costs memory bounded by what is shown at once, not by the
output: the headless runner and `mirror --plain` each follow a 2 GB output."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import IO

import pytest

from cockpit.session.logtail import PIECE_BYTES, LogTail
from tests import peakrss
from tests.conftest import REPO
from tests.engine.helpers import phase, write_world
from tests.run import COCKPIT

SIZE = 2_000_000_000
LINE = 1000  # bytes a line, its newline included
LIMIT_KIB = 200 * 1024


def test_a_line_without_end_is_shown_in_pieces_and_held_no_longer(tmp_path: Path) -> None:
    """A follower holds at most a piece of a line waiting for its end; every byte is still
    shown, in order, a UTF-8 character never cut, and the line is counted once."""
    log = tmp_path / "step.log"
    text = "é" * (3 * PIECE_BYTES // 2 + 7)  # 3 MiB and a little, in two-byte characters
    log.write_bytes(b"before\n" + text.encode() + b"\nafter, unterminated")
    tail = LogTail(log)
    shown: list[str] = []
    while True:
        shown += tail.read(keep=1 << 30, limit=1 << 20)
        assert len(tail.partial) <= PIECE_BYTES
        if not tail.behind:
            break
    shown += tail.flush()
    assert shown[0] == "before" and shown[-1] == "after, unterminated"
    assert "".join(shown[1:-1]) == text and len(shown) > 3  # the long line, in pieces
    assert all("\ufffd" not in piece for piece in shown)
    assert tail.lines == 3


class Drain(threading.Thread):
    """Reads a process's output as it comes, keeping only counts."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.step_lines = 0
        self.step_bytes = 0
        self.last = b""

    def run(self) -> None:
        for line in self.stream:
            if line.startswith(b"[big] "):
                self.step_lines += 1
                self.step_bytes += len(line) - len(b"[big] ")
            self.last = line


@pytest.mark.slow
def test_following_a_2gb_output_costs_headless_and_the_plain_mirror_bounded_memory(
        tmp_path: Path) -> None:
    command = f"yes \"$(printf '%0{LINE - 1}d' 0)\" | head -c {SIZE}"
    runbook = write_world(tmp_path, [phase("P0", [("big", command)])])
    session = tmp_path / "s"
    python = COCKPIT
    # each measured as itself (the headless cockpit's peak counts its supervisor's too)
    headless = peakrss.start([*python, "run", str(runbook), "--headless", "--assume-yes",
                              "--session", str(session)], tmp_path / "headless.measure",
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    mirror = peakrss.start([*python, "mirror", str(session), "--plain", "--from-start",
                            "--wait", "60"], tmp_path / "mirror.measure",
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    drains = [Drain(p.stdout) for p in (headless, mirror)]  # type: ignore[arg-type]
    for drain in drains:
        drain.start()
    try:
        for proc in (headless, mirror):
            proc.wait(1800)
    finally:
        for proc in (headless, mirror):
            peakrss.stop(proc)
        for drain in drains:
            drain.join(60)
        for log in (session / "steps" / "big.1.log", runbook.parent / "logs" / "big.log"):
            log.unlink(missing_ok=True)  # gigabytes: gone at once
    ran = {name: peakrss.measured(tmp_path / f"{name}.measure")
           for name in ("headless", "mirror")}
    print(f"peak RSS following {SIZE:,} bytes: headless {ran['headless'].peak_kib / 1024:.0f} "
          f"MiB, mirror --plain {ran['mirror'].peak_kib / 1024:.0f} MiB")
    assert ran["headless"].code == 0 and ran["mirror"].code == 0, \
        drains[0].last + drains[1].last
    for drain in drains:  # every line was shown, and no more
        assert drain.step_lines == SIZE // LINE and drain.step_bytes == SIZE
    assert all(r.peak_kib < LIMIT_KIB for r in ran.values()), ran

"""A session on a disk that fills up: the step whose log cannot be written is stopped (output
that cannot be kept as evidence must not go on), the cockpit says so in one line and leaves
nothing half-written, and once there is space again the session resumes to its halt. The
disk is a real one: a small tmpfs mounted for the test (the tests run as root)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.evidence.verify import verify_session
from tests.engine.helpers import cockpit, phase, ran, tmpfs, write_world


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        yield disk


def _half_written(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.name.endswith(".tmp"))


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_full_disk_stops_the_step_and_leaves_a_resumable_session_with_nothing_half_written(
        tmp_path: Path, small_disk: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [
        ("fill", "yes 'a line of output the session cannot keep'"),
        ("after", "echo after >> ran.txt")])])
    # a session started on a disk with no room at all: refused in a line, nothing left
    with pytest.raises(OSError), open(small_disk / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()
    refused = cockpit("run", str(runbook), "--headless", "--assume-yes",
                      "--session", str(small_disk / "early"))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "No space left on device" in refused.stderr and "internal error" not in \
        refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (small_disk / "early").exists()
    (small_disk / "filler").unlink()

    # a step that fills the disk: stopped, recorded; the halt that follows is recorded at once
    # (the room its exit record held, given back, may suffice) or after a resume
    session = small_disk / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(session), timeout=60)
    assert done.returncode in (1, 2), done.stdout + done.stderr
    assert _half_written(small_disk) == []
    record = json.loads((session / "steps" / "fill.1.exit.json").read_text())
    assert record["abort"]["rule"] == "log_unwritable", record
    assert "No space left on device" in record["abort"]["line"]
    log = (session / "steps" / "fill.1.log").read_bytes()
    assert record["bytes"] == len(log) > 0 and record["unwritten"] > 0
    assert _gone(record["child_pid"])  # `yes` was stopped, not left filling a pipe
    if done.returncode == 1:
        said = done.stderr.strip().splitlines()
        assert len(said) == 1 and "No space left on device" in said[0], done.stderr
        assert "internal error" not in said[0] and f"cockpit resume {session}" in said[0]
        subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
        done = cockpit("resume", str(session), "--headless", "--assume-yes", timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr  # halted: BLOCKER
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    finished = next(e for e in events if e["type"] == "step_finished")["data"]
    assert finished["ok"] is False and finished["abort"]["rule"] == "log_unwritable"
    assert finished["sha256"] == record["sha256"]
    halted = next(e for e in events if e["type"] == "halted")["data"]
    assert halted["rule"] == "log_unwritable" and halted["step"] == "fill"
    assert ran(runbook.parent) == []
    assert _half_written(small_disk) == []
    assert verify_session(session).problems == []

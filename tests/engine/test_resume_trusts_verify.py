"""Resume trusts only what verify trusts: an event log cut at a line boundary (its snapshot
ahead of it), an altered event, a whole event without its newline — each refused by `resume`
(exit 3, naming the damage, pointing at `cockpit verify`) before anything changes. A torn
last line, as a kill leaves it, is still accepted (invariant 7)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from cockpit.cli import main
from tests.engine.helpers import cockpit, ordinary_world


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session that ran its three steps to PASS (copied by each test)."""
    base = tmp_path_factory.mktemp("decided")
    session = base / "s"
    done = cockpit("run", str(ordinary_world(base)), "--headless", "--assume-yes",
                   "--session", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    return session


@pytest.fixture
def session(decided: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "s"
    shutil.copytree(decided, copy)
    return copy


def _files(*folders: Path) -> dict[str, tuple[str, int, int]]:
    """Every file: its sha256, mtime and mode (a refused resume changes none of them)."""
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns,
                     p.stat().st_mode)
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def _lines(session: Path) -> list[bytes]:
    return (session / "events.jsonl").read_bytes().splitlines(keepends=True)


def _refused(session: Path, *damage: str) -> None:
    world = Path(json.loads(_lines(session)[0])["data"]["workdir"])  # where its steps ran
    code, said = _main("verify", str(session))
    assert code == 1 and all(d in said for d in damage), said
    before = _files(session, world)
    code, said = _main("resume", str(session), "--headless", "--assume-yes")
    assert code == 3, said
    assert "Traceback" not in said and all(d in said for d in damage), said
    assert f"cockpit verify {session}" in said, said
    assert _files(session, world) == before  # the lock, the snapshot, ran.txt included


def _main(*args: str) -> tuple[int, str]:
    """The command in this process (a refusal starts nothing): its exit code, its stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    return code, stderr.getvalue()


def test_resume_refuses_a_log_cut_behind_its_snapshot(session: Path) -> None:
    lines = _lines(session)
    first_end = next(i for i, line in enumerate(lines) if b'"step_finished"' in line)
    (session / "events.jsonl").write_bytes(b"".join(lines[:first_end + 1]))
    _refused(session, "is ahead of the event log")


def test_resume_refuses_an_altered_event(session: Path) -> None:
    lines = _lines(session)
    at = next(i for i, line in enumerate(lines) if b'"step_started"' in line)
    lines[at] = lines[at].replace(b'"hello"', b'"hellO"', 1)
    assert b"hellO" in lines[at]
    (session / "events.jsonl").write_bytes(b"".join(lines))
    _refused(session, "was altered")


def test_resume_refuses_a_whole_last_event_without_its_newline(session: Path) -> None:
    (session / "events.jsonl").write_bytes(b"".join(_lines(session))[:-1])
    (session / "session.json").unlink()  # else the snapshot, ahead, is refused first
    _refused(session, "a whole event without the newline")


def test_resume_still_accepts_a_torn_last_line(session: Path) -> None:
    with open(session / "events.jsonl", "ab") as log:
        log.write(b'{"seq":99,"ts":"20')  # an append a kill cut short
    result = cockpit("resume", str(session), "--headless", "--assume-yes")
    assert result.returncode == 0, result.stdout + result.stderr
    checked = cockpit("verify", str(session))
    assert checked.returncode == 0, checked.stderr

"""The lock is the operator's own: `lock` is 0600 (an old session's is tightened when taken),
so another account cannot flock it; who drives the session stays readable where the folder
is (the holder file, for a reviewer's mirror); and a `--take-over` refused because someone
really holds the lock names that process and its user, not a dead pid from a file.

Another local account is made for these tests (useradd) and removed after; it acts through
setpriv, with the system's `flock` and `cat` (it cannot run the project's Python, under
/root)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cockpit.cli import main
from cockpit.session.lock import HOLDER, LOCK, holder_alive, read_lock_info
from tests.engine.helpers import cockpit, lock_free, lock_holder, phase, write_world
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def other() -> Iterator[pwd.struct_passwd]:
    """A local account that is not the operator's."""
    if os.geteuid() != 0:
        pytest.fail("these tests make a local account: run them as root (CI does)")
    name = f"ckt{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    account = pwd.getpwnam(name)
    try:
        yield account
    finally:
        # whatever it still runs was started by these tests (userdel refuses a busy account)
        for process in psutil.process_iter(["uids"]):
            if process.info["uids"] and process.info["uids"].real == account.pw_uid:
                with contextlib.suppress(psutil.Error):
                    process.kill()
        subprocess.run(["userdel", name], check=True, capture_output=True)


def as_other(account: pwd.struct_passwd, *command: str) -> list[str]:
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
            "--clear-groups", "--inh-caps=-all", *command]


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A folder other accounts may enter (pytest's own are 0700), as a team folder is."""
    place = Path(tempfile.mkdtemp(prefix="cockpit-lock-", dir="/tmp"))
    place.chmod(0o755)
    yield place
    shutil.rmtree(place, ignore_errors=True)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session stopped at an open gate (exit 3), so it can be resumed; copied by each."""
    base = tmp_path_factory.mktemp("stopped")
    runbook = write_world(base, [phase("P0", [("a", "echo a")])])
    (runbook.parent / "freeze.log").unlink()
    session = base / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(session)).returncode == 3
    return session


def _stopped_session(stopped: Path, shared: Path) -> Path:
    session = shared / "s"
    shutil.copytree(stopped, session)
    session.chmod(0o755)
    return session


def _resume_here(*flags: str) -> tuple[int, str]:
    """`cockpit resume` in this process, for a refusal (it comes before anything starts)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["resume", *flags])
    return code, stderr.getvalue()




def _group(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_lock_is_private_and_who_holds_it_is_readable_as_the_folder(
        stopped: Path, shared: Path, other: pwd.struct_passwd) -> None:
    session = _stopped_session(stopped, shared)
    assert _mode(session / LOCK) == 0o600
    holder = lock_holder(session)
    try:
        assert _mode(session / LOCK) == 0o600
        assert _mode(session / HOLDER) == 0o644  # as the folder (0755) lets others read
        named = json.loads((session / HOLDER).read_text())
        assert named["pid"] == holder.pid and holder_alive(session) is True
        seen = subprocess.run(as_other(other, "cat", str(session / HOLDER)),
                              capture_output=True, text=True)
        assert seen.returncode == 0 and json.loads(seen.stdout)["pid"] == holder.pid
        locked = subprocess.run(as_other(other, "flock", "-n", "-x", str(session / LOCK),
                                         "true"), capture_output=True, text=True)
        assert locked.returncode != 0 and "Permission denied" in locked.stderr
    finally:
        holder.kill()
        holder.wait()
    assert holder_alive(session) is False  # the mirror's GONE band, from the holder file


def test_an_old_sessions_lock_is_tightened_when_taken(stopped: Path, shared: Path) -> None:
    session = _stopped_session(stopped, shared)
    (session / LOCK).chmod(0o644)  # as every session written before this change
    (session / LOCK).write_text(json.dumps({"pid": 999_999_999, "host": os.uname().nodename,
                                            "user": "old", "since": "2026-01-01T00:00:00Z"}))
    assert read_lock_info(session)["user"] == "old"  # an old lock's info is still read
    taken = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
    assert taken.returncode == 3, taken.stdout + taken.stderr  # ran (the gate is still open)
    assert _mode(session / LOCK) == 0o600
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    assert [e["data"]["previous"]["user"] for e in events
            if e["type"] == "lock_taken_over"] == ["old"]


def test_take_over_names_who_really_holds_the_lock(stopped: Path, shared: Path,
                                                   other: pwd.struct_passwd) -> None:
    """An old session (lock 0644) whose cockpit died; another account flocks the lock: the
    refusal names that process and that account — not the dead pid the file names."""
    session = _stopped_session(stopped, shared)
    dead = lock_holder(session)
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    (session / LOCK).chmod(0o644)  # as every session written before this change
    squatter = subprocess.Popen(as_other(other, "flock", "-x", str(session / LOCK), "sh", "-c",
                                         "echo held; exec sleep 60"),
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert squatter.stdout is not None and squatter.stdout.readline().strip() == "held"
        before = {p.name: (p.stat().st_mtime_ns, _mode(p)) for p in session.iterdir()}
        code, said = _resume_here(str(session), "--headless", "--assume-yes", "--take-over")
        assert code == 3, said
        assert f"pid {squatter.pid}" in said and other.pw_name in said, said
        assert f"pid {dead.pid}" not in said, said
        assert {p.name: (p.stat().st_mtime_ns, _mode(p)) for p in session.iterdir()} == before
        # The process that took the lock dies; the child that inherited it holds it on.
        squatter.kill()
        squatter.wait()
        code, said = _resume_here(str(session), "--headless", "--assume-yes", "--take-over")
        sleeper = next(p for p in psutil.process_iter(["name"]) if p.info["name"] == "sleep"
                       and _group(p.pid) == squatter.pid)  # flock's child, orphaned
        assert code == 3 and f"pid {sleeper.pid}" in said and f"pid {squatter.pid}" not in said, \
            said
    finally:
        os.killpg(squatter.pid, signal.SIGKILL)
        squatter.wait()
    wait_until(lambda: lock_free(session), "the orphaned flock child to let the lock go")
    taken = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
    assert taken.returncode == 3 and "lock" not in taken.stderr.lower(), taken.stderr
    assert _mode(session / LOCK) == 0o600

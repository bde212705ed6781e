"""Nothing a session writes is more readable than the session folder itself (issue #26 item
5): a session made in a private folder keeps every file private (0600, folders 0700), its
captured inputs and its exported pack included; a folder opened to a group (0750) gives its
files to the group to read (0640), as a reviewer's mirror under another account needs."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.session.lock import LOCK
from tests.engine.helpers import cockpit, phase, write_world
from tests.waiting import finish_running

STEPS = [("hello", "echo hello"), ("fix", "python3 fix.py")]


def _world(tmp_path: Path) -> Path:
    """A run that writes every kind of file a session has: an attestation captured, a
    pinned script captured, a published log (one already there, displaced), step records."""
    runbook = write_world(tmp_path, [phase("P0", STEPS)])
    world = runbook.parent
    (world / "fix.py").write_text("print('fixed')\n")
    digest = hashlib.sha256((world / "fix.py").read_bytes()).hexdigest()
    runbook.write_text(runbook.read_text() + f'\n[[scripts]]\npath = "fix.py"\nsha256 = "{digest}"\n')
    (world / "logs").mkdir()
    (world / "logs" / "hello.log").write_text("a log from an earlier session\n")
    return runbook


def _modes(session: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(files, folders) of the session, relative name -> permission bits (the lock, 0600
    whatever the folder, is asked apart)."""
    files, folders = {}, {}
    for path in session.rglob("*"):
        name = path.relative_to(session).as_posix()
        if path.is_dir():
            folders[name] = stat.S_IMODE(path.stat().st_mode)
        elif name != LOCK:
            files[name] = stat.S_IMODE(path.stat().st_mode)
    return files, folders


def test_every_file_of_a_session_made_in_a_private_folder_is_private_and_so_is_its_pack(
        tmp_path: Path) -> None:
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700  # pytest's own folder
    runbook = _world(tmp_path)
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    files, folders = _modes(session)
    kinds = {name.rsplit(".", 1)[-1] for name in files}
    assert {"jsonl", "json", "toml", "log", "claim", "err", "md"} <= kinds, sorted(files)
    assert any(n.startswith("evidence/inputs/") for n in files)  # captured inputs
    assert any(n.startswith("displaced/") for n in files)
    assert {n: oct(m) for n, m in files.items() if m != 0o600} == {}
    assert stat.S_IMODE((session / LOCK).stat().st_mode) == 0o600
    assert stat.S_IMODE(session.stat().st_mode) == 0o700
    assert {n: oct(m) for n, m in folders.items() if m != 0o700} == {}
    pack = tmp_path / "pack.tar.gz"
    assert cockpit("export", str(session), "-o", str(pack)).returncode == 0
    assert stat.S_IMODE(pack.stat().st_mode) == 0o600
    html = tmp_path / "report.html"
    assert cockpit("report", str(session), "--html", "-o", str(html)).returncode == 0
    assert stat.S_IMODE(html.stat().st_mode) == 0o600


@pytest.mark.parametrize(("parent_mode", "made_mode", "want", "want_folders"), [
    (0o750, None, 0o640, 0o750),  # made by the cockpit, under a folder open to a group
    (0o755, 0o700, 0o600, 0o700),  # made private by the operator beforehand (--session DIR)
], ids=["group-folder", "private-premade"])
def test_a_sessions_files_are_as_readable_as_its_folder_and_no_more(
        tmp_path: Path, parent_mode: int, made_mode: int | None, want: int,
        want_folders: int) -> None:
    runbook = _world(tmp_path)
    parent = tmp_path / "team"
    parent.mkdir()
    parent.chmod(parent_mode)
    session = parent / "s"
    if made_mode is not None:
        session.mkdir()
        session.chmod(made_mode)
    old = os.umask(0o022)
    try:
        ctl = Controller.start(runbook, folder=session, operator="op", env=dict(os.environ))
        ctl.attest_gate("signoff", "GOV-1")
        assert ctl.evaluate_gates() == []
        ctl.run_step("hello")
        finish_running(ctl)
        ctl.close()
    finally:
        os.umask(old)
    files, folders = _modes(session)
    assert any(n.startswith("evidence/inputs/") for n in files)
    assert {n: oct(m) for n, m in files.items() if m != want} == {}
    assert stat.S_IMODE((session / LOCK).stat().st_mode) == 0o600  # whatever the folder
    assert stat.S_IMODE(session.stat().st_mode) == want_folders
    assert {n: oct(m) for n, m in folders.items() if m != want_folders} == {}

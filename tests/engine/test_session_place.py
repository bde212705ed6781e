"""Where a session folder may be: `--session` (run, demo) that is a link, or that lies inside
another session's folder, is refused (exit 1, a clear message) before anything is made;
`resume` of a link is refused naming the folder itself (it writes there); the read-only
commands (status, mirror) follow a link the operator typed."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from cockpit.cli import main
from tests.engine.helpers import cockpit, ordinary_world
from tests.mirror.helpers import files_state


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("place")
    session = base / "s"
    done = cockpit("run", str(ordinary_world(base)), "--headless", "--assume-yes",
                   "--session", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    return session


def _refused(args: list[str], *words: str) -> None:
    """Refused in this process: the refusal comes before anything is made or started."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(args)
    said = stderr.getvalue()
    assert code == 1, said
    assert "internal error" not in said and "Traceback" not in said
    assert all(w in said for w in words), said


@pytest.mark.parametrize("command", ["run", "demo"])
def test_session_that_is_a_link_is_refused_before_anything_is_made(
        command: str, decided: Path, tmp_path: Path) -> None:
    runbook = decided.parent / "world" / "runbook.toml"
    target = tmp_path / "elsewhere"
    target.mkdir()
    for link, points_to in ((tmp_path / "to-empty", target), (tmp_path / "dangling",
                                                              tmp_path / "nowhere")):
        link.symlink_to(points_to)
        args = ["run", str(runbook), "--headless", "--assume-yes"] if command == "run" \
            else ["demo", "--headless"]
        _refused([*args, "--session", str(link)], str(link), "link")
        assert link.is_symlink() and list(target.iterdir()) == []
        assert not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "elsewhere", "to-empty"]


@pytest.mark.parametrize("command", ["run", "demo"])
def test_session_inside_another_session_is_refused(command: str, decided: Path) -> None:
    runbook = decided.parent / "world" / "runbook.toml"
    before = files_state(decided)
    for inside in (decided / "steps" / "new", decided / "deeper" / "still"):
        args = ["run", str(runbook), "--headless", "--assume-yes"] if command == "run" \
            else ["demo", "--headless"]
        _refused([*args, "--session", str(inside)], str(decided), "inside")
    assert files_state(decided) == before
    checked = cockpit("verify", str(decided))
    assert checked.returncode == 0, checked.stderr


def test_resume_of_a_link_is_refused_naming_the_folder(decided: Path, tmp_path: Path) -> None:
    copy = tmp_path / "s"
    shutil.copytree(decided, copy)
    link = tmp_path / "current"
    link.symlink_to(copy)
    before = files_state(copy)
    _refused(["resume", str(link), "--headless"], str(link), f"cockpit resume {copy}")
    assert files_state(copy) == before


def test_status_and_mirror_follow_a_link_the_operator_typed(decided: Path,
                                                            tmp_path: Path) -> None:
    link = tmp_path / "current"
    link.symlink_to(decided)
    status = cockpit("status", str(link))
    assert status.returncode == 0 and "PASS" in status.stdout, status.stdout + status.stderr
    plain = cockpit("mirror", str(link), "--plain", "--from-start")
    assert plain.returncode == 0 and "[hello] hello" in plain.stdout, plain.stderr

"""The `git` of the Windows step under Wine (.ci/wine/git_standin.py, on dulwich) answers the
four questions the cockpit's gates ask as git does (`status`: the same paths, so empty exactly
when git's is), and fails as git does where there is no repository, or refuses loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

STANDIN = REPO / ".ci" / "wine" / "git_standin.py"
ASKED = (["rev-parse", "HEAD"], ["rev-parse", "--is-inside-work-tree"],
         ["tag", "--points-at", "HEAD"], ["status", "--porcelain", "--untracked-files=no"])
WHO = ["-c", "user.name=T", "-c", "user.email=t@localhost"]


def _both(repo: Path, args: list[str]) -> tuple[tuple[int, str], tuple[int, str]]:
    git = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    ours = subprocess.run([sys.executable, str(STANDIN), "-C", str(repo), *args],
                          capture_output=True, text=True)
    return (git.returncode, git.stdout), (ours.returncode, ours.stdout)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *WHO, *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two commits; a lightweight and an annotated tag on HEAD, another on the first."""
    _git(tmp_path, "init", "-q")
    for name, text in (("a.py", "a\n"), ("b.py", "b\n"), ("c.py", "c\n")):
        (tmp_path / name).write_text(text)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    _git(tmp_path, "tag", "old")
    (tmp_path / "a.py").write_text("a2\n")
    _git(tmp_path, "commit", "-qam", "two")
    _git(tmp_path, "tag", "clone-pass")
    _git(tmp_path, "tag", "-a", "v2", "-m", "release")
    return tmp_path


def test_a_clean_repository_is_answered_as_git_answers(repo: Path) -> None:
    for args in ASKED:
        git, ours = _both(repo, args)
        assert ours == git, args
    assert _both(repo, ["tag", "--points-at", "HEAD"])[1] == (0, "clone-pass\nv2\n")


def _paths(status: str) -> list[str]:
    return sorted(line[3:].split(" -> ")[-1] for line in status.splitlines())


def test_changes_to_tracked_files_are_seen_and_untracked_ones_are_not(repo: Path) -> None:
    asked = ["status", "--porcelain", "--untracked-files=no"]
    (repo / "untracked.py").write_text("u\n")
    assert _both(repo, asked)[1] == (0, "")
    (repo / "a.py").write_text("changed\n")    # modified, not staged
    _git(repo, "rm", "-q", "--cached", "b.py")  # deleted from the index, left on disk
    (repo / "d.py").write_text("d\n")
    _git(repo, "add", "d.py")                   # added
    (repo / "d.py").write_text("d2\n")         # ...and modified after
    (repo / "c.py").unlink()                    # deleted from the disk
    git, ours = _both(repo, asked)
    assert ours[0] == git[0] == 0
    assert _paths(ours[1]) == _paths(git[1]) == ["a.py", "b.py", "c.py", "d.py"], git


def test_no_repository_and_other_commands_fail_loudly(repo: Path, tmp_path_factory:
                                                     pytest.TempPathFactory) -> None:
    bare = tmp_path_factory.mktemp("not-a-repository")
    git, ours = _both(bare, ["rev-parse", "HEAD"])
    assert git[0] == ours[0] == 128
    git, ours = _both(repo / "no-such-folder", ["rev-parse", "HEAD"])  # not the repo above
    assert git[0] == ours[0] == 128 and ours[1] == ""
    done = subprocess.run([sys.executable, str(STANDIN), "-C", str(repo), "log"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "not implemented: git log" in done.stderr

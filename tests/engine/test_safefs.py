"""`safefs` on its own, both ways it works: with openat (POSIX) and by looking at each
component before using it (Windows, which has no openat): the same refusals either way."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cockpit.runbook.paths import resolve
from cockpit.session import safefs
from cockpit.session.safefs import MissingPath, UnsafePath


@pytest.fixture(params=[True, False], ids=["openat", "looked-at"])
def at(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(safefs, "AT", request.param and safefs.AT)
    return bool(request.param)


def _tree(tmp_path: Path) -> Path:
    """A working directory `team/app` with a sibling `team/tmp`, links and a FIFO."""
    work = tmp_path / "team" / "app"
    work.mkdir(parents=True)
    (tmp_path / "team" / "tmp").mkdir()
    (tmp_path / "team" / "tmp" / "up.log").write_text("above\n")
    (work / "plain.log").write_text("plain\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret").write_text("not for the runbook\n")
    (work / "linked.log").symlink_to(tmp_path / "private" / "secret")
    (work / "linked-folder").symlink_to(tmp_path / "private")
    os.mkfifo(work / "pipe.log")
    return work


def test_a_named_file_is_read_only_with_no_link_on_its_way(tmp_path: Path, at: bool) -> None:
    work = _tree(tmp_path)
    assert safefs.read_named(work, work / "plain.log") == b"plain\n"
    assert safefs.read_named(work, work.parent / "tmp" / "up.log") == b"above\n"  # ../tmp
    with pytest.raises(UnsafePath, match=f"{work / 'linked.log'}: is a symbolic link"):
        safefs.read_named(work, work / "linked.log")
    with pytest.raises(UnsafePath, match=f"{work / 'linked-folder'}: is a symbolic link"):
        safefs.read_named(work, work / "linked-folder" / "secret")
    with pytest.raises(MissingPath):
        safefs.read_named(work, work / "nothing" / "here.log")
    os.link(tmp_path / "private" / "secret", work / "hard.log")  # another name for it
    with pytest.raises(UnsafePath, match=f"{work / 'hard.log'}: has 2 names"):
        safefs.read_named(work, work / "hard.log")
    done: list[str] = []

    def read_the_fifo() -> None:
        try:
            safefs.read_named(work, work / "pipe.log")
        except UnsafePath as exc:
            done.append(exc.message)

    reader = threading.Thread(target=read_the_fifo, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        with open(work / "pipe.log", "wb"):  # free it, then fail
            pass
        pytest.fail("reading a FIFO waited for a writer")
    assert done and "FIFO" in done[0]


def test_a_working_directory_reached_through_a_link_is_trusted(tmp_path: Path,
                                                               at: bool) -> None:
    work = _tree(tmp_path)
    (tmp_path / "shortcut").symlink_to(work)
    via = tmp_path / "shortcut"
    assert safefs.read_named(via, via / "plain.log") == b"plain\n"
    # `..` goes up from where the working directory really is, as a step run there sees it
    assert safefs.read_named(via, resolve(via, "../tmp/up.log")) == b"above\n"
    # an absolute path is taken as written, however deep the link's target lies
    assert safefs.read_named(via, resolve(via, str(tmp_path / "private" / "secret"))) \
        == b"not for the runbook\n"
    assert safefs.read_named(via, resolve(via, str(via / "plain.log"))) == b"plain\n"


def test_a_new_file_and_its_folders_are_never_made_through_a_link(tmp_path: Path,
                                                                  at: bool) -> None:
    work = _tree(tmp_path)
    fd = safefs.create_named(work, work / "logs" / "deeper" / "x.log", 0o644)
    os.write(fd, b"published\n")
    os.close(fd)
    assert (work / "logs" / "deeper" / "x.log").read_text() == "published\n"
    with pytest.raises(FileExistsError):
        safefs.create_named(work, work / "logs" / "deeper" / "x.log", 0o644)
    with pytest.raises(UnsafePath, match="symbolic link"):
        safefs.create_named(work, work / "linked-folder" / "new" / "x.log", 0o644)
    assert sorted(p.name for p in (tmp_path / "private").iterdir()) == ["secret"]


def test_a_named_file_is_moved_out_only_when_it_is_a_regular_file(tmp_path: Path,
                                                                  at: bool) -> None:
    work = _tree(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    moved = safefs.move_named(work, work / "plain.log", lambda: kept / "plain.log", 0o600)
    assert moved is not None and moved[1] == len(b"plain\n")
    assert not (work / "plain.log").exists() and (kept / "plain.log").read_text() == "plain\n"
    assert safefs.move_named(work, work / "plain.log", lambda: kept / "again", 0o600) is None
    for refused in (work / "linked.log", work / "linked-folder" / "secret", work / "pipe.log"):
        with pytest.raises(UnsafePath):
            safefs.move_named(work, refused, lambda: kept / "no", 0o600)
    assert (tmp_path / "private" / "secret").exists() and not (kept / "no").exists()


def test_an_output_is_renamed_into_place_and_a_failure_leaves_nothing(tmp_path: Path,
                                                                      at: bool) -> None:
    out = tmp_path / "out"
    out.mkdir()
    safefs.write_output_bytes(out / "a.txt", b"first\n")
    with pytest.raises(UnsafePath, match="already exists"):
        safefs.write_output_bytes(out / "a.txt", b"second\n")
    safefs.write_output_bytes(out / "a.txt", b"second\n", force=True)
    assert (out / "a.txt").read_text() == "second\n"

    def fail(handle: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        safefs.write_output(out / "b.txt", fail)
    (out / "link").symlink_to(out / "a.txt")
    with pytest.raises(UnsafePath, match="symbolic link"):
        safefs.write_output_bytes(out / "link", b"through\n", force=True)
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "link"]
    assert (out / "a.txt").read_text() == "second\n"


def test_a_file_that_appears_after_the_last_check_is_not_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --force the output takes its name only while the name is free: a file made
    there between the last check and the rename (another account's, say) stays as it is."""
    out = tmp_path / "report.md"
    checks: list[bool] = []
    real_check = safefs.check_output

    def check_then_race(output: Path, force: bool) -> None:
        real_check(output, force)
        checks.append(force)
        if len(checks) == 2:  # the last check passed; someone is quicker than the rename
            out.write_text("theirs\n")

    monkeypatch.setattr(safefs, "check_output", check_then_race)
    with pytest.raises(UnsafePath, match="appeared while it was being written"):
        safefs.write_output_bytes(out, b"ours\n")
    assert out.read_text() == "theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temporary file left

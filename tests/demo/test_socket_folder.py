"""A world whose path a socket cannot carry (too long, or a comma) keeps its server's socket in
a folder under the temporary folder: made by us under a random name, 0700, recorded in
world.json and checked as ours before every use — never trusted by its owner alone. A
planted folder is refused, and a build that fails leaves nothing behind."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cockpit.demo.pginstall import server_user
from cockpit.demo.world import World
from cockpit.errors import CockpitError
from tests.accounts import Account

LONG = "deep-" + "x" * 90


def _server_uid() -> int:
    run_as = server_user()
    return pwd.getpwnam(run_as).pw_uid if run_as else os.geteuid()


def _processes_under(folder: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(folder) in " ".join(proc.info["cmdline"] or []):
            found.append(proc.pid)
    return found


@pytest.fixture(scope="module")
def short_tmp() -> Iterator[Path]:
    """A temporary folder of this module's own, so what the cockpit makes there can be seen
    (the machine's /tmp is shared with every other test that runs)."""
    base = Path(tempfile.mkdtemp(prefix="cockpit-test-open-"))
    base.chmod(0o755)
    folder = base / "t"
    folder.mkdir()
    folder.chmod(0o1777)  # as /tmp is
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(folder))
        yield folder
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def long_world(short_tmp: Path) -> Iterator[World]:
    """One world for the module (a build is the slow part): its path too long for a socket."""
    world = World.build(short_tmp.parent / LONG / "world")
    try:
        yield world
    finally:
        last = World.load(world.workspace)  # as the tests left it
        last.stop()
        last.cluster.remove_socket_folder()


def test_a_long_paths_socket_folder_is_made_private_and_recorded(long_world: World,
                                                                 short_tmp: Path) -> None:
    folder = long_world.cluster.socket_dir
    assert folder.parent == short_tmp and folder.name.startswith("cockpit-pg-")
    info = folder.lstat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == _server_uid()
    recorded = json.loads((long_world.workspace / "world.json").read_text())
    assert recorded["socket_dir"] == str(folder)
    assert (folder / f".s.PGSQL.{long_world.cluster.port}").exists()


@pytest.mark.parametrize("planted", ["0777-of-the-servers-account", "another-accounts"])
def test_a_planted_socket_folder_is_refused_and_nothing_starts(
        long_world: World, planted: str, request: pytest.FixtureRequest) -> None:
    folder = Path(json.loads((long_world.workspace / "world.json").read_text())["socket_dir"])
    World.load(long_world.workspace).stop()
    shutil.rmtree(folder, ignore_errors=True)  # gone (a cleaner, say), and one put in its place
    folder.mkdir()
    if planted == "another-accounts":
        account: Account = request.getfixturevalue("other_account")
        os.chown(folder, account.uid, account.gid)
        folder.chmod(0o700)
    else:
        os.chown(folder, _server_uid(), -1)
        folder.chmod(0o777)
    world_json = (long_world.workspace / "world.json").read_bytes()
    try:
        with pytest.raises(CockpitError) as refused:
            World.open(long_world.workspace)
        assert str(folder) in refused.value.message and "remove it" in refused.value.message
        assert list(folder.iterdir()) == []  # no socket was put there
        assert not World.load(long_world.workspace).cluster.running()
        assert _processes_under(long_world.workspace) == []  # no server, no terminator
        assert (long_world.workspace / "world.json").read_bytes() == world_json
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        World.open(long_world.workspace)  # a new folder of its own, for the next test


def test_a_build_that_fails_leaves_no_half_built_world(open_tmp: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    short = open_tmp / "t"
    short.mkdir(mode=0o1777)
    short.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(short))
    workspace = open_tmp / LONG / "world"
    # No git on the PATH: the build fails after its database is made and filled.
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    with pytest.raises(OSError):
        World.build(workspace)
    assert not workspace.exists()
    assert list(short.iterdir()) == []  # the socket folder went with it
    assert _processes_under(workspace) == []

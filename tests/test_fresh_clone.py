"""The README's main command on a fresh clone where users put one: a folder whose name has
spaces (the reference's own `Netz Private Credit OS`), and a folder private to its owner, as
root (`/root` on a jump host, or a container). Each clone builds its own environment with
`uv run`, as a user's would, and runs `cockpit demo --headless` to PASS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in $UV
    assert uv, "uv is not on PATH: the README's commands need it (pip install uv)"
    return uv


def _clone_and_demo(parent: Path) -> subprocess.CompletedProcess[str]:
    clone = parent / "cockpit"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True,
                   capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    done = subprocess.run([_uv(), "run", "--quiet", "cockpit", "demo", "--headless"], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "DECISION: PASS"
    assert "Traceback" not in done.stderr
    session = Path(done.stdout.splitlines()[0].removeprefix("session: "))
    assert session.is_relative_to(clone) and (session / "evidence" / "decision.json").exists()
    return done


def test_the_demo_passes_from_a_clone_in_a_folder_named_like_the_references(
        open_tmp: Path) -> None:
    parent = open_tmp / "Netz Private Credit OS"
    parent.mkdir()
    _clone_and_demo(parent)
    world = next((parent / "cockpit" / "sessions").glob("*-world"))
    info = json.loads((world / "world.json").read_text())
    assert Path(info["pg_root"]) == world / "pg"  # the database in the spaced path itself


def test_the_demo_passes_from_a_clone_private_to_its_owner(tmp_path: Path) -> None:
    parent = tmp_path / "home"
    parent.mkdir(mode=0o700)
    parent.chmod(0o700)
    _clone_and_demo(parent)
    if os.geteuid() == 0:  # the server's user could not enter: it ran from copies elsewhere
        world = next((parent / "cockpit" / "sessions").glob("*-world"))
        info = json.loads((world / "world.json").read_text())
        assert not Path(info["pg_root"]).is_relative_to(parent)
        assert info["pg_bin"] and not Path(info["pg_bin"]).is_relative_to(parent)

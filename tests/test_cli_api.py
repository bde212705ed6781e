"""The command line as an API (issue #28): each command a function of keyword arguments
that the parser's one table names; `run` and `resume` load nothing of the rehearsal world;
only the `demo` command's module imports it."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli.dispatch import command_function
from cockpit.cli.parser import COMMANDS, build_parser
from tests.conftest import REPO
from tests.engine.helpers import cockpit, ordinary_world


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("api")
    session = base / "s"
    done = cockpit("run", str(ordinary_world(base, [("hello", "echo hello")])), "--headless",
                   "--assume-yes", "--session", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    return session


def _keywords(parser: argparse.ArgumentParser) -> set[str]:
    return {a.dest for a in parser._actions if a.dest != "help"}


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_each_command_of_the_table_calls_a_function_taking_exactly_its_arguments(
        command) -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    function = command_function(command.calls)
    parameters = inspect.signature(function).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    parser = sub.choices[command.name.split()[0]]
    for word in command.name.split()[1:]:  # `fleet run`: the `run` command of `fleet`
        parser = next(a for a in parser._actions
                      if isinstance(a, argparse._SubParsersAction)).choices[word]
    assert set(parameters) == _keywords(parser), command.name
    assert inspect.signature(function).return_annotation in (int, "int")


def test_a_command_called_from_python_answers_as_the_command_line_does(
        decided: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cockpit.cli.sessions import status

    assert status(folder=decided, as_json=True) == 0
    called = json.loads(capsys.readouterr().out)
    typed = cockpit("status", str(decided), "--json")
    assert typed.returncode == 0 and json.loads(typed.stdout) == called
    assert called["state"]["decision"]["status"] == "PASS"


def test_resume_of_an_ordinary_session_loads_nothing_of_the_rehearsal_world(
        decided: Path) -> None:
    """On Windows the world's machinery does not even import (`pwd`): resume must not
    need it for a session that has no world."""
    probe = (
        "import sys\n"
        "from cockpit.cli import main\n"
        f"code = main(['resume', {str(decided)!r}, '--headless', '--assume-yes'])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('cockpit.demo')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout[-2000:]


def test_the_command_line_imports_the_rehearsal_world_from_the_demo_command_only(
        tmp_path: Path) -> None:
    """The import-linter contract, tried on a copy of the package whose session commands
    import cockpit.demo: it is broken, and says where."""
    shutil.copytree(REPO / "cockpit", tmp_path / "cockpit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    sessions = tmp_path / "cockpit" / "cli" / "sessions.py"
    sessions.write_text(sessions.read_text(encoding="utf-8") + "\nimport cockpit.demo.session\n",
                        encoding="utf-8")
    lint = Path(sys.executable).with_name("lint-imports")
    broken = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                            timeout=300)
    assert broken.returncode != 0, broken.stdout
    assert "cockpit.cli imports cockpit.demo only from the demo command BROKEN" in broken.stdout
    assert "cockpit.cli.sessions -> cockpit.demo.session" in broken.stdout
    clean = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True,
                           cwd=REPO, timeout=300)
    assert clean.returncode == 0, clean.stdout


def test_a_world_its_own_process_cannot_open_is_refused_in_that_process_s_words(
        decided: Path, tmp_path: Path) -> None:
    """`resume` of a demo session opens the world through the world's own process; what that
    process refuses reaches the cockpit as the same message and exit code, and the process
    is gone."""
    import psutil

    from cockpit.cli.worldlink import WORLD_ENTRY, WorldLink
    from cockpit.errors import CockpitError

    workspace = tmp_path / "w"
    workspace.mkdir()
    (workspace / "world.json").write_text("{", encoding="utf-8")
    said: list[str] = []
    with pytest.raises(CockpitError) as refused:
        WorldLink.open(workspace, decided, said.append)
    assert refused.value.message == (f"{workspace}/world.json: damaged; the world cannot be "
                                     "opened")
    assert refused.value.exit_code == 1 and said == []
    left = [p.pid for p in psutil.process_iter(["cmdline"])
            if WORLD_ENTRY in " ".join(p.info["cmdline"] or [])
            and str(workspace) in " ".join(p.info["cmdline"] or [])]
    assert left == []

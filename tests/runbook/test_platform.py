"""A runbook written on Windows (the reference is one), on POSIX: `validate` and `run` say,
one line per item, which paths cannot work here — `run` before it asks for a password or
makes a session folder — and paths the cockpit itself opens are read either way."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cockpit.runbook.loader import load_runbook
from cockpit.runbook.paths import path_name, resolve
from cockpit.runbook.platform import foreign_paths, windows_absolute, windows_paths_in
from tests.conftest import REPO
from tests.run import cockpit

NETZ = REPO / "runbooks" / "netz-prod-cutover.toml"
DEMO = REPO / "runbooks" / "demo-cutover.toml"
NETZ_PLACES = ["setup.items[0].path", "phases[0].steps[2].command",
               "phases[0].steps[3].command", "phases[1].steps[0].command",
               "phases[1].steps[1].command", "phases[4].steps[2].command"]


@pytest.mark.parametrize("path", ["d:\\Projetos\\Netz Private Credit OS\\backend", "C:/srv/app",
                                  "\\\\fileserver\\share\\x.log"])
def test_drive_and_network_paths_are_windows_absolute(path: str) -> None:
    assert windows_absolute(path)


@pytest.mark.parametrize("path", ["..\\tmp\\x.log", "/srv/app", "backend", "-x", "d:"])
def test_other_paths_are_not(path: str) -> None:
    assert not windows_absolute(path)


@pytest.mark.parametrize(("command", "found"), [
    ("python ..\\tmp\\forensic.py", ["..\\tmp\\forensic.py"]),
    ('python "C:\\ops\\check.py" --fast', ["C:\\ops\\check.py"]),
    ("python scripts\\check.py", ["scripts\\check.py"]),
    ("psql -f \\\\fs\\sql\\a.sql", ["\\\\fs\\sql\\a.sql"]),
    ("python -m alembic upgrade head", []),
    ("printf 'done\\n'", []),
    ("grep -E 'a\\|b' x.log", []),
    ("sed 's/\\//_/g' < in.txt", []),
    ("python ../tmp/forensic.py", []),
])
def test_windows_paths_inside_commands(command: str, found: list[str]) -> None:
    assert windows_paths_in(command) == found


def test_the_reference_names_its_working_directory_and_five_scripts_by_place() -> None:
    runbook = load_runbook(NETZ)
    assert [place for place, _ in foreign_paths(runbook, "posix")] == NETZ_PLACES
    # --workdir answers the working directory; the commands still cannot run here.
    assert [place for place, _ in foreign_paths(runbook, "posix", workdir_given=True)] == \
        NETZ_PLACES[1:]
    assert foreign_paths(runbook, "nt") == []
    assert foreign_paths(load_runbook(DEMO), "posix") == []


def test_relative_backslash_paths_are_opened_by_the_cockpit_either_way() -> None:
    assert resolve(Path("/w/backend"), "..\\tmp\\prod_stamp_anchor.log") == Path(
        "/w/tmp/prod_stamp_anchor.log")
    assert path_name("..\\tmp\\prod_stamp_anchor.log") == "prod_stamp_anchor.log"
    assert path_name("d:\\Projetos\\Netz Private Credit OS\\backend\\") == "backend"


def _without_dsn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # no DSN: run would ask for a password
    return cockpit(*args, cwd=cwd, env=env, inherit=False, stdin=subprocess.DEVNULL)


def test_validate_is_ok_and_notes_each_windows_item(tmp_path: Path) -> None:
    done = _without_dsn("validate", str(NETZ), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("ok: ")
    notes = [line for line in done.stderr.splitlines() if "Windows path" in line]
    assert [line.split(": ")[2] for line in notes] == NETZ_PLACES


def test_run_refuses_a_windows_runbook_before_anything_is_made(tmp_path: Path) -> None:
    done = _without_dsn("run", str(NETZ), "--headless", "--assume-yes", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert "cannot run on this machine" in lines[0]
    assert [line.split(": ")[1] for line in lines[1:]] == NETZ_PLACES
    assert "Traceback" not in done.stderr and "password" not in done.stderr.lower()
    assert list(tmp_path.iterdir()) == []  # no session folder, nothing else

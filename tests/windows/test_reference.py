"""The reference runbook where its operator keeps it: `d:\\Projetos\\Netz Private Credit OS\\`
with `backend\\` (its exact working directory: the rehearsal world's Alembic project) and
`tmp\\` (the operator scripts its `..\\tmp\\` paths reach). A copy with its scripts pinned
validates there with no note about foreign paths or missing folders, its Alembic targets read
from the lineage where the steps run, and still renders the reference's transcript byte for
byte (pins are not rendered). On Linux the same copy is checked with its working directory
turned into this machine's, as a team rehearsing it there would."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PureWindowsPath

import pytest

from tests.conftest import REFERENCE, REPO
from tests.run import cockpit
from tests.windows.kit import WINDOWS, copy_tree

NETZ = REPO / "runbooks" / "netz-prod-cutover.toml"
WORKDIR = "d:\\Projetos\\Netz Private Credit OS\\backend"
WORLD = "COCKPIT_WINDOWS_WORLD"  # .ci/wine/run-tests: the Linux side's world, d: mapped


def _here(linux_path: str) -> Path:
    """A path of the Linux side as this system reaches it (Wine: drive Z: is /)."""
    return Path("Z:" + linux_path.replace("/", "\\")) if WINDOWS else Path(linux_path)


@pytest.fixture(scope="module")
def on_its_drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The reference's folders filled from the rehearsal world; the pinned copy's path and
    its working directory as this system names it."""
    given = os.environ.get(WORLD)
    if given:
        world = json.loads(Path(given if not WINDOWS else _here(given)).read_text())
        backend, tmp = _here(world["world_backend"]), _here(world["world_tmp"])
    elif WINDOWS:
        raise RuntimeError(f"{WORLD} is not set: .ci/wine/run-tests passes it in")
    else:  # Linux, in the suite: the world's files are the demo's own, written here
        from cockpit.demo.lineage import write_backend
        from cockpit.demo.world import SCRIPTS

        base = tmp_path_factory.mktemp("world")
        backend, tmp = base / "backend", base / "tmp"
        write_backend(backend, None)
        copy_tree(SCRIPTS, tmp)
    root = Path("d:\\Projetos\\Netz Private Credit OS") if WINDOWS else \
        tmp_path_factory.mktemp("d") / "Projetos" / "Netz Private Credit OS"
    assert copy_tree(backend, root / "backend") > 5
    assert copy_tree(tmp, root / "tmp") >= 5
    text = NETZ.read_text(encoding="utf-8")
    workdir = WORKDIR if WINDOWS else str(root / "backend")
    text = text.replace(f"path = '{WORKDIR}'", f"path = '{workdir}'")
    for script in sorted((root / "tmp").glob("*.py")):  # pinned, as approved
        digest = hashlib.sha256(script.read_bytes()).hexdigest()
        line = f"path = '..\\tmp\\{script.name}'\n"
        assert line in text, script.name
        text = text.replace(line, f"{line}sha256 = '{digest}'\n")
    if not WINDOWS:  # the POSIX shell reads a backslash as an escape: `../tmp/` there
        text = text.replace("..\\tmp\\", "../tmp/")
    copy = root / "cutover.toml"
    copy.write_bytes(text.encode("utf-8"))
    return copy, workdir


def test_the_working_directory_is_the_references_own(on_its_drive: tuple[Path, str]) -> None:
    _, workdir = on_its_drive
    if WINDOWS:
        assert PureWindowsPath(workdir).drive.lower() == "d:"
        assert Path(workdir).is_dir() and (Path(workdir).parent / "tmp").is_dir()
    assert (Path(workdir) / "alembic.ini").is_file()


def test_the_pinned_copy_validates_there_with_no_path_note(on_its_drive: tuple[Path, str]
                                                           ) -> None:
    copy, _ = on_its_drive
    done = cockpit("validate", str(copy))
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    unwanted = ("Windows path", "is for Windows", "does not exist", "is not pinned",
                "not checked here")
    assert [line for line in said.splitlines() if any(u in line for u in unwanted)] == []
    if WINDOWS:  # pins are not rendered: the transcript is the reference's, byte for byte
        assert hashlib.sha256(REFERENCE.read_bytes()).hexdigest() in done.stdout


def test_the_pinned_copy_still_renders_the_reference(on_its_drive: tuple[Path, str]) -> None:
    """On Windows byte for byte; on Linux, but for the working directory it was given."""
    copy, workdir = on_its_drive
    done = cockpit("render", str(copy), text=False)
    expected = REFERENCE.read_text(encoding="utf-8")
    if not WINDOWS:
        expected = expected.replace(WORKDIR, workdir).replace("..\\tmp\\", "../tmp/")
    assert done.returncode == 0 and done.stdout == expected.encode("utf-8")

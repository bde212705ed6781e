"""The Linux side of the Windows step: the machine's PostgreSQL 15 with TLS on loopback, and
two worlds shaped like the demo's for the reference runbook — the clone its rehearsal runs on
and the "production" it is cut over on. Writes what the Windows tests need (DSNs, the worlds'
folders) as JSON to argv[1], then keeps them up until argv[2] (a file) appears or the process
argv[3] is gone; then stops them.

    uv run python .ci/wine/serve.py INFO.json STOP-FILE PID
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.pginstall import runnable_bin_dir, server_user, system_bin_dir
from cockpit.demo.tls import write_self_signed
from cockpit.demo.world import World

ROLE = "winstep"


def tls_cluster(base: Path) -> tuple[PgCluster, str]:
    """PostgreSQL 15 (the machine's own) accepting only TLS on 127.0.0.1, and a database and
    role for the steps; its URL."""
    found = system_bin_dir()
    if found is None:
        raise SystemExit("the Windows step needs PostgreSQL 15 under /usr/lib/postgresql/15/bin")
    bin_dir = runnable_bin_dir(found, server_user(), base / "bin")
    cluster = PgCluster(root=base / "pg15", bin_dir=bin_dir)
    cluster.init()
    cert, key = cluster.data_dir / "server.crt", cluster.data_dir / "server.key"
    write_self_signed(cert, key)
    for path in (cert, key):
        os.chown(path, cluster.server_uid, -1)
    # TLS or nothing over TCP: a step that reached it without TLS would fail to connect.
    hba = cluster.data_dir / "pg_hba.conf"
    cluster.start()
    password = secrets.token_urlsafe(18)
    with cluster.admin() as conn:
        conn.execute("ALTER SYSTEM SET ssl = on")
        conn.execute("SELECT pg_reload_conf()")
    cluster.create_role(ROLE, password)
    cluster.create_database(ROLE, owner=ROLE)
    hba_text = hba.read_text().replace("host all all 127.0.0.1/32", "hostssl all all 127.0.0.1/32")
    hba.write_text(hba_text)
    with cluster.admin() as conn:
        conn.execute("SELECT pg_reload_conf()")
        on = conn.execute("SHOW ssl").fetchone()
    if not on or on[0] != "on":
        raise SystemExit(f"PostgreSQL 15 did not turn TLS on ({on})")
    url = (f"postgresql+psycopg://{ROLE}:{password}@127.0.0.1:{cluster.port}/{ROLE}"
           "?sslmode=require")
    return cluster, url


def main() -> None:
    info_path, stop, watched = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    base = Path(tempfile.mkdtemp(prefix="cockpit-wine-serve-"))
    base.chmod(0o755)
    cluster, url = tls_cluster(base)
    worlds: dict[str, World] = {}
    try:
        for name in ("clone", "production"):
            worlds[name] = World.build(base / name)
        info = {"dsn": url, "worlds": {
            name: {"dsn": world.dsn(sqlalchemy=True), "pg_dsn": world.dsn(sqlalchemy=False),
                   "backend": str(world.backend), "tmp": str(world.tmp)}
            for name, world in worlds.items()}}
        info_path.write_text(json.dumps(info), encoding="utf-8")
        while not stop.exists():
            try:
                os.kill(watched, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
    finally:
        for world in worlds.values():
            world.stop()
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

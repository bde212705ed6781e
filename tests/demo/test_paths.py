"""Paths as users have them: spaces, both quotes, `$`, a backslash, non-ASCII letters, a comma
and a leading `-` in every folder the cockpit builds or passes on — the server's data, socket
and options, the world, the session, step working folders and logs; a socket path too long
for a socket; binaries the server's user cannot run from where they are; PGOPTIONS."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.pginstall import (
    embedded_bin_dir,
    runnable_bin_dir,
    runs_from,
    server_user,
    system_bin_dir,
)
from cockpit.demo.session import close_demo, open_demo
from cockpit.engine.headless import Headless, load_answers
from cockpit.engine.pgoptions import pg_options
from cockpit.resources import bundled_runbook
from cockpit.session.layout import session_file

# Every character a shell, a conninfo string, a URL or a settings list treats specially
# (but a comma: libpq reads a socket folder's path as a list of hosts; see below).
AWKWARD = "-Netz Private Credit OS ü 'q' \"dq\" $x `b` \\ #&?"


def _bin_dirs() -> list[Path]:
    return [d for d in (embedded_bin_dir(), system_bin_dir()) if d is not None]


@pytest.fixture(params=_bin_dirs(), ids=lambda d: "system" if "/usr/" in str(d) else "embedded")
def bin_dir(request: pytest.FixtureRequest, pg_base: Path) -> Path:
    return runnable_bin_dir(request.param, server_user(), pg_base / "awkward-bin")


def _awkward_root(pg_base: Path, name: str) -> Path:
    parent = pg_base / AWKWARD
    parent.mkdir(exist_ok=True)
    parent.chmod(0o755)
    return parent / name


def test_a_cluster_lives_in_a_folder_with_every_awkward_character(pg_base: Path,
                                                                 bin_dir: Path) -> None:
    cluster = PgCluster(root=_awkward_root(pg_base, bin_dir.parent.name[:2]), bin_dir=bin_dir)
    cluster.init()
    cluster.start()
    try:
        assert cluster.socket_dir == cluster.root
        with cluster.admin() as conn:
            assert conn.execute("SHOW data_directory").fetchone() == (str(cluster.data_dir),)
            shown = conn.execute("SHOW unix_socket_directories").fetchone()
            assert shown == ('"' + str(cluster.root).replace('"', '""') + '"',)
        with psycopg.connect(cluster.socket_conninfo("postgres")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        engine = create_engine(cluster.socket_url("postgres"), poolclass=NullPool)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == cluster.superuser
        engine.dispose()
    finally:
        cluster.destroy()
    assert not cluster.running() and not cluster.root.exists()


@pytest.mark.parametrize("name", ["deep-" + "x" * 90, "a, b"], ids=["too-long", "comma"])
def test_a_socket_folder_libpq_cannot_name_moves_to_a_short_folder(pg_base: Path,
                                                                  name: str) -> None:
    root = pg_base / name / "pg"
    cluster = PgCluster(root=root, bin_dir=runnable_bin_dir(
        embedded_bin_dir(), server_user(), pg_base / "awkward-bin"))
    assert cluster.socket_dir != root and len(str(cluster.socket_dir)) < 60
    cluster.init()
    cluster.start(tcp=False)
    try:
        with cluster.admin() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists()
    finally:
        cluster.destroy()
    assert not cluster.socket_dir.exists()  # made for the server, removed with it


def test_binaries_the_server_user_cannot_run_are_copied_for_it(pg_base: Path,
                                                              tmp_path: Path) -> None:
    # A wheel installed inside a folder private to its owner (a clone in /root), whose name
    # also holds a `$`, which initdb's own command line cannot carry.
    wheel = embedded_bin_dir()
    private = tmp_path / "private $HOME"
    package = private / "site-packages" / wheel.parent.parent.name
    shutil.copytree(wheel.parent, package / wheel.parent.name,
                    ignore=shutil.ignore_patterns("include"))
    libs = wheel.parent.parent.with_name(f"{wheel.parent.parent.name}.libs")
    if libs.is_dir():
        shutil.copytree(libs, private / "site-packages" / libs.name)
    private.chmod(0o700)
    installed = package / wheel.parent.name / "bin"
    run_as = server_user()
    assert not runs_from(installed, run_as)
    place = pg_base / "copied-for-the-server"
    usable = runnable_bin_dir(installed, run_as, place)
    assert usable.is_relative_to(place) and runs_from(usable, run_as)
    cluster = PgCluster(root=pg_base / "from-a-copy", bin_dir=usable)
    cluster.init()
    cluster.start(tcp=False)
    try:
        with cluster.admin() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        cluster.destroy()


def test_pgoptions_carries_values_with_spaces_and_backslashes(
        pg_cluster: PgCluster, pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value = "cut over \\ ü"
    # libpq reads PGOPTIONS from the process environment, as a step's Alembic would.
    monkeypatch.setenv("PGOPTIONS", pg_options({"cockpit.note": value, "lock_timeout": "3s"}))
    with psycopg.connect(pg_db) as conn:
        shown = conn.execute("SELECT current_setting('cockpit.note'), "
                             "current_setting('lock_timeout')").fetchone()
    assert shown == (value, "3s")


@pytest.mark.slow  # a whole demo (the fast suite's budget); the folders above stay fast
def test_the_demo_reaches_pass_with_its_world_and_session_in_awkward_folders(
        open_tmp: Path) -> None:
    base = open_tmp / AWKWARD
    base.mkdir()
    world, ctl = open_demo(None, base / "-session, one", base / "-world, 'two'")
    try:
        lines: list[str] = []
        code = Headless(ctl, load_answers(bundled_runbook("demo-answers.toml")), False,
                        lines.append).drive()
    finally:
        close_demo(world, ctl)
    assert code == 0, "\n".join(lines[-20:])
    assert lines[-1] == "DECISION: PASS"
    info = json.loads((base / "-world, 'two'" / "world.json").read_text())
    assert (base / "-world, 'two'" / "pg" / "data" / "PG_VERSION").exists()
    assert info["pg_root"] == str(base / "-world, 'two'" / "pg")
    steps = [step for step in ctl.state.steps.values() if step.log]
    assert len(steps) == 12
    for step in steps:  # the session's copy, and the published one in the awkward world
        own, published = session_file(ctl.folder, step.log or ""), Path(step.published or "")
        assert own.is_relative_to(base / "-session, one") and own.stat().st_size
        assert published.is_relative_to(base) and published.read_bytes() == own.read_bytes()


def test_one_shared_copy_of_the_binaries_is_made_once_and_trusted_only_while_ours(
        open_tmp: Path) -> None:
    """Worlds in private folders share one copy of the embedded server's binaries, made
    aside and renamed whole; a copy anyone else could have written into is not used."""
    from cockpit.demo.pginstall import shared_runnable_bin_dir

    wheel, run_as = embedded_bin_dir(), server_user()
    first = shared_runnable_bin_dir(wheel, run_as, open_tmp)
    assert first is not None and (first / "postgres").is_file()
    made = (first / "postgres").stat().st_mtime_ns
    again = shared_runnable_bin_dir(wheel, run_as, open_tmp)
    assert again == first and (again / "postgres").stat().st_mtime_ns == made  # not re-copied
    assert [p.name for p in open_tmp.iterdir()] == [first.parents[2].name]  # nothing aside
    (first / "pg_ctl").chmod(0o777)  # writable by others: no longer trusted
    assert shared_runnable_bin_dir(wheel, run_as, open_tmp) is None

"""Every probe against a real PostgreSQL (embedded, and the machine's own where present)
and a real Alembic project, run by Alembic as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from cockpit.demo.lineage import AI4_OBJECTS, ANCHOR, HEAD, write_backend
from cockpit.demo.pgcluster import PgCluster, free_port
from cockpit.probes import registry
from cockpit.probes.db_probes import pg_halt_diagnostics
from cockpit.probes.registry import ProbeContext, run_probe
from cockpit.session.redact import Redactor
from tests.run import cockpit, db_url


def _alembic(backend: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=backend, env=env,
                          capture_output=True, text=True)


@pytest.fixture
def anchored(tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> SimpleNamespace:
    """A backend and a database migrated by Alembic to the anchor (version table 64 wide)."""
    backend = tmp_path / "backend"
    write_backend(backend)
    env = {**os.environ, "DATABASE_URL": db_url(pg_cluster, pg_db)}
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(64) NOT NULL "
                     "CONSTRAINT alembic_version_pkc PRIMARY KEY)")
    done = _alembic(backend, env, "upgrade", ANCHOR)
    assert done.returncode == 0, done.stderr
    return SimpleNamespace(backend=backend, env=env, conninfo=pg_db,
                           ctx=ProbeContext(workdir=backend, env=env))


def test_script_directory_probes(anchored: SimpleNamespace) -> None:
    ctx = anchored.ctx
    single = run_probe("alembic.single_head", ctx, HEAD, {})
    assert single.ok and single.observed == HEAD
    wrong = run_probe("alembic.single_head", ctx, "0023", {})
    assert not wrong.ok and "1 head(s): 70a79686336c" in wrong.detail
    path = run_probe("alembic.upgrade_path_includes", ctx,
                     ["0020", "0021", "0022", "0023", "0009b", HEAD], {"from": ANCHOR})
    assert path.ok, path.detail
    assert set(path.observed) == {"0020", "0021", "0022", "0023", "0009b", HEAD}
    assert path.observed.index("0009b") < path.observed.index(HEAD)
    missing = run_probe("alembic.upgrade_path_includes", ctx, ["0018"], {"from": ANCHOR})
    assert not missing.ok and "missing: 0018" in missing.detail


def test_database_state_and_width(anchored: SimpleNamespace) -> None:
    ctx = anchored.ctx
    assert run_probe("alembic.current_equals", ctx, ANCHOR, {}).ok
    assert run_probe("alembic.version_width", ctx, 64, {}).ok
    assert run_probe("alembic.width_fits", ctx, True, {}).ok
    with psycopg.connect(anchored.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0018'")
        conn.execute("ALTER TABLE alembic_version ALTER COLUMN version_num TYPE varchar(32)")
    current = run_probe("alembic.current_equals", ctx, ANCHOR, {})
    assert not current.ok and current.observed == "0018"
    width = run_probe("alembic.version_width", ctx, 64, {})
    assert not width.ok and width.observed == 32
    fits = run_probe("alembic.width_fits", ctx, True, {})
    assert not fits.ok and "StringDataRightTruncation" in fits.detail
    # and what the probe predicts is what Alembic does:
    stamp = _alembic(anchored.backend, anchored.env, "stamp", ANCHOR)
    assert stamp.returncode != 0 and "StringDataRightTruncation" in stamp.stderr


def test_objects_present_after_a_real_upgrade(anchored: SimpleNamespace) -> None:
    before = run_probe("db.objects_present", anchored.ctx, AI4_OBJECTS, {})
    assert not before.ok and set(before.observed.values()) == {"missing"}
    done = _alembic(anchored.backend, anchored.env, "upgrade", "head")
    assert done.returncode == 0, done.stderr
    after = run_probe("db.objects_present", anchored.ctx, AI4_OBJECTS, {})
    assert after.ok, after.detail
    assert after.observed["board_monitoring_briefs"] == "view"
    assert after.observed["active_investments"] == "table"
    assert run_probe("alembic.current_equals", anchored.ctx, HEAD, {}).ok


def test_structural_parity_identical_naming_only_and_drift(anchored: SimpleNamespace,
                                                           tmp_path: Path) -> None:
    snapshot = tmp_path / "anchor.json"
    done = cockpit("snapshot", "DATABASE_URL", env=anchored.env, inherit=False)
    assert done.returncode == 0, done.stderr
    snapshot.write_text(done.stdout)
    args = {"reference": str(snapshot)}
    same = run_probe("db.structural_parity", anchored.ctx, None, args)
    assert same.ok and "0 naming-only (accepted), 0 drift" in same.detail
    fk = "monthly_report_packs_fund_id_fkey"
    with psycopg.connect(anchored.conninfo, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE monthly_report_packs RENAME CONSTRAINT {fk} TO fk_mrp_fund")
        conn.execute("ALTER INDEX ix_facilities_fund_id RENAME TO ix_fac_fund")
    renamed = run_probe("db.structural_parity", anchored.ctx, None, args)
    assert renamed.ok, renamed.detail
    assert len(renamed.observed["naming_only"]) == 2 and "NAMING-ONLY" in renamed.detail
    with psycopg.connect(anchored.conninfo, autocommit=True) as conn:
        conn.execute("ALTER TABLE monthly_report_packs DROP CONSTRAINT fk_mrp_fund, ADD "
                     f"CONSTRAINT {fk} FOREIGN KEY (fund_id) REFERENCES funds(id)")
        conn.execute("ALTER TABLE investors ALTER COLUMN email SET NOT NULL")
        conn.execute("ALTER TYPE risk_level ADD VALUE 'critical'")
    drift = run_probe("db.structural_parity", anchored.ctx, None, args)
    assert not drift.ok
    text = " ".join(drift.observed["drift"])
    assert "definition differs" in text and "ON DELETE CASCADE" in text
    assert "column email" in text and "enum risk_level" in text


def test_unreachable_database_is_a_failed_check_with_its_cause(tmp_path: Path) -> None:
    backend = tmp_path / "backend"
    write_backend(backend)
    port = free_port()
    dead = {"DATABASE_URL": f"postgresql+psycopg://u:pw@127.0.0.1:{port}/db"}
    result = run_probe("alembic.current_equals", ProbeContext(backend, dead), HEAD, {})
    assert not result.ok and not result.reached
    assert result.detail.startswith(f"cannot connect with DATABASE_URL (u@127.0.0.1:{port}/db): "
                                    f"connection refused at 127.0.0.1:{port} — check that")
    unset = run_probe("db.objects_present", ProbeContext(backend, {}), ["x"], {})
    assert not unset.ok and unset.detail == "DATABASE_URL is not set" and not unset.reached


def test_wrong_password_is_named_without_the_password(tmp_path: Path,
                                                      pg_cluster: PgCluster) -> None:
    pg_cluster.create_role(role := f"r{os.getpid()}", "right-password")
    try:
        url = f"postgresql://{role}:WRONG-s3cret@127.0.0.1:{pg_cluster.port}/postgres"
        result = run_probe("env.dsn", ProbeContext(tmp_path, {"DATABASE_URL": url}), None,
                           {"var": "DATABASE_URL"})
        assert not result.ok and "authentication failed" in result.detail
        assert "WRONG-s3cret" not in result.detail
        # a plain TCP connection is refused as not TLS
        good = f"postgresql://{role}:right-password@127.0.0.1:{pg_cluster.port}/postgres"
        plain = run_probe("env.dsn", ProbeContext(tmp_path, {"DATABASE_URL": good}), None,
                          {"var": "DATABASE_URL", "require": {"sslmode": "require"}})
        assert not plain.ok and "lacks sslmode=require" in plain.detail
        assert "WITHOUT TLS" in plain.detail
    finally:
        with pg_cluster.admin() as conn:
            conn.execute(f'DROP ROLE "{role}"')


def test_git_commit_matches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    (repo / "a.txt").write_text("a\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "a"], ["tag", "clone-pass"]):
        subprocess.run([*git, *args], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    ctx = ProbeContext(repo, {})
    assert run_probe("git.commit_matches", ctx, "clone-pass", {}).ok
    assert run_probe("git.commit_matches", ctx, head.strip()[:10], {}).ok
    assert not run_probe("git.commit_matches", ctx, "other-tag", {}).ok
    (repo / "a.txt").write_text("changed\n")
    dirty = run_probe("git.commit_matches", ctx, "clone-pass", {})
    assert not dirty.ok and "uncommitted" in dirty.detail


def test_halt_diagnostics_name_who_blocks_whom(anchored: SimpleNamespace) -> None:
    holder = psycopg.connect(anchored.conninfo)
    holder.execute("LOCK TABLE facilities IN ACCESS EXCLUSIVE MODE")
    waiting = threading.Thread(target=lambda: _blocked_query(anchored.conninfo))
    waiting.start()
    try:
        for _ in range(50):
            diagnostics = pg_halt_diagnostics(SimpleNamespace(env=anchored.env,
                                                              redactor=Redactor()))
            if diagnostics and diagnostics["blocked"]:
                break
            threading.Event().wait(0.1)
        assert diagnostics is not None
        blocked = diagnostics["blocked"][0]
        assert blocked["blocked_by"] == [holder.info.backend_pid]
        assert "facilities" in blocked["query"]
        assert any(lock["rel"] == "facilities" and not lock["granted"]
                   for lock in diagnostics["pg_locks"])
    finally:
        holder.rollback()
        holder.close()
        waiting.join(10)


def _blocked_query(conninfo: str) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT count(*) FROM facilities")


def test_every_catalogued_probe_is_implemented() -> None:
    registry.load_builtin_probes()
    from cockpit.runbook.probes import PROBES

    assert {name for name, spec in PROBES.items() if not spec.gate_only} <= set(registry.REGISTRY)
    # the engine answers the rest, at the gate (engine/gates.py)
    assert {name for name, spec in PROBES.items() if spec.gate_only} == {
        "rehearsal.pass", "review.countersigned"}

"""The settings a runbook asks for, proven before GO through the DSN the steps use: a real
`cockpit run` against PgBouncer 1.18 in front of the suite's PostgreSQL. A transaction-mode
pooler is refused naming the server's own port (whether it refuses the startup options or
drops them); a pooler that drops the options is caught by the read-back, never assumed;
the role-defaults route goes GO, as does the server itself. No step starts on a NO-GO."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import psycopg

from cockpit.demo.pgcluster import PgCluster
from tests.engine.helpers import phase, ran, write_world
from tests.managed.conftest import Backend, Pooler, TlsPath, with_dsn_setup
from tests.run import cockpit

PY = shlex.quote(sys.executable)
SHOW = (f"{PY} -c \"import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']); "
        "print('lock', c.execute('show lock_timeout').fetchone()[0]); "
        "open('ran.txt', 'a').write('show\\\\n')\"")


def _world(tmp_path: Path, backend: Backend, port: int, role_route: bool = False) -> Path:
    runbook = write_world(tmp_path, [phase("P0", [("show", SHOW)])])
    with_dsn_setup(runbook, backend, port, section='timeouts_from = "role"\n' if role_route
                   else "")
    text = runbook.read_text()
    runbook.write_text(text.replace('log = "logs/show.log" }',
                                    'log = "logs/show.log", lock_timeout = "5s" }'))
    return runbook


def _run(tmp_path: Path, runbook: Path, backend: Backend, port: int):  # type: ignore[no-untyped-def]
    url = backend.url(port) + "?sslmode=require"
    return cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), env={"DATABASE_URL": url}, timeout=120)


def _resume(tmp_path: Path, backend: Backend, port: int):  # type: ignore[no-untyped-def]
    return cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes",
                   env={"DATABASE_URL": backend.url(port) + "?sslmode=require"}, timeout=120)


def _setup_detail(session: Path) -> str:
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    return [e["data"]["detail"] for e in events if e["type"] == "setup_checked"][-1]


def _refused_before_any_step(tmp_path: Path, runbook: Path, done) -> str:  # type: ignore[no-untyped-def]
    assert done.returncode == 3, done.stdout + done.stderr  # NO-GO, resumable
    assert "DECISION" not in done.stdout and "Traceback" not in done.stderr
    assert ran(runbook.parent) == []
    assert not (runbook.parent / "logs" / "show.log").exists()
    return _setup_detail(tmp_path / "s")


def test_the_server_itself_goes_and_the_step_gets_its_timeout(
        tmp_path: Path, backend: Backend, tls_server: TlsPath) -> None:
    """Direct to the server's own TLS; the embedded server (no OpenSSL) behind the demo's
    TLS terminator instead, which is something in between but no pooler."""
    runbook = _world(tmp_path, backend, tls_server.port)
    done = _run(tmp_path, runbook, backend, tls_server.port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DECISION: PASS" in done.stdout
    detail = _setup_detail(tmp_path / "s")
    if tls_server.proxied:
        assert (f"NOTE DATABASE_URL: something in between answers on port {tls_server.port}, "
                "the server on its local socket: a proxy that passes startup options on"
                in detail), detail
        assert "pooler on" not in detail
    else:
        assert f"DATABASE_URL: direct to the server (port {backend.port})" in detail
    assert ("DATABASE_URL: read back: lock_timeout 5000ms, application_name "
            "cockpit:gate-readback") in detail
    assert "lock 5s" in (runbook.parent / "logs" / "show.log").read_text()


def test_a_transaction_pooler_is_no_go_naming_the_servers_port(
        tmp_path: Path, backend: Backend, pgbouncer: Pooler) -> None:
    port = pgbouncer("transaction")
    runbook = _world(tmp_path, backend, port)
    done = _run(tmp_path, runbook, backend, port)
    detail = _refused_before_any_step(tmp_path, runbook, done)
    said = (f"DATABASE_URL reaches a transaction-mode connection pooler on port {port}")
    assert said in detail and f"connect to the server's port {backend.port}" in detail
    assert "setup dsn:" in done.stdout and said in done.stdout


def test_a_transaction_pooler_that_drops_the_options_is_no_go_too(
        tmp_path: Path, backend: Backend, pgbouncer: Pooler) -> None:
    port = pgbouncer("transaction", ignore_options=True)
    runbook = _world(tmp_path, backend, port)
    detail = _refused_before_any_step(tmp_path, runbook, _run(tmp_path, runbook, backend, port))
    assert f"transaction-mode connection pooler on port {port}" in detail


def test_a_pooler_that_drops_the_options_is_caught_by_the_read_back(
        tmp_path: Path, backend: Backend, pgbouncer: Pooler) -> None:
    """Session mode keeps the backend, so only the read-back can tell the timeout is 0."""
    port = pgbouncer("session", ignore_options=True)
    runbook = _world(tmp_path, backend, port)
    detail = _refused_before_any_step(tmp_path, runbook, _run(tmp_path, runbook, backend, port))
    assert ("DATABASE_URL: lock_timeout is 0ms, expected 5000ms — the settings did not take: "
            "a connection pooler dropped the startup options (PGOPTIONS)") in detail


def test_a_pooler_that_refuses_the_options_is_named(
        tmp_path: Path, backend: Backend, pgbouncer: Pooler) -> None:
    port = pgbouncer("session")
    runbook = _world(tmp_path, backend, port)
    detail = _refused_before_any_step(tmp_path, runbook, _run(tmp_path, runbook, backend, port))
    assert "a connection pooler refused the startup options (PGOPTIONS)" in detail
    assert "unsupported startup parameter: options" in detail


def test_the_role_defaults_route_through_a_session_pooler_goes_with_a_note(
        tmp_path: Path, backend: Backend, pgbouncer: Pooler) -> None:
    port = pgbouncer("session", ignore_options=True, admin=True)
    runbook = _world(tmp_path, backend, port, role_route=True)
    # Not yet set: NO-GO, and the statement the DBA runs is named.
    detail = _refused_before_any_step(tmp_path, runbook, _run(tmp_path, runbook, backend, port))
    statement = (f'ALTER ROLE "{backend.role}" IN DATABASE "{backend.database}" SET '
                 "lock_timeout = '5000ms';")
    assert "the role's defaults do not give them" in detail and statement in detail
    assert (f'ALTER ROLE "{backend.role}" IN DATABASE "{backend.database}" RESET '
            "lock_timeout;") in detail
    with psycopg.connect(backend.url(), autocommit=True) as conn:
        conn.execute(statement)
    # The pooler's server connections predate the statement and keep the old defaults (the
    # read-back says so until they are replaced): its admin console replaces them.
    still = _resume(tmp_path, backend, port)
    assert still.returncode == 3 and "lock_timeout is 0ms, expected 5000ms" in still.stdout
    assert "RECONNECT" in still.stdout
    console_url = backend.url(port).rsplit("/", 1)[0] + "/pgbouncer?sslmode=require"
    with psycopg.connect(console_url, autocommit=True) as console:
        console.execute("RECONNECT")
    done = _resume(tmp_path, backend, port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DECISION: PASS" in done.stdout
    detail = _setup_detail(tmp_path / "s")
    assert (f"NOTE DATABASE_URL: PgBouncer 1.18.0 in session mode answers on port {port}, the "
            f"server on its own port {backend.port}: it dropped the startup options") in detail
    assert "read back: lock_timeout 5000ms" in detail
    # the step's own connection, through the pooler, has the role's 5 s
    assert "lock 5s" in (runbook.parent / "logs" / "show.log").read_text()
    assert ran(runbook.parent) == ["show"]


def test_a_role_without_pg_read_all_stats_is_warned_naming_the_grant(
        tmp_path: Path, backend: Backend, tls_server: TlsPath, pg_cluster: PgCluster) -> None:
    runbook = _world(tmp_path, backend, tls_server.port)
    done = _run(tmp_path, runbook, backend, tls_server.port)
    assert done.returncode == 0, done.stdout + done.stderr  # a warning, not a NO-GO
    detail = _setup_detail(tmp_path / "s")
    grant = f'GRANT pg_read_all_stats TO "{backend.role}"'
    assert (f"WARNING role {backend.role} lacks pg_read_all_stats: the lock radar and the "
            "halt diagnostics will see <insufficient privilege>") in detail and grant in detail
    # said on GO, not only kept in the row
    assert f"  setup dsn: WARNING role {backend.role} lacks pg_read_all_stats" in done.stdout
    assert "DATABASE_URL: server: PostgreSQL " in detail
    assert "index builds report progress (pg_stat_progress_create_index)" in detail
    # the database is the role's own: it may create there and owns what is in it
    assert "cannot CREATE" not in detail and "does not own" not in detail
    report = cockpit("report", str(tmp_path / "s")).stdout
    assert grant in report
    with pg_cluster.admin() as admin:
        admin.execute(f'GRANT pg_read_all_stats TO "{backend.role}"')
    again = cockpit("run", str(runbook), "--headless", "--assume-yes",
                    "--session", str(tmp_path / "s2"),
                    env={"DATABASE_URL": backend.url(tls_server.port) + "?sslmode=require"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "WARNING" not in _setup_detail(tmp_path / "s2")


def test_each_warning_and_note_of_a_passed_check_is_found_whole(tmp_path: Path) -> None:
    from cockpit.runbook.loader import load_runbook
    from cockpit.session import rules
    from cockpit.session.state import GateState, SessionState

    runbook = load_runbook(_world(tmp_path, Backend(5432, "shop", "app", "x"), 5432))
    state = SessionState()
    state.setup["dsn"] = GateState(status="passed", detail=(
        "matches the template; V: verify-full: WARNING h1: the server certificate expires "
        "2027-01-01 00:00 UTC, 9 days after the window; h2: verified; NOTE V: PgBouncer 1.18.0 "
        "in session mode answers on port 6432: it dropped the startup options"))
    assert rules.setup_notes(runbook, state) == [
        ("dsn", "WARNING h1: the server certificate expires 2027-01-01 00:00 UTC, 9 days "
                "after the window"),
        ("dsn", "NOTE V: PgBouncer 1.18.0 in session mode answers on port 6432: it dropped the "
                "startup options")]
    state.setup["dsn"] = GateState(status="failed", detail="WARNING x")
    assert rules.setup_notes(runbook, state) == []  # a failed check is shown as failed

"""A pre-flight gate in a real headless run: a session the test holds idle in its transaction
keeps GO closed — resumable, nothing halted, the session named with its query masked — and
once it ends, `resume` checks again and goes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cockpit.demo.pgcluster import PgCluster
from tests.engine.helpers import cockpit, phase, write_world

SECRET = "Idle-tx-s3cret"
GATE = ('{ kind = "probe", id = "no-idle", text = "No session idle in a transaction", '
        'probe = "db.idle_in_transaction" },')


@pytest.fixture
def stats_role(pg_cluster: PgCluster) -> Iterator[str]:
    """A login role with the password SECRET that may read every session's activity."""
    name = f"dba_{uuid.uuid4().hex[:8]}"
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_read_all_stats")
                     .format(sql.Identifier(name), sql.Literal(SECRET)))
    yield name
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.system_slow  # two headless runs per server: the machine's own in the slow step
def test_an_idle_in_transaction_session_keeps_go_closed_until_it_ends(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str, stats_role: str) -> None:
    db = psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"]
    env = {"DATABASE_URL": f"postgresql://{stats_role}:{SECRET}@127.0.0.1:{pg_cluster.port}/{db}"}
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    text = runbook.read_text()
    runbook.write_text(text.replace("items = [\n", f"items = [\n  {GATE}\n", 1))
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n')
    idle = psycopg.connect(pg_db, application_name="billing-app")
    session = tmp_path / "session"
    try:
        # the application's session, idle in its transaction (a password in its query)
        idle.execute(f"SELECT '{SECRET}' AS pw, 1 AS one")
        done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                       "--session", str(session), env=env)
        assert done.returncode == 3, done.stdout + done.stderr  # waiting, not halted
        assert "NO-GO: 1 open: gate no-idle" in done.stdout
        assert f"pid {idle.info.backend_pid} billing-app (idle in transaction" in done.stdout
        events = (session / "events.jsonl").read_text()
        assert SECRET not in events and SECRET not in done.stdout
        gate = next(json.loads(line)["data"] for line in events.splitlines()
                    if '"gate_evaluated"' in line and '"no-idle"' in line)
        assert gate["observed"]["sessions"][0]["application_name"] == "billing-app"
        assert "***" in gate["observed"]["sessions"][0]["query"]
        assert '"halted"' not in events
    finally:
        idle.close()  # the operator ends it
    again = cockpit("resume", str(session), "--headless", "--answers", str(answers), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "GO: every gate is green" in again.stdout and "DECISION: PASS" in again.stdout

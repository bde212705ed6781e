"""Schema drift against the rehearsal: `db.structural_parity` with `rehearsal_step` compares
the database with the snapshot a step printed in the linked rehearsal — a real headless
rehearsal on a real PostgreSQL — and says `not checked` when no rehearsal is linked."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.db_probes import NOT_CHECKED_UNLINKED
from cockpit.probes.registry import ProbeContext, run_probe
from cockpit.runbook.loader import RunbookError, parse_runbook
from tests.engine.helpers import cockpit, phase, write_world
from tests.run import db_url

PARITY = ('  { kind = "check", id = "parity", text = "Schema as rehearsed", '
          'probe = "db.structural_parity", args = { rehearsal_step = "snap" } },')


@pytest.mark.system_slow  # a whole run per server: the machine's own in the slow step
def test_the_schema_is_compared_with_the_rehearsals_snapshot(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE entries (id int PRIMARY KEY, amount numeric)")
    env = {"DATABASE_URL": db_url(pg_cluster, pg_db)}
    runbook = write_world(tmp_path, [phase("P0", [
        ("snap", f"{shlex.quote(sys.executable)} -m cockpit snapshot DATABASE_URL")], extra=PARITY,
        read_only=True)])
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n')
    rehearsal = tmp_path / "rs"
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(rehearsal), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # the rehearsal itself had nothing to compare with, and says so
    assert "ok=True" in done.stdout and NOT_CHECKED_UNLINKED in done.stdout

    def parity() -> tuple[bool, object, str]:
        ctx = ProbeContext(workdir=runbook.parent, env=env, rehearsal=rehearsal)
        found = run_probe("db.structural_parity", ctx, None, {"rehearsal_step": "snap"})
        return found.ok, found.observed, found.detail

    ok, observed, detail = parity()
    assert ok, detail
    assert isinstance(observed, dict) and observed["drift"] == []
    assert observed["reference"]["step"] == "snap"
    with psycopg.connect(pg_db, autocommit=True) as conn:  # production drifted meanwhile
        conn.execute("ALTER TABLE entries ADD COLUMN note text")
    ok, observed, detail = parity()
    assert not ok and "DRIFT table entries column note" in detail
    # the rehearsal's log is evidence: a changed byte is refused, not compared
    log = next((rehearsal / "steps").rglob("*.log"))
    log.chmod(0o644)
    log.write_bytes(log.read_bytes().replace(b'"entries"', b'"entriez"'))
    ok, _observed, detail = parity()
    assert not ok and "changed since it was recorded" in detail


def test_a_parity_check_names_one_snapshot_and_a_step_that_exists() -> None:
    both = _RUNBOOK.replace("ARGS", 'reference = "s.json", rehearsal_step = "snap"')
    with pytest.raises(RunbookError) as caught:
        parse_runbook(both, "p.toml")
    assert "`reference` (a file) or `rehearsal_step`" in str(caught.value)
    missing = _RUNBOOK.replace("ARGS", 'rehearsal_step = "snapshot"')
    with pytest.raises(RunbookError) as caught:
        parse_runbook(missing, "p.toml")
    assert "phases[0].steps[1].args.rehearsal_step: 'snapshot' is no command step" in \
        str(caught.value)
    parse_runbook(_RUNBOOK.replace("ARGS", 'rehearsal_step = "snap"'), "p.toml")


_RUNBOOK = """
format = 1
id = "p"
title = "P"
production = false

[[phases]]
id = "P0"
heading = "P0"
steps = [
  { kind = "command", id = "snap", command = "cockpit snapshot DATABASE_URL", read_only = true },
  { kind = "check", id = "parity", text = "Schema as rehearsed", probe = "db.structural_parity", args = { ARGS } },
]
"""

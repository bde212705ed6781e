"""`cockpit init` writes the whole reference shape — the risk gate, the lock radar's rule on
the upgrade, lock and statement timeouts, the pre-flight probes, drift checks against the
rehearsal's snapshots — each with a comment saying why; and on a project whose revision
builds an index without CONCURRENTLY on a million rows, the gates say NO-GO naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.runbook.importer import import_checklist
from cockpit.runbook.loader import load_runbook, parse_runbook
from cockpit.runbook.model import AbortWatch, CheckStep, CommandStep, ProbeGate
from cockpit.runbook.render import render_markdown
from cockpit.runbook.starter import ProjectFacts, build_starter
from cockpit.runbook.validate import walk_items
from tests.engine.helpers import cockpit
from tests.runbook.test_init import attested_answers, make_project, tls_database

PREFLIGHT = ["db.long_transactions", "db.idle_in_transaction", "db.replica_lag",
             "db.connection_headroom", "db.lock_waiters"]
FACTS = ProjectFacts(name="ledger", workdir=".", heads=["b2_entries_account_idx"],
                     dsn="postgresql://app:pw@db.internal/ledger_prod?sslmode=require",
                     current=["a1_entries"], path=["b2_entries_account_idx"], git=True)


def test_init_writes_every_guard_and_says_why() -> None:
    starter = build_starter(FACTS)
    runbook = parse_runbook(starter.toml, "cutover.toml")  # it validates
    items = {item.id: item for _, item in walk_items(runbook)}
    gates = [g for g in runbook.gates.items if isinstance(g, ProbeGate)]  # type: ignore[union-attr]
    assert [g.probe for g in gates if g.probe.startswith("db.")] == PREFLIGHT
    assert "migration.risk" in [g.probe for g in gates]
    upgrade, watch = items["upgrade"], items["abort-watch"]
    assert isinstance(upgrade, CommandStep) and isinstance(watch, AbortWatch)
    queue = [r.id for r in runbook.abort_rules if r.kind == "lock_queue"]
    assert queue == ["lock-queue"]
    assert "lock-queue" in upgrade.abort_rules and "lock-queue" in watch.rules
    assert (upgrade.lock_timeout, upgrade.statement_timeout) == ("5s", "10min")
    parity = {s.id: s.args for s in items.values()
              if isinstance(s, CheckStep) and s.probe == "db.structural_parity"}
    assert parity == {"schema-as-rehearsed-before": {"rehearsal_step": "schema-before"},
                      "schema-as-rehearsed-after": {"rehearsal_step": "schema-after"}}
    assert runbook.setup is not None and runbook.setup.per_environment == ["workdir", "dsn"]
    # each guard's table has a comment right above it
    lines = starter.toml.splitlines()
    for guard in ["migration-risk", "no-long-transactions", "no-idle-in-transaction",
                  "replicas-caught-up", "connection-headroom", "no-lock-waiters", "upgrade",
                  "lock-queue", "schema-as-rehearsed-before", "schema-as-rehearsed-after"]:
        at = lines.index(f'id = "{guard}"')
        header = max(i for i in range(at) if lines[i].startswith("[["))
        assert lines[header - 1].startswith("# "), guard


def test_the_checklist_init_renders_imports_back_with_the_same_preflight_probes() -> None:
    runbook = build_starter(FACTS).runbook
    text = render_markdown(runbook)
    again = import_checklist(text, "cutover.md").runbook
    assert render_markdown(again) == text
    mine = {g.text: (g.probe, g.args) for g in runbook.gates.items  # type: ignore[union-attr]
            if isinstance(g, ProbeGate) and g.probe.startswith("db.")}
    theirs = {g.text: (g.probe, g.args) for g in again.gates.items  # type: ignore[union-attr]
              if isinstance(g, ProbeGate) and g.probe.startswith("db.")}
    assert theirs == mine and len(mine) == 5


def _index(concurrently: bool) -> str:
    if not concurrently:
        return 'op.create_index("entries_account_idx", "entries", ["account"])'
    return ("with op.get_context().autocommit_block():\n        op.create_index("
            '"entries_account_idx", "entries", ["account"], postgresql_concurrently=True)')


def _ledger(tmp_path: Path, pg_cluster: PgCluster, name: str, dsn: str,
            concurrently: bool) -> tuple[Path, dict[str, str], str]:
    """A project whose second revision indexes `entries`, a database at the first one with a
    million rows in it (analysed: the gate weighs the planner's estimate), and the answers
    a headless run needs."""
    project = make_project(tmp_path, [
        ("a1_entries", None, 'op.create_table("entries", sa.Column("id", sa.Integer, '
                             'primary_key=True), sa.Column("account", sa.Integer))'),
        ("b2_entries_account_idx", "a1_entries", _index(concurrently)),
    ])
    env = {"DATABASE_URL": dsn}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "a1_entries"],
                          cwd=project, capture_output=True, text=True,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    with psycopg.connect(pg_cluster.socket_conninfo(name), autocommit=True) as conn:
        conn.execute("INSERT INTO entries SELECT g, g % 1000 "
                     "FROM generate_series(1, 1000000) g")
        conn.execute("ANALYZE entries")
    made = cockpit("init", str(project), "-o", str(project / "cutover.toml"), env=env)
    assert made.returncode == 0, made.stderr
    answers = attested_answers(project, tmp_path, "b2_entries_account_idx",
                               halt='[halt]\nhalt-escalate = "INC-7: governance and the DBA told"\n')
    return project, env, str(answers)


@pytest.mark.slow  # a million rows, init and a run to the gates: well over 10 s
def test_init_on_an_index_without_concurrently_on_a_million_rows_is_no_go_naming_it(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    name = "ledger_nogo"
    with tls_database(pg_cluster, tmp_path, name) as dsn:
        project, env, answers = _ledger(tmp_path, pg_cluster, name, dsn, concurrently=False)
        assert cockpit("validate", str(project / "cutover.toml")).returncode == 0
        session = tmp_path / "session"
        done = cockpit("run", str(project / "cutover.toml"), "--environment", "production", "--headless", "--answers",
                       answers, "--session", str(session), env=env, timeout=300)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    nogo = next(line for line in done.stdout.splitlines() if line.startswith("NO-GO"))
    assert "migration-risk" in nogo
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    risk = next(e["data"] for e in events if e["type"] == "gate_evaluated"
                and e["data"]["gate"] == "migration-risk")
    assert not risk["ok"] and "b2_entries_account_idx" in risk["detail"]
    assert "entries" in risk["detail"]
    assert not any(e["type"] == "step_started" for e in events)  # nothing ran
    preflight = [e["data"] for e in events if e["type"] == "gate_evaluated"
                 and e["data"]["gate"] in ("no-long-transactions", "no-idle-in-transaction",
                                           "replicas-caught-up", "connection-headroom",
                                           "no-lock-waiters")]
    assert len(preflight) == 5 and all(p["ok"] for p in preflight), preflight


@pytest.mark.slow  # a million rows, an index build and a whole run
def test_init_with_concurrently_goes_and_runs_to_pass(tmp_path: Path,
                                                      pg_cluster: PgCluster) -> None:
    name = "ledger_go"
    with tls_database(pg_cluster, tmp_path, name) as dsn:
        project, env, answers = _ledger(tmp_path, pg_cluster, name, dsn, concurrently=True)
        session = tmp_path / "session"
        done = cockpit("run", str(project / "cutover.toml"), "--environment", "production", "--headless", "--answers",
                       answers, "--session", str(session), env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "GO: every gate is green" in done.stdout
    decision = json.loads((session / "evidence" / "decision.json").read_text())
    assert decision["fields"]["status"] == "PASS"
    assert decision["fields"]["final_revision"] == "b2_entries_account_idx"
    # no rehearsal was linked: the drift checks say so, and so does the record
    assert decision["fields"]["drift"].startswith("not checked")
    assert load_runbook(project / "cutover.toml").production


@pytest.mark.slow  # init, a rehearsal and a linked cutover: three runs
def test_the_drift_checks_compare_with_the_linked_rehearsals_snapshots(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    project = make_project(tmp_path)  # three revisions; "production" stands at the first
    with tls_database(pg_cluster, tmp_path, "billing_rehearsed") as dsn:
        env = {"DATABASE_URL": dsn}

        def alembic(*args: str) -> None:
            done = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=project,
                                  capture_output=True, text=True, env={**os.environ, **env})
            assert done.returncode == 0, done.stderr

        alembic("upgrade", "a1_customers")
        runbook = project / "cutover.toml"
        assert cockpit("init", str(project), "-o", str(runbook), env=env).returncode == 0
        (project / "cutover").mkdir()
        for attested in ("write_freeze_attestation.log", "pitr_window_attestation.log"):
            (project / "cutover" / attested).write_text("attested by the DBA on duty\n")
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, check=True,
                                capture_output=True, text=True).stdout.strip()
        common = textwrap.dedent('''\
            [confirm]
            upgrade = "c3_invoices"
            [manual]
            preflight-reviewed = "read it"
            [decision]
            risk_tier = "low"
            authorization = "authorized"
            ''')
        answers = tmp_path / "answers.toml"
        answers.write_text('[gates]\ngovernance-signoff = "GOV-7"\nmaintenance-window = '
                           f'"CHG-7, now until +2h"\nrehearsed-commit = "{commit}"\n{common}')
        rehearsal = tmp_path / "rehearsal"
        done = cockpit("run", str(runbook), "--environment", "production", "--headless", "--answers", str(answers),
                       "--session", str(rehearsal), env=env, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        first = json.loads((rehearsal / "evidence" / "decision.json").read_text())
        assert first["fields"]["drift"] == "not checked (no rehearsal linked)"

        # production as it stood: the rehearsal's clone before its upgrade
        with psycopg.connect(pg_cluster.socket_conninfo("billing_rehearsed"),
                             autocommit=True) as conn:
            conn.execute("DROP TABLE invoices, orders")
            conn.execute("UPDATE alembic_version SET version_num = 'a1_customers'")
        linked = tmp_path / "answers-linked.toml"
        linked.write_text('[gates]\ngovernance-signoff = "GOV-8"\nmaintenance-window = '
                          f'"CHG-8, now until +2h"\n{common}')
        cutover = tmp_path / "cutover-session"
        done = cockpit("run", str(runbook), "--environment", "production", "--headless", "--answers", str(linked),
                       "--session", str(cutover), "--rehearsal", str(rehearsal), env=env,
                       timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    decision = json.loads((cutover / "evidence" / "decision.json").read_text())
    assert decision["fields"]["drift"] == "none"
    events = [json.loads(line) for line in (cutover / "events.jsonl").read_text().splitlines()]
    checks = {e["data"]["step"]: e["data"] for e in events if e["type"] == "check_evaluated"}
    for step, snapshot in (("schema-as-rehearsed-before", "schema-before"),
                           ("schema-as-rehearsed-after", "schema-after")):
        assert checks[step]["ok"], checks[step]
        assert checks[step]["observed"]["reference"]["step"] == snapshot
        assert checks[step]["observed"]["reference"]["rehearsal"] == "rehearsal"

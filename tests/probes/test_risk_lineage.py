"""The risk gate holds on a real lineage: locks taken through an index weighed against its
table's live size (500,000 rows in a real PostgreSQL), what a failing revision rendered
before failing analysed, the path taken to the upgrade step's own target, style findings
told apart and excludable, and the locks one transaction holds to its end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.registry import ProbeContext, run_probe
from cockpit.probes.risk import Limits, Size, assess, render_offline
from cockpit.probes.risklocks import IndexResolver, held_to_end
from cockpit.probes.sqlrisk import RevisionSQL, Statement, statements
from tests.engine.helpers import cockpit, phase, write_world
from tests.probes.test_risk import ENV_PY, REVISION
from tests.run import db_url

READ = '    op.get_bind().execute(sa.text("SELECT 1")).fetchall()  # fails offline'
LEDGER = [
    ("m1", None, ['CREATE TABLE metrics (id bigserial PRIMARY KEY, key text, step bigint, '
                  'value float8)',
                  "CREATE INDEX ix_metrics_key ON metrics (key)",
                  "CREATE INDEX ix_metrics_step ON metrics (step)",
                  "CREATE TABLE params (id bigserial PRIMARY KEY, key text)"]),
    ("m2", "m1", ["DROP INDEX ix_metrics_key"]),
    ("m3_reads", "m2", ["ALTER TABLE params ADD COLUMN note text",
                        "CREATE INDEX ix_params_key ON params (key)", READ,
                        "ALTER TABLE params ADD COLUMN after_read int"]),
    ("m4", "m3_reads", ["CREATE TABLE runs (id int PRIMARY KEY, name varchar(100))",
                        "REINDEX INDEX ix_metrics_step"]),
    ("m5", "m4", ["ALTER INDEX ix_metrics_step SET (fillfactor = 80)",
                  "CREATE INDEX ix_runs_name ON runs (name)", "DROP INDEX ix_runs_name"]),
]
ROWS = 500_000


def write_ledger(root: Path, env_py: str = ENV_PY) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "env.py").write_text(env_py)
    for rev, down, sql in LEDGER:
        body = "\n".join(line if line == READ else f"    op.execute({line!r})" for line in sql)
        (versions / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down, body=body))
    return root


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster) -> SimpleNamespace:
    """The ledger at m1 for real, `metrics` filled with 500,000 rows and analysed."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    conninfo = pg_cluster.socket_conninfo(name)
    project = write_ledger(tmp_path_factory.mktemp("ledger") / "project")
    env = {**os.environ, "DATABASE_URL": db_url(pg_cluster, conninfo)}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "m1"], cwd=project,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"INSERT INTO metrics (key, step, value) SELECT 'k' || (g % 100), g, g "
                     f"FROM generate_series(1, {ROWS}) g")
        conn.execute("ANALYZE metrics")
    return SimpleNamespace(project=project, env=env)


def _probe(ledger: SimpleNamespace, commands: tuple[tuple[str, str], ...] = (),
           **args: Any) -> tuple[bool, str, dict[str, Any], str]:
    ctx = ProbeContext(workdir=ledger.project, env=ledger.env, commands=commands)
    result = run_probe("migration.risk", ctx, None, {"from": "m1", **args})
    assert result.reached, result.detail
    files = dict(result.files)
    return (result.ok, result.detail, json.loads(files["migration-risk.json"]),
            files["migration-risk.md"].decode())


@pytest.fixture(scope="module")
def full(ledger: SimpleNamespace) -> SimpleNamespace:
    """The whole path m1 → m5, judged once for the tests that read it."""
    ok, detail, report, markdown = _probe(ledger, to="heads")
    return SimpleNamespace(ok=ok, detail=detail, report=report, markdown=markdown,
                           findings=report["findings"])


def _found(findings: list[dict[str, Any]], revision: str, rule: str) -> dict[str, Any]:
    matches = [f for f in findings if f["revision"] == revision and f["rule"] == rule]
    assert matches, [(f["revision"], f["rule"]) for f in findings]
    return matches[0]


def test_a_drop_index_without_concurrently_on_a_big_table_is_no_go_naming_table_and_size(
        full: SimpleNamespace) -> None:
    dropped = _found(full.findings, "m2", "index-drop-locks-table")
    assert (dropped["table"], dropped["lock"], dropped["severity"]) == (
        "public.metrics", "ACCESS EXCLUSIVE", "error")
    assert dropped["rows"] >= ROWS * 0.9 and "ix_metrics_key" in dropped["message"]
    assert not full.ok
    assert "m2 index-drop-locks-table on public.metrics (" in full.detail


def test_reindex_and_alter_index_are_weighed_against_the_indexs_table(
        full: SimpleNamespace) -> None:
    reindex = _found(full.findings, "m4", "reindex-without-concurrently")
    assert (reindex["table"], reindex["lock"], reindex["severity"]) == (
        "public.metrics", "SHARE", "error")
    # SET (fillfactor) takes SHARE UPDATE EXCLUSIVE: no one waits; an index the path builds
    # on a table it creates holds nothing anyone waits for
    cockpit_m5 = [f for f in full.findings if f["revision"] == "m5" and f["source"] == "cockpit"]
    assert cockpit_m5 == []


def test_what_a_failing_revision_rendered_before_it_failed_is_analysed(
        full: SimpleNamespace) -> None:
    rules = {f["rule"]: f for f in full.findings if f["revision"] == "m3_reads"}
    assert rules["access-exclusive-lock"]["table"] == "public.params"  # ADD COLUMN note
    assert rules["index-without-concurrently"]["table"] == "public.params"
    assert "require-concurrent-index-creation" in rules  # squawk read it too
    # what it could not render blocks, and says so in its severity
    assert rules["not-analysable-offline"]["severity"] == "error"
    assert all(f["severity"] == "error" for f in full.findings
               if f["rule"] == "not-analysable-offline")


def test_style_findings_are_marked_apart_from_lock_findings(full: SimpleNamespace) -> None:
    kinds = {f["rule"]: f["kind"] for f in full.findings}
    assert kinds["prefer-bigint-over-int"] == "style"
    assert kinds["prefer-text-field"] == "style"
    assert kinds["require-concurrent-index-creation"] == "lock"
    assert kinds["index-drop-locks-table"] == "lock"
    assert full.report["totals"]["style"] == sum(k == "style" for k in
                                                 (f["kind"] for f in full.findings))


def test_one_transaction_and_the_locks_it_holds_to_its_end(full: SimpleNamespace) -> None:
    transaction = full.report["transaction"]
    assert transaction["one_transaction"] is True
    held = {h["table"]: h for h in transaction["held_to_end"]}
    # an upgrade with a revision that fails offline is rendered in two runs: the lock m2
    # takes on metrics is held through m5 all the same (nothing commits between)
    assert held["public.metrics"]["lock"] == "ACCESS EXCLUSIVE"
    assert (held["public.metrics"]["revision"], held["public.metrics"]["through"],
            held["public.metrics"]["revisions_held"]) == ("m2", "m5", 4)
    assert held["public.metrics"]["rows"] >= ROWS * 0.9
    assert "public.runs" not in held  # created by the upgrade: no one waits for it
    assert "**The upgrade runs as one transaction**" in full.markdown
    assert "- ACCESS EXCLUSIVE on public.metrics from m2 through m5 (4 revision(s))" in \
        full.markdown


def test_no_reason_is_cut_in_the_report(full: SimpleNamespace) -> None:
    long = [f for f in full.findings if len(f["message"]) > 160]
    assert long, "the lineage gives no long reason to check"
    for finding in full.findings:
        assert finding["message"].replace("|", "\\|") in full.markdown


def test_per_migration_transactions_hold_nothing_to_the_end(tmp_path: Path) -> None:
    env_py = ENV_PY.replace("literal_binds=True)", "literal_binds=True, "
                            "transaction_per_migration=True)")
    project = write_ledger(tmp_path / "project", env_py)
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://u@localhost/offline"}
    path = ["m2", "m3_reads", "m4", "m5"]
    parts, failed, one = render_offline(project, "m1", "heads", env, path)
    assert one is False and list(failed) == ["m3_reads"]
    assert [p.revision for p in parts] == path
    parts, failed, one = render_offline(write_ledger(tmp_path / "one"), "m1", "heads", env, path)
    assert one is True


def test_the_gate_analyses_the_path_to_the_upgrade_steps_own_target(
        ledger: SimpleNamespace) -> None:
    ok, detail, report, _ = _probe(ledger, (("current", "alembic current"),
                                            ("upgrade", "alembic upgrade m2")))
    assert (report["to"], report["path"]) == ("m2", ["m2"])
    assert not ok and "m2 index-drop-locks-table" in detail
    ctx = ProbeContext(workdir=ledger.project, env=ledger.env,
                       commands=(("upgrade", "alembic upgrade m3_raeds"),))
    typo = run_probe("migration.risk", ctx, None, {"from": "m1"})
    assert not typo.ok and typo.detail == ("step 'upgrade': `alembic upgrade m3_raeds`: "
                                           "'m3_raeds' is no revision or branch of the "
                                           "lineage; did you mean m3_reads?")


def test_a_runbook_excludes_squawk_rules_by_name(ledger: SimpleNamespace) -> None:
    _, _, report, _ = _probe(ledger, to="m4", exclude_rules=["prefer-text-field"])
    rules = {f["rule"] for f in report["findings"]}
    assert "prefer-text-field" not in rules and "prefer-bigint-over-int" in rules
    assert report["excluded_by_runbook"] == ["prefer-text-field"]
    assert "prefer-text-field" in report["excluded_rules"]


RISK_GATE = ('  { kind = "probe", id = "risk", text = "Migration risk reviewed", '
             'probe = "migration.risk", args = { exclude_rules = [RULES] } },\n')


@pytest.mark.parametrize(("rules", "refused"), [
    ('"prefer-text-field", "prefer-bigint-over-int"', None),
    ('"prefer-text-feld"', "squawk has no rule 'prefer-text-feld'; did you mean "
                           "prefer-text-field?"),
])
def test_validate_refuses_an_excluded_rule_squawk_does_not_have(
        tmp_path: Path, rules: str, refused: str | None) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    freeze = 'path = "freeze.log" },\n'
    runbook.write_text(runbook.read_text().replace(
        freeze, freeze + RISK_GATE.replace("RULES", rules), 1))
    done = cockpit("validate", str(runbook))
    if refused is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 1 and refused in done.stderr, done.stderr
        assert "gates.items[2].args.exclude_rules[0]" in done.stderr


@pytest.mark.parametrize(("sql", "lock", "indexes", "flags"), [
    ("DROP INDEX a, s.b", "ACCESS EXCLUSIVE", ("a", "s.b"), ("index-drop-locks-table",)),
    ("DROP INDEX CONCURRENTLY a", "SHARE UPDATE EXCLUSIVE", ("a",), ()),
    ("ALTER INDEX a SET TABLESPACE fast", "ACCESS EXCLUSIVE", ("a",), ()),
    ("ALTER INDEX a SET (fillfactor = 80)", "SHARE UPDATE EXCLUSIVE", ("a",), ()),
    ("ALTER INDEX a RENAME TO b", "SHARE UPDATE EXCLUSIVE", ("a",), ()),
    ("REINDEX INDEX s.a", "SHARE", ("s.a",), ("reindex-without-concurrently",)),
    ("REINDEX INDEX CONCURRENTLY a", "SHARE UPDATE EXCLUSIVE", ("a",), ()),
])
def test_a_statement_naming_only_an_index_locks_the_indexs_table(
        sql: str, lock: str, indexes: tuple[str, ...], flags: tuple[str, ...]) -> None:
    (stmt,) = statements(sql)
    assert (stmt.table, stmt.lock, stmt.indexes, stmt.flags) == (None, lock, indexes, flags)


def test_cluster_using_an_index_locks_its_table_and_create_index_names_what_it_builds() -> None:
    (cluster,) = statements("CLUSTER metrics USING ix_metrics_key")
    assert (cluster.table, cluster.lock) == ("metrics", "ACCESS EXCLUSIVE")
    (built,) = statements("CREATE INDEX ix ON s.metrics (key)")
    assert (built.table, built.builds) == ("s.metrics", "s.ix")


def test_an_index_found_nowhere_is_named_unweighed_and_one_the_path_built_is_its_tables(
        ) -> None:
    sql = ("CREATE INDEX ix_big ON big (a);\nDROP INDEX ix_big;\nDROP INDEX ghost;\n")
    parts = [RevisionSQL("r9", "r8", sql)]
    sizes = {"public.big": Size(rows=900_000, bytes=1 << 20)}
    findings = assess(parts, {}, {"r9": statements(sql)}, {}, sizes, Limits(), "public", ["r9"],
                      IndexResolver({}, "public"))
    dropped = [f for f in findings if f.rule == "index-drop-locks-table"]
    assert [(f.table, f.severity) for f in dropped] == [("public.big", "error"), (None, "warning")]
    assert "neither in the catalog nor created earlier on the path" in dropped[1].message


def test_an_autocommit_commit_releases_the_locks_taken_before_it() -> None:
    first = "ALTER TABLE a ADD COLUMN x int;\nLOCK TABLE b IN SHARE MODE;\n"
    second = ("COMMIT;\nCREATE INDEX CONCURRENTLY ic ON c (x);\nBEGIN;\n"
              "ALTER TABLE b ADD COLUMN y int;\n")
    parts = [RevisionSQL("r1", "", first), RevisionSQL("r2", "r1", second),
             RevisionSQL("r3", "r2", "SELECT 1;\n")]
    parsed: dict[str, list[Statement] | str] = {p.revision: statements(p.sql) for p in parts}

    def tables(stmt: Statement) -> list[tuple[str, str | None]]:
        return [(f"public.{t}", lock) for t, lock in ((stmt.table, stmt.lock), *stmt.also) if t]

    held = held_to_end(parts, parsed, tables, lambda t: False, "public")
    assert [(h.table, h.lock, h.revision, h.through, h.revisions_held) for h in held] == [
        ("public.b", "ACCESS EXCLUSIVE", "r2", "r3", 2)]

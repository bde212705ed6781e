"""`migration.risk` on a real Alembic project with known hazards, rendered offline by
Alembic as a subprocess, linted by squawk, its locks read by pglast and weighed against a
real PostgreSQL (embedded, and the machine's own where present)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from cockpit.demo.lineage import ANCHOR, HEAD, write_backend
from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.registry import ProbeContext, run_probe
from cockpit.probes.retryable import last_revision_run, retryability
from cockpit.probes.risk import Limits, Size, assess, table_sizes
from cockpit.probes.riskreport import report_markdown
from cockpit.probes.sqlrisk import RevisionSQL, Statement, split_revisions, statements
from cockpit.runbook.model import Waiver
from tests.engine.helpers import cockpit, phase, write_world
from tests.run import db_url

ENV_PY = '''import os
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

def offline():
    context.configure(url=os.environ["DATABASE_URL"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()

def online():
    engine = create_engine(os.environ["DATABASE_URL"], poolclass=NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()

offline() if context.is_offline_mode() else online()
'''

REVISION = '''"""{rev}"""
from alembic import op
import sqlalchemy as sa

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{body}
'''

# r1 creates the table the later ones touch; the test fills it between r1 and the rest
HAZARDS = [
    ("r1", None, '    op.execute("CREATE TABLE accounts (id bigserial PRIMARY KEY, email text)")\n'
                 '    op.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, body text)")'),
    ("r2", "r1", '    op.execute("CREATE INDEX ix_accounts_email ON accounts (email)")'),
    ("r3", "r2", '    op.execute("ALTER TABLE accounts ADD COLUMN flag boolean")\n'
                 '    op.execute("CREATE TABLE audit (id bigserial PRIMARY KEY)")\n'
                 '    op.execute("CREATE INDEX ix_audit ON audit (id)")'),
    ("r4_reads_data", "r3", '    rows = op.get_bind().execute(sa.text("SELECT 1")).fetchall()\n'
                            '    op.execute("ALTER TABLE notes ADD COLUMN n int")'),
    ("r5", "r4_reads_data",
     '    with op.get_context().autocommit_block():  # data outside the transaction\n'
     '        op.execute("CREATE INDEX CONCURRENTLY ix_notes_body ON notes (body)")\n'
     '        op.execute("INSERT INTO notes (body) VALUES (\'seed\')")\n'
     '    op.execute("ALTER TABLE notes ADD COLUMN m int")'),
]


def alembic_project(root: Path,
                    revisions: Sequence[tuple[str, Any, str]] = HAZARDS) -> Path:
    """An Alembic project in `root`: alembic.ini, env.py (DATABASE_URL) and one file per
    (revision, down revision, upgrade body)."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "env.py").write_text(ENV_PY)
    for rev, down, body in revisions:
        (versions / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down, body=body))
    return root


@pytest.fixture(scope="module")
def hazards(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster) -> SimpleNamespace:
    """The project at r1 for real, `accounts` filled past the default row limit and
    analysed (the planner's estimate is what the probe reads). Once per server: the probe
    only reads."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    pg_db = pg_cluster.socket_conninfo(name)
    project = alembic_project(tmp_path_factory.mktemp("hazards") / "project")
    env = {**os.environ, "DATABASE_URL": db_url(pg_cluster, pg_db)}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "r1"], cwd=project,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("INSERT INTO accounts (email) SELECT 'u' || g || '@x' "
                     "FROM generate_series(1, 120000) g")
        conn.execute("ANALYZE accounts")
        # no revision touches it: for the size of a partitioned table
        conn.execute("CREATE TABLE ledger (id int) PARTITION BY RANGE (id)")
        conn.execute("CREATE TABLE ledger_a PARTITION OF ledger FOR VALUES FROM (0) TO (100000)")
        conn.execute("CREATE TABLE ledger_b PARTITION OF ledger FOR VALUES FROM (100000) TO "
                     "(1000000)")
        conn.execute("INSERT INTO ledger SELECT g FROM generate_series(1, 150000) g")
        conn.execute("ANALYZE ledger_a")
        conn.execute("ANALYZE ledger_b")
    return SimpleNamespace(project=project, env=env)


def _probe(hazards: SimpleNamespace, tmp_path: Path, waivers: tuple[Waiver, ...] = (),
           **args: object) -> tuple[bool, str, dict[str, object], list[dict[str, object]]]:
    ctx = ProbeContext(workdir=hazards.project, env=hazards.env, waivers=waivers)
    result = run_probe("migration.risk", ctx, None, {"from": "r1", **args})
    assert result.reached, result.detail
    files = dict(result.files)
    report = json.loads(files["migration-risk.json"])
    assert "## r2" in files["migration-risk.md"].decode()
    return result.ok, result.detail, report, report["findings"]


def _rules(findings: list[dict[str, object]]) -> dict[tuple[object, object], object]:
    return {(f["revision"], f["rule"]): f["severity"] for f in findings
            if f["source"] == "cockpit"}


def test_each_revision_is_judged_on_its_own_against_the_live_table_size(
        hazards: SimpleNamespace, tmp_path: Path) -> None:
    ok, detail, report, findings = _probe(hazards, tmp_path)
    assert report["path"] == ["r2", "r3", "r4_reads_data", "r5"]
    rules = _rules(findings)
    # a SHARE lock for the index build on a table of 120,000 rows: an error
    assert rules[("r2", "index-without-concurrently")] == "error"
    # ACCESS EXCLUSIVE on the same table: an error too, however brief the change
    assert rules[("r3", "access-exclusive-lock")] == "error"
    # the table r3 creates holds nothing anyone waits for: no finding on it
    assert not any(f["table"] == "public.audit" for f in findings)
    # reading data offline fails: named, not a crash, and the rendering goes on after it
    assert ("r4_reads_data", "not-analysable-offline") in rules
    assert ("r5", "non-atomic-revision") in rules
    index = next(f for f in findings if f["rule"] == "index-without-concurrently")
    assert index["table"] == "public.accounts" and index["rows"] >= 100_000
    assert index["lock"] == "SHARE" and index["line"] == 2
    assert any(f["source"] == "squawk" and f["rule"] == "require-concurrent-index-creation"
               and f["revision"] == "r2" for f in findings)
    assert not ok and "r2 index-without-concurrently on public.accounts" in detail
    assert "[[waivers]]" in detail
    # a lock timeout may be retried up to the first revision that cannot be told or that
    # commits part way (r4 is not rendered whole offline; r5 has an autocommit block)
    told = {r["revision"]: (r["retryable"], r["why"]) for r in report["retryable"]}
    assert [told[r][0] for r in report["path"]] == [True, True, False, False]
    assert told["r4_reads_data"][1].startswith("r4_reads_data: its offline SQL could not")
    assert told["r5"][1] == "r5: it runs after r4_reads_data, which can leave a partial change"
    page = report_markdown(report)
    assert "Retryable on a lock timeout: no (r4_reads_data: its offline SQL" in page
    # what undoing each takes (these revisions have no downgrade at all)
    undo = {r["revision"]: r["said"] for r in report["reversal"]}
    assert list(undo) == report["path"]
    assert all(said.startswith("no downgrade offline (AttributeError") for said in undo.values())
    assert "Reversal: no downgrade offline (" in page


def test_a_table_under_the_limits_makes_warnings_only(hazards: SimpleNamespace,
                                                      tmp_path: Path) -> None:
    _, _, _, findings = _probe(hazards, tmp_path, max_rows=1_000_000)
    rules = _rules(findings)
    assert rules[("r2", "index-without-concurrently")] == "warning"
    assert rules[("r3", "access-exclusive-lock")] == "warning"


@pytest.mark.system_slow
def test_waivers_open_the_gate_and_are_recorded_with_who_and_why(hazards: SimpleNamespace,
                                                                   tmp_path: Path) -> None:
    waivers = (
        Waiver(revision="r2", rule="index-without-concurrently", reason="built at night",
               approved_by="DBA lead"),
        Waiver(revision="r3", rule="access-exclusive-lock", reason="metadata only",
               approved_by="DBA lead"),
        Waiver(revision="r4", rule="not-analysable-offline", reason="reads one row",
               approved_by="DBA lead"),
    )
    ok, detail, _, findings = _probe(hazards, tmp_path, waivers)
    assert not ok and "r5 non-atomic-revision" in detail  # one left, named
    waivers += (Waiver(revision="r5", rule="non-atomic-revision", reason="index only",
                       approved_by="DBA lead"),)
    ok, detail, report, findings = _probe(hazards, tmp_path, waivers)
    assert ok and report["totals"]["blocking"] == 0, detail
    waived = next(f for f in findings if f["rule"] == "index-without-concurrently")
    assert waived["waived"] == {"reason": "built at night", "approved_by": "DBA lead"}


def test_the_demo_lineage_from_its_anchor_branch_and_merge_included(tmp_path: Path) -> None:
    """Offline, as the operator's Alembic renders it: the path from the anchor to the
    merge head, the branch 0009b that left the trunk before the anchor included."""
    backend = tmp_path / "backend"
    write_backend(backend)
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://u@localhost/offline"}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", f"{ANCHOR}:{HEAD}",
                           "--sql"], cwd=backend, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    parts = split_revisions(done.stdout)
    assert [p.revision for p in parts] == ["0009b", "0020", "0021", "0022", "0023", HEAD]
    assert parts[-1].down == "0023, 0009b"
    assert "COMMIT" not in parts[-1].sql  # the upgrade's own COMMIT is no revision's
    facilities = [s for s in statements(parts[1].sql) if s.table == "facilities"]
    assert facilities[0].lock == "ACCESS EXCLUSIVE"


@pytest.mark.parametrize(("sql", "lock", "flags"), [
    ("CREATE INDEX i ON t (a)", "SHARE", ("index-without-concurrently",)),
    ("CREATE INDEX CONCURRENTLY i ON t (a)", "SHARE UPDATE EXCLUSIVE", ()),
    ("ALTER TABLE t ADD COLUMN c int", "ACCESS EXCLUSIVE", ()),
    ("ALTER TABLE t ALTER COLUMN c TYPE bigint", "ACCESS EXCLUSIVE", ("column-type-change",)),
    ("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)",
     "SHARE ROW EXCLUSIVE", ("constraint-validation",)),
    ("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID",
     "SHARE ROW EXCLUSIVE", ()),
    ("ALTER TABLE t VALIDATE CONSTRAINT f", "SHARE UPDATE EXCLUSIVE", ("constraint-validation",)),
    ("ALTER TABLE t ALTER COLUMN c SET NOT NULL", "ACCESS EXCLUSIVE", ("constraint-validation",)),
    ("ALTER TABLE t RENAME TO u", "ACCESS EXCLUSIVE", ()),
    ("DROP TABLE t", "ACCESS EXCLUSIVE", ()),
    ("UPDATE t SET a = 1", "ROW EXCLUSIVE", ()),
    ("LOCK TABLE t IN SHARE MODE", "SHARE", ()),
])
def test_the_lock_each_statement_takes(sql: str, lock: str, flags: tuple[str, ...]) -> None:
    (stmt,) = statements(sql)
    assert (stmt.lock, stmt.flags) == (lock, flags)
    assert stmt.table == "t"


@pytest.mark.parametrize(("sql", "table", "lock", "also"), [
    ("ALTER INDEX i RENAME TO j", None, "SHARE UPDATE EXCLUSIVE", ()),  # PostgreSQL 12 on
    ("TRUNCATE small, big", "small", "ACCESS EXCLUSIVE", (("big", "ACCESS EXCLUSIVE"),)),
    ("ALTER TABLE n ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES big (id) NOT VALID",
     "n", "SHARE ROW EXCLUSIVE", (("big", "SHARE ROW EXCLUSIVE"),)),
    ("CREATE TABLE n (id int, a int REFERENCES big (id))", None, None,
     (("big", "SHARE ROW EXCLUSIVE"),)),
    ("CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "t",
     "SHARE ROW EXCLUSIVE", ()),
    ("REFRESH MATERIALIZED VIEW t", "t", "ACCESS EXCLUSIVE", ()),
    ("VACUUM FULL t", "t", "ACCESS EXCLUSIVE", ()),
    ("REINDEX TABLE t", "t", "SHARE", ()),
    ("ALTER TABLE t ATTACH PARTITION c FOR VALUES IN (1)", "t", "SHARE UPDATE EXCLUSIVE", ()),
    ("ALTER TABLE t ALTER COLUMN c SET (n_distinct = 1)", "t", "SHARE UPDATE EXCLUSIVE", ()),
])
def test_more_locks_and_the_other_tables_a_statement_locks(
        sql: str, table: str | None, lock: str | None, also: tuple[tuple[str, str], ...]
) -> None:
    (stmt,) = statements(sql)
    assert (stmt.table, stmt.lock, stmt.also) == (table, lock, also)


def test_a_unique_constraint_on_an_existing_index_checks_no_row_and_a_do_block_is_opaque(
        ) -> None:
    (unique,) = statements("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i")
    assert "constraint-validation" not in unique.flags
    (block,) = statements("DO $$ BEGIN PERFORM 1; END $$")
    assert block.flags == ("anonymous-code-block",)


def test_each_revisions_own_transaction_edges_are_not_its_content() -> None:
    """With transaction_per_migration, Alembic wraps each revision in BEGIN ... COMMIT:
    those edges are no partial commit; a COMMIT with statements after it is."""
    sql = ("BEGIN;\n\n-- Running upgrade  -> a\n\nCREATE TABLE x (id int);\n\nCOMMIT;\n\n"
           "BEGIN;\n\n-- Running upgrade a -> b\n\nCREATE TABLE y (id int);\n\nCOMMIT;\n\n"
           "CREATE INDEX CONCURRENTLY iy ON y (id);\n\nBEGIN;\n\nCREATE TABLE z (id int);\n\n"
           "COMMIT;\n\n")
    parts = split_revisions(sql)
    assert [p.revision for p in parts] == ["a", "b"]
    first = statements(parts[0].sql)
    assert [s.kind for s in first] == ["CreateStmt"]
    kinds = [s.kind for s in statements(parts[1].sql)]
    assert kinds[0] == "CreateStmt" and "TransactionStmt" in kinds[1:-1]  # commits part way
    assert kinds[-1] == "CreateStmt"


def test_the_referenced_table_of_a_new_tables_foreign_key_is_weighed() -> None:
    parts = [RevisionSQL("r9", "r8", "CREATE TABLE n (id int, a int REFERENCES big (id));\n")]
    parsed: dict[str, list[Statement] | str] = {"r9": statements(parts[0].sql)}
    sizes = {"public.big": Size(rows=500_000, bytes=1 << 20)}
    (finding,) = assess(parts, {}, parsed, {}, sizes, Limits(), "public", ["r9"])
    assert (finding.table, finding.lock, finding.severity) == (
        "public.big", "SHARE ROW EXCLUSIVE", "error")


@pytest.mark.parametrize(("block", "rule"), [
    ("CREATE INDEX CONCURRENTLY i ON big (a);\n", "concurrent-block"),
    ("INSERT INTO big SELECT 1;\n", "non-atomic-revision"),
])
def test_an_autocommit_block_that_only_builds_concurrently_is_no_partial_commit(
        block: str, rule: str) -> None:
    """The fix the gate asks for (CONCURRENTLY, in an autocommit block) must not close it
    again: such a block is a warning; any other COMMIT inside a revision must be waived."""
    sql = f"CREATE TABLE n (id int);\nCOMMIT;\n{block}BEGIN;\nCREATE TABLE m (id int);\n"
    parts = [RevisionSQL("r9", "r8", sql)]
    findings = assess(parts, {}, {"r9": statements(sql)}, {}, {}, Limits(), "public", ["r9"])
    assert [f.rule for f in findings] == [rule]


def test_a_concurrent_build_in_an_autocommit_block_is_not_retryable_nor_what_follows(
        ) -> None:
    first = "CREATE TABLE n (id int);\n"
    block = "CREATE TABLE m (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY i ON m (id);\nBEGIN;\n"
    parts = [RevisionSQL("r1", "", first), RevisionSQL("r2", "r1", block),
             RevisionSQL("r3", "r2", first)]
    told = retryability(parts, {}, ["r1", "r2", "r3"])
    assert [t.retryable for t in told] == [True, False, False]
    assert told[1].why.startswith("r2: an autocommit block (line 3: CREATE INDEX "
                                  "CONCURRENTLY i ON m (id)) commits part way")
    assert last_revision_run("INFO Running upgrade  -> r1, first\nINFO Running upgrade "
                             "r1 -> r2, second\nERROR lock timeout") == "r2"
    assert last_revision_run("nothing ran") is None


def test_a_revision_neither_rendered_nor_failed_is_not_passed_over() -> None:
    findings = assess([], {}, {}, {}, {}, Limits(), "public", ["r1"])
    assert [(f.revision, f.rule) for f in findings] == [("r1", "not-analysable-offline")]


def test_a_partitioned_tables_size_is_its_partitions(hazards: SimpleNamespace) -> None:
    sizes = table_sizes(hazards.env, {"ledger"}, "public")
    assert sizes["public.ledger"].rows == 150_000 and sizes["public.ledger"].bytes > 1 << 20


RISK_GATE = ('  { kind = "probe", id = "risk", text = "Migration risk reviewed", '
             'probe = "migration.risk", args = { from = "r1" } },\n')
WAIVERS = "".join(f'''
[[waivers]]
revision = "{rev}"
rule = "{rule}"
reason = "accepted for the test"
approved_by = "DBA lead"
''' for rev, rule in [("r2", "index-without-concurrently"), ("r3", "access-exclusive-lock"),
                      ("r4", "not-analysable-offline"), ("r5", "non-atomic-revision")])


@pytest.mark.system_slow
def test_as_a_gate_unwaived_errors_are_a_blocker_and_the_waived_report_is_evidence(
        hazards: SimpleNamespace, tmp_path: Path) -> None:
    world = tmp_path / "world"
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    shutil.copytree(hazards.project, world, dirs_exist_ok=True)
    freeze = 'path = "freeze.log" },\n'
    runbook.write_text(runbook.read_text().replace(freeze, freeze + RISK_GATE, 1))
    env = {"DATABASE_URL": hazards.env["DATABASE_URL"]}
    shut = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s1"), env=env)
    assert shut.returncode == 2, shut.stdout + shut.stderr
    assert "gate risk failed: 4 finding(s) not waived: r2 index-without-concurrently" in \
        shut.stdout

    runbook.write_text(runbook.read_text() + WAIVERS)  # a new approved runbook: a new session
    session = tmp_path / "s2"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
                   env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = sorted((session / "evidence" / "probes").iterdir())
    assert sorted(p.name.split("-", 1)[1] for p in kept) == ["migration-risk.json",
                                                              "migration-risk.md"]
    report = json.loads(next(p for p in kept if p.suffix == ".json").read_text())
    assert report["totals"]["blocking"] == 0 and report["totals"]["waived"] >= 4
    verified = cockpit("verify", str(session))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    markdown = next(p for p in kept if p.suffix == ".md")
    markdown.write_text(markdown.read_text().replace("DBA lead", "nobody"))
    tampered = cockpit("verify", str(session))
    assert tampered.returncode == 1 and f"file kept by a probe (gate_evaluated): {markdown}" \
        in tampered.stderr

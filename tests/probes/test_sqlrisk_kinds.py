"""Each kind of statement the SQL reader knows, and the facts it reads from it — kind,
table, lock, flags, the tables it also locks, the indexes it names, what it creates or
builds — pinned whole, so that the reader's dispatch by statement kind reads every form as
it did when it was a chain of ifs (test_risk.py asserts the locks that matter most)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from cockpit.probes.sqlrisk import statements

SUE = "SHARE UPDATE EXCLUSIVE"
SRE = "SHARE ROW EXCLUSIVE"
AE = "ACCESS EXCLUSIVE"


def _facts(sql: str) -> dict[str, Any]:
    """The statement's facts that are set, without its text and lines."""
    (stmt,) = statements(sql)
    return {key: value for key, value in asdict(stmt).items()
            if key not in ("text", "line", "end_line") and value not in (None, ())}


@pytest.mark.parametrize(("sql", "facts"), [
    ('CREATE TABLE s.n (id int, a int REFERENCES big (id), b int, FOREIGN KEY (b) REFERENCES s.other (id), CHECK (a > 0))',
     {'kind': 'CreateStmt', 'creates': 's.n', 'also': (('big', SRE), ('s.other', SRE))}),
    ('CREATE TABLE n (id int)',
     {'kind': 'CreateStmt', 'creates': 'n'}),
    ('CREATE INDEX i ON s.t (a)',
     {'kind': 'IndexStmt', 'table': 's.t', 'lock': 'SHARE', 'flags': ('index-without-concurrently',), 'builds': 's.i'}),
    ('CREATE INDEX CONCURRENTLY i ON t (a)',
     {'kind': 'IndexStmt', 'table': 't', 'lock': SUE, 'builds': 'i'}),
    ('CREATE INDEX ON t (a)',
     {'kind': 'IndexStmt', 'table': 't', 'lock': 'SHARE', 'flags': ('index-without-concurrently',)}),
    ('ALTER TABLE s.t ADD COLUMN c int, ALTER COLUMN d TYPE bigint, ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)',
     {'kind': 'AlterTableStmt', 'table': 's.t', 'lock': AE, 'flags': ('column-type-change', 'constraint-validation'), 'also': (('u', SRE),)}),
    ('ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID, DISABLE TRIGGER ALL',
     {'kind': 'AlterTableStmt', 'table': 't', 'lock': AE}),
    ('ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i',
     {'kind': 'AlterTableStmt', 'table': 't', 'lock': AE}),
    ('ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)',
     {'kind': 'AlterTableStmt', 'table': 't', 'lock': AE, 'flags': ('constraint-validation',)}),
    ('ALTER TABLE t ALTER COLUMN c SET NOT NULL, VALIDATE CONSTRAINT f',
     {'kind': 'AlterTableStmt', 'table': 't', 'lock': AE, 'flags': ('constraint-validation',)}),
    ('ALTER TABLE t ENABLE TRIGGER tr',
     {'kind': 'AlterTableStmt', 'table': 't', 'lock': SRE}),
    ('ALTER INDEX s.i SET (fillfactor = 70)',
     {'kind': 'AlterTableStmt', 'lock': SUE, 'indexes': ('s.i',)}),
    ('ALTER INDEX i SET TABLESPACE fast',
     {'kind': 'AlterTableStmt', 'lock': AE, 'indexes': ('i',)}),
    ('ALTER INDEX i RENAME TO j',
     {'kind': 'RenameStmt', 'lock': SUE, 'indexes': ('i',)}),
    ('ALTER TABLE s.t RENAME TO u',
     {'kind': 'RenameStmt', 'table': 's.t', 'lock': AE}),
    ('ALTER TABLE t RENAME COLUMN a TO b',
     {'kind': 'RenameStmt', 'table': 't', 'lock': AE}),
    ('ALTER SEQUENCE q RENAME TO r',
     {'kind': 'RenameStmt', 'table': 'q', 'lock': AE}),
    ('ALTER SEQUENCE q OWNED BY t.a',
     {'kind': 'AlterSeqStmt'}),
    ('ALTER MATERIALIZED VIEW m SET (fillfactor = 70)',
     {'kind': 'AlterTableStmt'}),
    ('DROP TABLE s.t, u',
     {'kind': 'DropStmt', 'table': 's.t', 'lock': AE, 'also': (('u', AE),)}),
    ('DROP INDEX s.i, j',
     {'kind': 'DropStmt', 'lock': AE, 'flags': ('index-drop-locks-table',), 'indexes': ('s.i', 'j')}),
    ('DROP INDEX CONCURRENTLY i',
     {'kind': 'DropStmt', 'lock': SUE, 'indexes': ('i',)}),
    ('DROP VIEW v',
     {'kind': 'DropStmt'}),
    ('TRUNCATE small, s.big',
     {'kind': 'TruncateStmt', 'table': 'small', 'lock': AE, 'also': (('s.big', AE),)}),
    ('CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()',
     {'kind': 'CreateTrigStmt', 'table': 't', 'lock': SRE}),
    ('REFRESH MATERIALIZED VIEW m',
     {'kind': 'RefreshMatViewStmt', 'table': 'm', 'lock': AE}),
    ('REFRESH MATERIALIZED VIEW CONCURRENTLY s.m',
     {'kind': 'RefreshMatViewStmt', 'table': 's.m', 'lock': 'EXCLUSIVE'}),
    ('CLUSTER t USING i',
     {'kind': 'ClusterStmt', 'table': 't', 'lock': AE}),
    ('CLUSTER',
     {'kind': 'ClusterStmt'}),
    ('VACUUM FULL t, u',
     {'kind': 'VacuumStmt', 'table': 't', 'lock': AE, 'also': (('u', AE),)}),
    ('VACUUM (ANALYZE) t',
     {'kind': 'VacuumStmt', 'table': 't', 'lock': SUE}),
    ('VACUUM',
     {'kind': 'VacuumStmt', 'lock': SUE}),
    ('REINDEX TABLE t',
     {'kind': 'ReindexStmt', 'table': 't', 'lock': 'SHARE'}),
    ('REINDEX TABLE CONCURRENTLY t',
     {'kind': 'ReindexStmt', 'table': 't', 'lock': SUE}),
    ('REINDEX INDEX s.i',
     {'kind': 'ReindexStmt', 'lock': 'SHARE', 'flags': ('reindex-without-concurrently',), 'indexes': ('s.i',)}),
    ('REINDEX INDEX CONCURRENTLY i',
     {'kind': 'ReindexStmt', 'lock': SUE, 'indexes': ('i',)}),
    ('REINDEX SYSTEM',
     {'kind': 'ReindexStmt'}),
    ('DO $$ BEGIN PERFORM 1; END $$',
     {'kind': 'DoStmt', 'flags': ('anonymous-code-block',)}),
    ('INSERT INTO s.t SELECT 1',
     {'kind': 'InsertStmt', 'table': 's.t', 'lock': 'ROW EXCLUSIVE'}),
    ('UPDATE t SET a = 1',
     {'kind': 'UpdateStmt', 'table': 't', 'lock': 'ROW EXCLUSIVE'}),
    ('DELETE FROM t',
     {'kind': 'DeleteStmt', 'table': 't', 'lock': 'ROW EXCLUSIVE'}),
    ('LOCK TABLE t, u IN ACCESS EXCLUSIVE MODE',
     {'kind': 'LockStmt', 'table': 't', 'lock': AE, 'also': (('u', AE),)}),
    ('LOCK TABLE t',
     {'kind': 'LockStmt', 'table': 't', 'lock': AE}),
    ('LOCK TABLE t IN ROW SHARE MODE',
     {'kind': 'LockStmt', 'table': 't', 'lock': 'ROW SHARE'}),
    ('BEGIN',
     {'kind': 'TransactionStmt', 'flags': ('transaction-begin',)}),
    ('COMMIT',
     {'kind': 'TransactionStmt', 'flags': ('transaction-commit',)}),
    ('START TRANSACTION',
     {'kind': 'TransactionStmt', 'flags': ('transaction-start',)}),
    ('SAVEPOINT p',
     {'kind': 'TransactionStmt', 'flags': ('transaction-savepoint',)}),
    ('SELECT 1',
     {'kind': 'SelectStmt'}),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
     {'kind': 'CreateFunctionStmt'}),
    ("COMMENT ON TABLE t IS 'x'",
     {'kind': 'CommentStmt'}),
])
def test_each_statement_kind_is_read_for_its_table_lock_and_flags(sql: str,
                                                                  facts: dict[str, Any]) -> None:
    assert _facts(sql) == facts


@pytest.mark.parametrize("sql", [
    "DROP FUNCTION f(int)", "DROP CAST (int AS text)", "DROP TRIGGER tr ON t",
    "DROP POLICY p ON t", "DROP TYPE ty", "DROP SCHEMA s CASCADE",
])
def test_a_drop_of_no_table_or_index_locks_no_table_the_gate_weighs(sql: str) -> None:
    """Their names are not table names (a function's takes its argument types): not read."""
    assert _facts(sql) == {"kind": "DropStmt"}

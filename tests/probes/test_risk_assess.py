"""`assess` over one path that holds every kind of finding — a lock on a big table and on
a small one, an index's table from the catalog, from the path and from neither, a DO block,
a COMMIT part way, squawk's findings on each sort of statement, a revision that does not
parse, one off the path, one that failed to render and one never seen — pinned whole, in
order, so that assess split into one function per concern finds the same as before."""

from __future__ import annotations

from dataclasses import asdict

from cockpit.probes.risk import Limits, Size, assess
from cockpit.probes.risklocks import IndexResolver
from cockpit.probes.sqlrisk import RevisionSQL, statements

R1 = ("CREATE TABLE fresh (id int);\n"
      "CREATE INDEX fresh_i ON fresh (id);\n"
      "ALTER TABLE big ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES small (id);\n"
      "CREATE INDEX big_a ON big (a);\n"
      "DROP INDEX big_a;\n"
      "REINDEX INDEX old_i;\n"
      "ALTER INDEX mystery SET TABLESPACE t2;\n"
      "DO $$ BEGIN PERFORM 1; END $$;\n"
      "UPDATE alembic_version SET version_num = 'r1';\n"
      "ALTER TABLE small ALTER COLUMN c TYPE bigint;\n"
      "COMMIT;\n"
      "INSERT INTO big SELECT 1;\n"
      "BEGIN;\n"
      "LOCK TABLE s2.other IN SHARE MODE;\n")
R2 = "ALTER TABLE big ADD COLUMN b int;\n"
R3 = "CREATE TABLE ( broken;\n"
PARTS = [RevisionSQL("r1", "", R1), RevisionSQL("r2", "r1", R2), RevisionSQL("r3", "r2", R3),
         RevisionSQL("rx", "r3", "SELECT 1;\n")]
PARSED = {"r1": statements(R1), "r2": statements(R2), "r3": 'syntax error at or near "("',
          "rx": statements("SELECT 1;\n")}
LINTED = {
    "r1": [
        {"line": 4, "rule_name": "require-concurrent-index-creation", "message": "m1", "help": "h1", "level": "Warning"},
        {"line": 4, "rule_name": "require-concurrent-index-creation", "message": "m1b", "level": "Error"},
        {"line": 2, "rule_name": "require-concurrent-index-creation", "message": "on a new table", "level": "Error"},
        {"line": 1, "rule_name": "prefer-bigint-over-int", "message": "m2", "help": None, "level": "Error"},
        {"line": 9, "rule_name": "x", "message": "on alembic_version", "level": "Error"},
        {"line": 6, "rule_name": "ban-concurrent-index-creation-in-transaction", "message": "m3", "level": "Warning"},
        {"line": 99, "rule_name": None, "message": "m4", "help": "h4", "level": "Error"},
        {"line": 10, "rule_name": "changing-column-type", "message": "m5", "level": "Error"},
        {"line": 14, "rule_name": "prefer-robust-stmts", "message": "m6", "level": "Error"},
    ],
    "r2": [{"line": 1, "rule_name": "adding-field-with-default", "message": "m7", "level": "Error"}],
}
SIZES = {"public.big": Size(rows=1_000_000, bytes=1 << 30), "public.small": Size(rows=10, bytes=8192),
         "s2.other": Size(rows=None, bytes=200 * 1024 * 1024),
         # the catalog's figures for a table the path creates anew weigh nothing
         "public.fresh": Size(rows=5_000_000, bytes=1 << 30)}
CATALOG = {"public.old_i": "public.small"}
EXPECTED = [
    ('r1', 'constraint-validation', 'cockpit', 'error', 3, 'public.big', 'SHARE ROW EXCLUSIVE', 1000000, 'lock', 'checks every row for a constraint'),
    ('r1', 'share-row-exclusive-lock', 'cockpit', 'warning', 3, 'public.small', 'SHARE ROW EXCLUSIVE', 10, 'lock', 'takes SHARE ROW EXCLUSIVE on the table: everyone after it waits'),
    ('r1', 'index-without-concurrently', 'cockpit', 'error', 4, 'public.big', 'SHARE', 1000000, 'lock', 'builds an index without CONCURRENTLY: writes wait until it is built'),
    ('r1', 'index-drop-locks-table', 'cockpit', 'error', 5, 'public.big', 'ACCESS EXCLUSIVE', 1000000, 'lock', 'drops index big_a without CONCURRENTLY: ACCESS EXCLUSIVE on its table, its readers and writers wait'),
    ('r1', 'reindex-without-concurrently', 'cockpit', 'warning', 6, 'public.small', 'SHARE', 10, 'lock', 'rebuilds index old_i without CONCURRENTLY: writes to its table wait until it is rebuilt'),
    ('r1', 'index-table-unknown', 'cockpit', 'warning', 7, None, 'ACCESS EXCLUSIVE', None, 'lock', "takes ACCESS EXCLUSIVE on index mystery: its table's users wait; its table is neither in the catalog nor created earlier on the path, so its size is not weighed"),
    ('r1', 'anonymous-code-block', 'cockpit', 'error', 8, None, None, None, 'lock', 'a DO block: the parser cannot see what it locks'),
    ('r1', 'column-type-change', 'cockpit', 'warning', 10, 'public.small', 'ACCESS EXCLUSIVE', 10, 'lock', "changes a column's type (the table may be rewritten)"),
    ('r1', 'non-atomic-revision', 'cockpit', 'error', 11, None, None, None, 'lock', 'it commits part way (an autocommit block): a failure after this leaves the part before committed, and a retry fails on it (DuplicateTable)'),
    ('r1', 'share-lock', 'cockpit', 'error', 14, 's2.other', 'SHARE', None, 'lock', 'takes SHARE on the table: everyone after it waits'),
    ('r1', 'require-concurrent-index-creation', 'squawk', 'warning', 4, 'public.big', 'SHARE', 1000000, 'lock', 'm1 h1'),
    ('r1', 'require-concurrent-index-creation', 'squawk', 'error', 4, 'public.big', 'SHARE', 1000000, 'lock', 'm1b'),
    ('r1', 'require-concurrent-index-creation', 'squawk', 'warning', 2, 'public.fresh', 'SHARE', None, 'lock', 'on a new table'),
    ('r1', 'prefer-bigint-over-int', 'squawk', 'warning', 1, None, None, None, 'style', 'm2'),
    ('r1', 'ban-concurrent-index-creation-in-transaction', 'squawk', 'error', 6, 'public.small', 'SHARE', 10, 'lock', 'm3'),
    ('r1', 'squawk', 'squawk', 'warning', 99, None, None, None, 'lock', 'm4 h4'),
    ('r1', 'changing-column-type', 'squawk', 'warning', 10, 'public.small', 'ACCESS EXCLUSIVE', 10, 'lock', 'm5'),
    ('r1', 'prefer-robust-stmts', 'squawk', 'error', 14, 's2.other', 'SHARE', None, 'style', 'm6'),
    ('r2', 'access-exclusive-lock', 'cockpit', 'error', 1, 'public.big', 'ACCESS EXCLUSIVE', 1000000, 'lock', 'takes ACCESS EXCLUSIVE on the table: everyone after it waits'),
    ('r2', 'adding-field-with-default', 'squawk', 'error', 1, 'public.big', 'ACCESS EXCLUSIVE', 1000000, 'lock', 'm7'),
    ('r3', 'not-analysable-offline', 'cockpit', 'error', None, None, None, None, 'lock', 'its SQL does not parse: syntax error at or near "("'),
    ('rx', 'unexpected-revision', 'cockpit', 'warning', None, None, None, None, 'lock', 'rendered, but not on the path the lineage gives'),
    ('r4', 'not-analysable-offline', 'cockpit', 'error', None, None, None, None, 'lock', 'its upgrade cannot be rendered offline: env.py raised'),
    ('r5', 'not-analysable-offline', 'cockpit', 'error', None, None, None, None, 'lock', "Alembic's offline SQL holds no part for it"),
]

FIELDS = ('revision', 'rule', 'source', 'severity', 'line', 'table', 'lock', 'rows', 'kind', 'message')


def test_every_finding_of_a_path_in_order() -> None:
    found = assess(PARTS, {"r4": "env.py raised"}, PARSED, LINTED, SIZES, Limits(), "public",
                   ["r1", "r2", "r3", "r4", "r5"], IndexResolver(CATALOG, "public"))
    assert [tuple(asdict(f)[name] for name in FIELDS) for f in found] == EXPECTED
    by_line = {(s.line, s.text) for s in PARSED["r1"]}  # type: ignore[union-attr]
    assert all(f.statement == "" or (f.line, f.statement) in by_line for f in found
               if f.revision == "r1")
    weighed = {name: size for name, size in SIZES.items() if name != "public.fresh"}
    assert all(f.waived is None and f.bytes == (weighed[f.table].bytes if f.table in weighed
                                                else None) for f in found)

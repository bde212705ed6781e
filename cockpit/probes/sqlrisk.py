"""What a migration's SQL does to the tables it touches, read by PostgreSQL's own parser
(pglast): the offline SQL of an upgrade cut into one part per revision at Alembic's
`-- Running upgrade a -> b` markers, and each statement's table and the lock it takes.

Pure: text in, facts out. Sizes, squawk and severity are risk.py's."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType, ObjectType, ReindexObjectType
from pglast.parser import ParseError

# PostgreSQL's table-level lock modes, weakest first (the docs' "Table-Level Locks").
LOCKS = ("ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
         "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE")

# `-- Running upgrade 0023, 0009b -> 70a79686336c`: Alembic's comment before each revision
_MARKER = re.compile(r"^-- Running upgrade (?P<down>.*?) ?-> (?P<rev>\S+)\s*$", re.MULTILINE)

# ALTER TABLE forms that take less than ACCESS EXCLUSIVE (the docs' ALTER TABLE page)
_ALTER_LOCKS = {
    AlterTableType.AT_ValidateConstraint: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_SetStatistics: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_ClusterOn: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_DropCluster: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_SetRelOptions: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_ResetRelOptions: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_SetOptions: "SHARE UPDATE EXCLUSIVE",  # a column's n_distinct, ...
    AlterTableType.AT_ResetOptions: "SHARE UPDATE EXCLUSIVE",
    AlterTableType.AT_AttachPartition: "SHARE UPDATE EXCLUSIVE",  # on the parent
    AlterTableType.AT_EnableTrig: "SHARE ROW EXCLUSIVE",
    AlterTableType.AT_DisableTrig: "SHARE ROW EXCLUSIVE",
    AlterTableType.AT_EnableTrigAll: "SHARE ROW EXCLUSIVE",
    AlterTableType.AT_DisableTrigAll: "SHARE ROW EXCLUSIVE",
    AlterTableType.AT_EnableTrigUser: "SHARE ROW EXCLUSIVE",
    AlterTableType.AT_DisableTrigUser: "SHARE ROW EXCLUSIVE",
}


@dataclass(frozen=True)
class RevisionSQL:
    revision: str
    down: str  # as the marker names it: "0023, 0009b" for a merge, "" from base
    sql: str


@dataclass(frozen=True)
class Statement:
    text: str  # the statement, on one line
    line: int  # where it starts in its revision's SQL, 1-based
    end_line: int
    kind: str  # the parser's node name: IndexStmt, AlterTableStmt, ...
    table: str | None = None  # schema-qualified when the SQL qualifies it
    lock: str | None = None  # the strongest table lock it takes, None: none on a table
    creates: str | None = None  # a table it creates (later statements on it touch no data)
    flags: tuple[str, ...] = ()  # index-without-concurrently, constraint-validation, ...
    # other tables it locks, each with its lock: a foreign key's referenced table, the
    # second table of a TRUNCATE
    also: tuple[tuple[str, str], ...] = field(default=())
    # indexes it names whose table it locks (with `lock`): DROP INDEX, ALTER INDEX,
    # REINDEX INDEX — the table is the catalog's or an earlier CREATE INDEX's (risk.py)
    indexes: tuple[str, ...] = ()
    builds: str | None = None  # the index a CREATE INDEX names (on `table`)


def split_revisions(sql: str) -> list[RevisionSQL]:
    """The offline SQL cut at each `-- Running upgrade` marker: one part per revision, in
    the order Alembic ran them. What comes before the first marker (the opening BEGIN) and
    the closing COMMIT stay with no revision."""
    marks = list(_MARKER.finditer(sql))
    parts = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sql)
        body = sql[mark.end():end]
        # the upgrade's own transaction edges, not this revision's: the closing COMMIT,
        # and with transaction_per_migration each revision's BEGIN ... COMMIT
        body = _LEADING_BEGIN.sub("\n", body, count=1)
        body = _TRAILING_EDGES.sub("\n", body, count=1)
        parts.append(RevisionSQL(mark["rev"], mark["down"].strip(), body))
    return parts


def one_transaction(sql: str) -> bool | None:
    """Whether Alembic's offline SQL runs its revisions in one transaction — read from what
    Alembic wrote, whatever env.py decided: with `transaction_per_migration` each revision
    ends in COMMIT and the next opens with BEGIN; without transactional DDL there is no
    BEGIN at all. None: fewer than one revision rendered."""
    marks = list(_MARKER.finditer(sql))
    if not marks:
        return None
    if not re.search(r"^BEGIN;", sql, re.MULTILINE):
        return False
    return not any(_EDGE_BEFORE.search(sql, 0, mark.start()) for mark in marks[1:])


# the end of one revision's own transaction right before the next one's marker
_EDGE_BEFORE = re.compile(r"COMMIT;\s*BEGIN;\s*\Z")
_LEADING_BEGIN = re.compile(r"\A\s*BEGIN;[ \t]*\n")
_TRAILING_EDGES = re.compile(r"\n\s*COMMIT;(?:\s*BEGIN;)?\s*\Z")


def statements(sql: str) -> list[Statement]:
    """Each statement of one revision's SQL with the table it touches and the lock it
    takes. Raises ParseError (with the position) for SQL the parser refuses."""
    found = []
    encoded = sql.encode()  # pglast's locations are byte offsets
    for raw in parse_sql(sql):
        start = raw.stmt_location or 0
        # the last statement's length is 0: it runs to the end
        text = encoded[start:start + raw.stmt_len if raw.stmt_len else None].decode(
            errors="replace")
        lead = len(text) - len(text.lstrip())
        first = encoded[:start].count(b"\n") + text[:lead].count("\n") + 1
        base = Statement(" ".join(text.split()), first, first + text.strip().count("\n"),
                         type(raw.stmt).__name__)
        found.append(_classified(raw.stmt, base))
    return found


def _name(relation: ast.RangeVar | None) -> str | None:
    if relation is None:
        return None
    return f"{relation.schemaname}.{relation.relname}" if relation.schemaname \
        else relation.relname


def _classified(node: ast.Node | None, base: Statement) -> Statement:
    """The statement's table, lock and flags, read by the reader for its kind; a kind no
    reader knows (SELECT, CREATE FUNCTION, ...) locks no table the gate weighs."""
    reader = _READERS.get(type(node)) if node is not None else None
    return reader(node, base) if reader is not None else base


def _create_table(node: ast.CreateStmt, base: Statement) -> Statement:
    """A new table; a foreign key locks the table it names."""
    referenced = [_name(c.pktable) for element in node.tableElts or ()
                  for c in _constraints(element) if c.contype == ConstrType.CONSTR_FOREIGN]
    return replace(base, creates=_name(node.relation),
                   also=tuple((r, "SHARE ROW EXCLUSIVE") for r in referenced if r))


def _constraints(element: ast.Node) -> tuple[ast.Constraint, ...]:
    """A table element's constraints: a column's own, or a table constraint."""
    if isinstance(element, ast.ColumnDef):
        return tuple(element.constraints or ())
    return (element,) if isinstance(element, ast.Constraint) else ()


def _create_index(node: ast.IndexStmt, base: Statement) -> Statement:
    built = _index_name(node.idxname, node.relation)
    if node.concurrent:
        return replace(base, table=_name(node.relation), lock="SHARE UPDATE EXCLUSIVE",
                       builds=built)
    return replace(base, table=_name(node.relation), lock="SHARE",
                   flags=("index-without-concurrently",), builds=built)


def _alter(node: ast.AlterTableStmt, base: Statement) -> Statement:
    if node.objtype == ObjectType.OBJECT_TABLE:
        return _alter_table(node, base)
    if node.objtype == ObjectType.OBJECT_INDEX:
        return _alter_index(node, base)
    return base


def _alter_index(node: ast.AlterTableStmt, base: Statement) -> Statement:
    # SET TABLESPACE rewrites the index under ACCESS EXCLUSIVE: its table's users wait
    lock = max((_ALTER_LOCKS.get(cmd.subtype, "ACCESS EXCLUSIVE") for cmd in node.cmds or ()),
               key=LOCKS.index, default="ACCESS EXCLUSIVE")
    return replace(base, lock=lock, indexes=_names(node.relation))


def _rename(node: ast.RenameStmt, base: Statement) -> Statement:
    if node.relation is None:
        return base
    if node.renameType == ObjectType.OBJECT_INDEX:  # since PostgreSQL 12
        return replace(base, lock="SHARE UPDATE EXCLUSIVE", indexes=_names(node.relation))
    return replace(base, table=_name(node.relation), lock="ACCESS EXCLUSIVE")


def _drop(node: ast.DropStmt, base: Statement) -> Statement:
    if node.removeType == ObjectType.OBJECT_TABLE:
        return _on_all(base, _dropped(node), "ACCESS EXCLUSIVE")
    if node.removeType != ObjectType.OBJECT_INDEX:
        return base
    if node.concurrent:
        return replace(base, lock="SHARE UPDATE EXCLUSIVE", indexes=_dropped(node))
    return replace(base, lock="ACCESS EXCLUSIVE", flags=("index-drop-locks-table",),
                   indexes=_dropped(node))


def _dropped(node: ast.DropStmt) -> tuple[str, ...]:
    """The tables or indexes a DROP names (other kinds name functions, casts, ...: not read)."""
    return tuple(".".join(part.sval for part in obj) for obj in node.objects or ())


def _truncate(node: ast.TruncateStmt, base: Statement) -> Statement:
    return _on_all(base, [_name(rel) for rel in node.relations or ()], "ACCESS EXCLUSIVE")


def _create_trigger(node: ast.CreateTrigStmt, base: Statement) -> Statement:
    return replace(base, table=_name(node.relation), lock="SHARE ROW EXCLUSIVE")


def _refresh(node: ast.RefreshMatViewStmt, base: Statement) -> Statement:
    return replace(base, table=_name(node.relation),
                   lock="EXCLUSIVE" if node.concurrent else "ACCESS EXCLUSIVE")


def _cluster(node: ast.ClusterStmt, base: Statement) -> Statement:
    if node.relation is None:  # CLUSTER alone: the tables clustered before, unnamed here
        return base
    return replace(base, table=_name(node.relation), lock="ACCESS EXCLUSIVE")


def _vacuum(node: ast.VacuumStmt, base: Statement) -> Statement:
    full = any(o.defname == "full" for o in node.options or ())
    vacuumed = [_name(r.relation) for r in node.rels or () if r.relation is not None]
    return _on_all(base, vacuumed, "ACCESS EXCLUSIVE" if full else "SHARE UPDATE EXCLUSIVE")


def _reindex(node: ast.ReindexStmt, base: Statement) -> Statement:
    if node.relation is None:
        return base
    concurrently = any(o.defname == "concurrently" for o in node.params or ())
    lock = "SHARE UPDATE EXCLUSIVE" if concurrently else "SHARE"
    if node.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:  # its table is locked
        return replace(base, lock=lock, indexes=_names(node.relation),
                       flags=() if concurrently else ("reindex-without-concurrently",))
    return replace(base, table=_name(node.relation), lock=lock)


def _do(node: ast.DoStmt, base: Statement) -> Statement:
    return replace(base, flags=("anonymous-code-block",))  # code the parser cannot see into


def _write(node: ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt, base: Statement
           ) -> Statement:
    return replace(base, table=_name(node.relation), lock="ROW EXCLUSIVE")


def _lock(node: ast.LockStmt, base: Statement) -> Statement:
    return _on_all(base, [_name(rel) for rel in node.relations or ()],
                   LOCKS[max(0, min((node.mode or 1) - 1, len(LOCKS) - 1))])


def _transaction(node: ast.TransactionStmt, base: Statement) -> Statement:
    kind = node.kind.name.lower() if node.kind is not None else "other"
    return replace(base, flags=(f"transaction-{kind.removeprefix('trans_stmt_')}",))


# The reader for each kind of statement (the parser's node class), as psycopg maps each
# SQLSTATE to its error class.
_READERS: dict[type[ast.Node], Callable[[Any, Statement], Statement]] = {
    ast.CreateStmt: _create_table,
    ast.IndexStmt: _create_index,
    ast.AlterTableStmt: _alter,
    ast.RenameStmt: _rename,
    ast.DropStmt: _drop,
    ast.TruncateStmt: _truncate,
    ast.CreateTrigStmt: _create_trigger,
    ast.RefreshMatViewStmt: _refresh,
    ast.ClusterStmt: _cluster,
    ast.VacuumStmt: _vacuum,
    ast.ReindexStmt: _reindex,
    ast.DoStmt: _do,
    ast.InsertStmt: _write,
    ast.UpdateStmt: _write,
    ast.DeleteStmt: _write,
    ast.LockStmt: _lock,
    ast.TransactionStmt: _transaction,
}


def _names(relation: ast.RangeVar | None) -> tuple[str, ...]:
    name = _name(relation)
    return (name,) if name else ()


def _index_name(name: str | None, table: ast.RangeVar | None) -> str | None:
    """A new index's name as DROP INDEX would write it: in its table's schema."""
    if not name:
        return None
    return f"{table.schemaname}.{name}" if table is not None and table.schemaname else name


def _on_all(base: Statement, names: Sequence[str | None], lock: str) -> Statement:
    """A statement taking the same lock on each of several tables."""
    found = [n for n in names if n]
    return replace(base, table=found[0] if found else None, lock=lock,
                   also=tuple((n, lock) for n in found[1:]))


def _alter_table(node: ast.AlterTableStmt, base: Statement) -> Statement:
    lock = "SHARE UPDATE EXCLUSIVE"
    flags: list[str] = []
    also: list[tuple[str, str]] = []
    for cmd in node.cmds or ():
        this = _ALTER_LOCKS.get(cmd.subtype, "ACCESS EXCLUSIVE")
        if cmd.subtype == AlterTableType.AT_AlterColumnType:
            flags.append("column-type-change")
        elif cmd.subtype in (AlterTableType.AT_SetNotNull,  # every row is checked now
                             AlterTableType.AT_ValidateConstraint):
            flags.append("constraint-validation")
        elif cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(cmd.def_,
                                                                             ast.Constraint):
            constraint = cmd.def_
            if constraint.contype == ConstrType.CONSTR_FOREIGN:
                this = "SHARE ROW EXCLUSIVE"  # on this table and the one it references
                if (referenced := _name(constraint.pktable)) is not None:
                    also.append((referenced, "SHARE ROW EXCLUSIVE"))
            # no NOT VALID: every row is checked now (not an index taken as it is)
            if not constraint.skip_validation and not constraint.indexname:
                flags.append("constraint-validation")
        if LOCKS.index(this) > LOCKS.index(lock):
            lock = this
    return replace(base, table=_name(node.relation), lock=lock,
                   flags=tuple(dict.fromkeys(flags)), also=tuple(also))


__all__ = ["LOCKS", "ParseError", "RevisionSQL", "Statement", "one_transaction",
           "split_revisions", "statements"]

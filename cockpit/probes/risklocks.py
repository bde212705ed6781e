"""Two facts the risk gate needs beyond each statement's own lock: which table an index a
statement names belongs to (`DROP INDEX`, `ALTER INDEX`, `REINDEX INDEX` lock that table),
and — when the upgrade runs as one transaction — which locks are held from the revision that
takes them to the upgrade's COMMIT."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cockpit.probes.db import connect, rows
from cockpit.probes.sqlrisk import LOCKS, RevisionSQL, Statement


def qualified(name: str, schema: str) -> str:
    return name if "." in name else f"{schema}.{name}"


def index_tables(env: Mapping[str, str], indexes: set[str], schema: str) -> dict[str, str]:
    """Each existing index's table, from the catalog (pg_index), both schema-qualified."""
    if not indexes:
        return {}
    wanted = [qualified(name, schema).split(".", 1) for name in indexes]
    with connect(env) as conn:
        found = rows(conn, """
            SELECT n.nspname AS schema, i.relname AS index, tn.nspname AS table_schema,
                   t.relname AS table
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_namespace n ON n.oid = i.relnamespace
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE (n.nspname, i.relname) IN (
                SELECT * FROM unnest(CAST(:schemas AS text[]), CAST(:names AS text[])))""",
                     schemas=[s for s, _ in wanted], names=[i for _, i in wanted])
    return {f"{r['schema']}.{r['index']}": f"{r['table_schema']}.{r['table']}" for r in found}


def named_indexes(parsed: Mapping[str, list[Statement] | str]) -> set[str]:
    """Every index a statement of the path names without naming its table."""
    return {name for found in parsed.values() if not isinstance(found, str)
            for stmt in found for name in stmt.indexes}


class IndexResolver:
    """An index's table: the path's own earlier CREATE INDEX first (the lineage is the
    truth for what it built), else the catalog."""

    def __init__(self, catalog: Mapping[str, str], schema: str) -> None:
        self.catalog = dict(catalog)
        self.built: dict[str, str] = {}
        self.schema = schema

    def saw(self, stmt: Statement) -> None:
        if stmt.builds and stmt.table:
            self.built[qualified(stmt.builds, self.schema)] = qualified(stmt.table, self.schema)

    def table(self, index: str) -> str | None:
        name = qualified(index, self.schema)
        return self.built.get(name) or self.catalog.get(name)


@dataclass(frozen=True)
class Held:
    """A lock an upgrade run as one transaction holds to its end."""

    table: str
    lock: str  # the strongest it takes on the table
    revision: str  # the revision that takes it
    through: str  # the upgrade's last revision: it is held until that one commits
    revisions_held: int  # how many revisions run while it is held (its own included)


def held_to_end(parts: Sequence[RevisionSQL], parsed: Mapping[str, list[Statement] | str],
                tables_of: Callable[[Statement], list[tuple[str, str | None]]],
                ignored: Callable[[str], bool], schema: str) -> list[Held]:
    """The strongest lock per table that the one transaction holds to its COMMIT, from the
    revision that takes it (`tables_of`: each table a statement locks, qualified, and the
    lock). An autocommit block's COMMIT releases what came before it, and
    what runs inside the block is released statement by statement."""
    order = [part.revision for part in parts]
    strongest: dict[str, tuple[str, str]] = {}  # table -> (lock, revision)
    in_transaction = True
    created: set[str] = set()
    for part in parts:
        found = parsed.get(part.revision, [])
        for stmt in found if not isinstance(found, str) else []:
            if stmt.creates:
                created.add(qualified(stmt.creates, schema))
            if "transaction-commit" in stmt.flags:
                strongest.clear()
                in_transaction = False
                continue
            if {"transaction-begin", "transaction-start"} & set(stmt.flags):
                in_transaction = True
                continue
            if not in_transaction:
                continue
            for table, lock in tables_of(stmt):
                if lock is None or ignored(table) or table in created:
                    continue
                before = strongest.get(table)
                if before is None or LOCKS.index(lock) > LOCKS.index(before[0]):
                    strongest[table] = (lock, part.revision)
    if not order:
        return []
    return [Held(table, lock, revision, order[-1], len(order) - order.index(revision))
            for table, (lock, revision) in strongest.items()]

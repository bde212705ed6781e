"""Schema snapshots and structural parity.

A snapshot holds, for one schema: tables with their columns (type, nullability, default),
primary/unique keys and foreign keys (name and PostgreSQL's own full definition), indexes
(name and definition), and enum types with their labels. Comparing two snapshots classifies
every object as identical, naming-only (a constraint or index whose name differs but whose
definition is the same — accepted, as the checklist allows for foreign keys) or drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.probes.db import rows

if TYPE_CHECKING:
    from sqlalchemy import Connection

SNAPSHOT_FORMAT = 1


# Alembic's own bookkeeping: its width is P1's business, not structural parity's.
EXCLUDED_TABLES = ("alembic_version",)


def take_snapshot(conn: Connection, schema: str = "public") -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for r in rows(conn, """
            SELECT c.relname AS table, a.attname AS column,
                   format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
                   pg_get_expr(d.adbin, d.adrelid) AS default
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
            ORDER BY c.relname, a.attnum""", schema=schema):
        table = tables.setdefault(r["table"], {"columns": {}, "constraints": {}, "indexes": {}})
        table["columns"][r["column"]] = {"type": r["type"], "nullable": not r["not_null"],
                                         "default": r["default"]}
    for r in rows(conn, """
            SELECT c.relname AS table, k.conname AS name, k.contype AS kind,
                   pg_get_constraintdef(k.oid) AS definition
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = :schema AND k.contype IN ('p', 'u', 'f')
            ORDER BY 1, 2""", schema=schema):
        kind = {"p": "primary key", "u": "unique", "f": "foreign key"}[r["kind"]]
        tables[r["table"]]["constraints"][r["name"]] = {"kind": kind,
                                                        "definition": r["definition"]}
    for r in rows(conn, """
            SELECT t.relname AS table, i.relname AS name, pg_get_indexdef(x.indexrelid) AS def
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = :schema
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
            ORDER BY 1, 2""", schema=schema):
        # The definition without the index's own name, so a rename is naming-only.
        definition = re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON ", r"CREATE \1INDEX ON ", r["def"])
        tables[r["table"]]["indexes"][r["name"]] = {"kind": "index", "definition": definition}
    enums: dict[str, list[str]] = {}
    for r in rows(conn, """
            SELECT t.typname AS name, e.enumlabel AS label FROM pg_type t
            JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = :schema ORDER BY t.typname, e.enumsortorder""", schema=schema):
        enums.setdefault(r["name"], []).append(r["label"])
    for name in EXCLUDED_TABLES:
        tables.pop(name, None)
    return {"format": SNAPSHOT_FORMAT, "schema": schema, "tables": tables, "enums": enums}


@dataclass(frozen=True)
class Difference:
    verdict: str  # identical | naming-only | drift
    place: str
    detail: str


def _compare_named(place: str, want: dict[str, Any], have: dict[str, Any]) -> list[Difference]:
    """Constraints or indexes of one table: by name first, then by definition."""
    out: list[Difference] = []
    unmatched = dict(have)
    for name, spec in want.items():
        if name in unmatched and unmatched[name] == spec:
            del unmatched[name]
            out.append(Difference("identical", f"{place} {spec['kind']} {name}", ""))
    for name, spec in want.items():
        if any(d.place == f"{place} {spec['kind']} {name}" for d in out):
            continue
        twin = next((n for n, s in unmatched.items() if s == spec), None)
        if twin is not None:
            del unmatched[twin]
            out.append(Difference("naming-only", f"{place} {spec['kind']} {name}",
                                  f"named {twin} here; definition identical: "
                                  f"{spec['definition']}"))
        elif name in unmatched:
            other = unmatched.pop(name)
            out.append(Difference("drift", f"{place} {spec['kind']} {name}",
                                  f"definition differs: expected {spec['definition']!r}, "
                                  f"found {other['definition']!r}"))
        else:
            out.append(Difference("drift", f"{place} {spec['kind']} {name}",
                                  f"missing: {spec['definition']}"))
    out += [Difference("drift", f"{place} {s['kind']} {n}", f"unexpected: {s['definition']}")
            for n, s in unmatched.items()]
    return out


def compare(reference: dict[str, Any], actual: dict[str, Any]) -> list[Difference]:
    out: list[Difference] = []
    want_tables, have_tables = reference["tables"], actual["tables"]
    for table in sorted(set(want_tables) | set(have_tables)):
        if table not in have_tables:
            out.append(Difference("drift", f"table {table}", "missing"))
            continue
        if table not in want_tables:
            out.append(Difference("drift", f"table {table}", "unexpected table"))
            continue
        want, have = want_tables[table], have_tables[table]
        for column in sorted(set(want["columns"]) | set(have["columns"])):
            a, b = want["columns"].get(column), have["columns"].get(column)
            place = f"table {table} column {column}"
            if a == b:
                out.append(Difference("identical", place, ""))
            elif b is None:
                out.append(Difference("drift", place, "missing"))
            elif a is None:
                out.append(Difference("drift", place, f"unexpected column {b}"))
            else:
                changed = {k: (a[k], b[k]) for k in a if a[k] != b.get(k)}
                out.append(Difference("drift", place, "; ".join(
                    f"{k}: expected {x!r}, found {y!r}" for k, (x, y) in changed.items())))
        out += _compare_named(f"table {table}", want["constraints"], have["constraints"])
        out += _compare_named(f"table {table}", want["indexes"], have["indexes"])
    for enum in sorted(set(reference["enums"]) | set(actual["enums"])):
        a, b = reference["enums"].get(enum), actual["enums"].get(enum)
        verdict = "identical" if a == b else "drift"
        detail = "" if a == b else f"labels: expected {a}, found {b}"
        out.append(Difference(verdict, f"enum {enum}", detail))
    return out


def parity_report(differences: list[Difference]) -> tuple[bool, str]:
    """(no drift, a readable report)."""
    counts = {v: sum(d.verdict == v for d in differences)
              for v in ("identical", "naming-only", "drift")}
    lines = [f"structural parity: {counts['identical']} identical, {counts['naming-only']} "
             f"naming-only (accepted), {counts['drift']} drift"]
    lines += [f"  NAMING-ONLY {d.place}: {d.detail}" for d in differences
              if d.verdict == "naming-only"]
    lines += [f"  DRIFT {d.place}: {d.detail}" for d in differences if d.verdict == "drift"]
    lines.append("PARITY: ACCEPTED" if not counts["drift"] else "PARITY: DRIFT — not accepted")
    return not counts["drift"], "\n".join(lines)

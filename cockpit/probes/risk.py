"""`migration.risk`: each revision the upgrade will run, before it runs — its offline SQL
(Alembic's `upgrade start:target --sql`, run as the operator would), cut per revision,
linted by squawk and read by PostgreSQL's parser for the locks it takes, weighed by the live
size of the tables it touches (read-only). An error is a blocking lock on a big table; an
error not waived by the runbook keeps the gate closed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pglast
from alembic.util import CommandError

from cockpit.probes.alembic_probes import alembic_walk, current_revisions, script_directory
from cockpit.probes.db import ProbeUnreachable, connect, rows
from cockpit.probes.registry import ProbeContext, ProbeResult, register
from cockpit.probes.retryable import retryability
from cockpit.probes.reversal import render_downgrades, reversal
from cockpit.probes.risklocks import IndexResolver, held_to_end, index_tables, named_indexes
from cockpit.probes.riskreport import report_markdown, size_text
from cockpit.probes.risktools import (
    EXCLUDED_RULES,
    render_offline,
    squawk_findings,
    squawk_version,
)
from cockpit.probes.sqlrisk import (
    LOCKS,
    ParseError,
    RevisionSQL,
    Statement,
    statements,
)
from cockpit.runbook.alembic_config import AlembicConfig, command_config
from cockpit.runbook.model import Waiver
from cockpit.runbook.squawk_rules import rule_kind
from cockpit.runbook.targets import RELATIVE, command_targets, runbook_config, unknown_target

# Blocking locks: SHARE and every stronger one conflict with ROW EXCLUSIVE, so while one is
# held (to the upgrade's COMMIT) or queued for, the table's writers — and under ACCESS
# EXCLUSIVE its readers — wait behind it.
BLOCKING = LOCKS[LOCKS.index("SHARE"):]
# squawk rules whose finding fails the migration itself, whatever the table's size
SQUAWK_ERRORS = ("ban-concurrent-index-creation-in-transaction", "syntax-error")
# findings that the cockpit cannot vouch for whatever the size: waived, or the gate stays shut
MUST_WAIVE = ("not-analysable-offline", "non-atomic-revision", "anonymous-code-block")


@dataclass(frozen=True)
class Size:
    rows: int | None  # the planner's estimate (reltuples); None: never analysed
    bytes: int


@dataclass
class Finding:
    revision: str
    rule: str
    source: str  # cockpit (the parser's lock reading) or squawk
    message: str
    statement: str = ""
    line: int | None = None
    lock: str | None = None
    table: str | None = None
    rows: int | None = None
    bytes: int | None = None
    # error: keeps the gate closed unless waived; warning: shown, never blocks
    severity: str = "warning"
    waived: dict[str, str] | None = None  # reason, approved_by
    kind: str = "lock"  # lock: what the change does to the live tables; style: schema taste


@dataclass(frozen=True)
class Limits:
    rows: int = 100_000
    megabytes: int = 100

    def big(self, size: Size | None) -> bool:
        if size is None:
            return False
        return (size.rows is not None and size.rows >= self.rows) or \
            size.bytes >= self.megabytes * 1024 * 1024


def table_sizes(env: Mapping[str, str], tables: set[str], schema: str) -> dict[str, Size]:
    """Each existing table's estimated rows and total size (indexes and TOAST included):
    the planner's statistics, read-only, no scan."""
    if not tables:
        return {}
    wanted = [_qualified(name, schema).split(".", 1) for name in tables]
    with connect(env) as conn:
        # a partitioned table holds nothing itself: its partitions' rows and bytes are its
        found = rows(conn, """
            SELECT n.nspname AS schema, c.relname AS name,
                   CASE WHEN c.relkind = 'p' THEN (
                       SELECT CASE WHEN bool_and(l.reltuples >= 0) THEN sum(l.reltuples)
                                   ELSE -1 END
                       FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid
                       WHERE t.isleaf) ELSE c.reltuples END::bigint AS rows,
                   CASE WHEN c.relkind = 'p' THEN (
                       SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)
                       FROM pg_partition_tree(c.oid) t)
                        ELSE pg_total_relation_size(c.oid) END AS bytes
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'm')
              AND (n.nspname, c.relname) IN (
                  SELECT * FROM unnest(CAST(:schemas AS text[]), CAST(:names AS text[])))""",
                     schemas=[s for s, _ in wanted], names=[t for _, t in wanted])
    return {f"{r['schema']}.{r['name']}": Size(
        r["rows"] if r["rows"] is not None and r["rows"] >= 0 else None, int(r["bytes"]))
        for r in found}


def server_version(env: Mapping[str, str]) -> str | None:
    with connect(env) as conn:
        found = rows(conn, "SELECT current_setting('server_version') AS v")
    return found[0]["v"].split()[0] if found else None


def _qualified(name: str, schema: str) -> str:
    return name if "." in name else f"{schema}.{name}"


@dataclass
class _Weighing:
    """What a path's findings are weighed against: the live sizes and the limits, the
    tables the path itself creates (new, empty: no one waits) and each index's table, the
    last two growing as the path's statements are read in order."""

    sizes: Mapping[str, Size]
    limits: Limits
    schema: str
    resolver: IndexResolver
    created: set[str] = field(default_factory=set)

    def size(self, table: str | None) -> Size | None:
        return None if table is None or table in self.created else self.sizes.get(table)


def assess(parts: Sequence[RevisionSQL], failed: Mapping[str, str],
           parsed: Mapping[str, list[Statement] | str], linted: Mapping[str, list[dict[str, Any]]],
           sizes: Mapping[str, Size], limits: Limits, schema: str,
           expected: Sequence[str], indexes: IndexResolver | None = None) -> list[Finding]:
    """Every finding, in the order the revisions run. `parsed`: each revision's statements,
    or why the parser refused its SQL; `indexes`: the table of an index a statement names."""
    weigh = _Weighing(sizes, limits, schema, indexes or IndexResolver({}, schema))
    findings: list[Finding] = []
    for part in parts:
        findings += _revision_findings(part.revision, parsed.get(part.revision, []),
                                       linted.get(part.revision, []), expected, weigh)
    for revision, why in failed.items():
        findings.append(Finding(revision, "not-analysable-offline", "cockpit",
                                f"its upgrade cannot be rendered offline: {why}",
                                severity="error"))
    rendered = {part.revision for part in parts}
    # on the path, yet neither rendered nor failed: unseen
    findings += [Finding(revision, "not-analysable-offline", "cockpit",
                         "Alembic's offline SQL holds no part for it", severity="error")
                 for revision in expected if revision not in rendered and revision not in failed]
    return findings


def _revision_findings(revision: str, found: list[Statement] | str,
                       linted: Sequence[dict[str, Any]], expected: Sequence[str],
                       weigh: _Weighing) -> list[Finding]:
    """One revision's findings: the parser's reading of each statement, then squawk's."""
    findings: list[Finding] = []
    if expected and revision not in expected:
        findings.append(Finding(revision, "unexpected-revision", "cockpit",
                                "rendered, but not on the path the lineage gives"))
    if isinstance(found, str):
        return [*findings, Finding(revision, "not-analysable-offline", "cockpit",
                                   f"its SQL does not parse: {found}", severity="error")]
    for index, stmt in enumerate(found):
        findings += _statement_findings(revision, stmt, found[index + 1:], weigh)
    for item in linted:
        if (finding := _squawk_finding(revision, item, found, weigh)) is not None:
            findings.append(finding)
    return findings


def _statement_findings(revision: str, stmt: Statement, after: Sequence[Statement],
                        weigh: _Weighing) -> list[Finding]:
    """What one statement does: a COMMIT part way, a DO block, each lock it takes on a
    table, named or through an index."""
    if stmt.creates:
        weigh.created.add(_qualified(stmt.creates, weigh.schema))
    weigh.resolver.saw(stmt)
    findings: list[Finding] = []
    if "transaction-commit" in stmt.flags and after:
        findings.append(_commit_finding(revision, stmt, after))
    if "anonymous-code-block" in stmt.flags:
        findings.append(Finding(
            revision, "anonymous-code-block", "cockpit",
            "a DO block: the parser cannot see what it locks", stmt.text, stmt.line,
            severity="error"))
    locked = (_lock_finding(revision, stmt, table, lock, weigh)
              for table, lock in ((stmt.table, stmt.lock), *stmt.also))
    findings += [finding for finding in locked if finding is not None]
    for name in stmt.indexes:
        findings += _index_finding(revision, stmt, name, weigh.resolver.table(name), weigh)
    return findings


def _squawk_finding(revision: str, item: Mapping[str, Any], found: Sequence[Statement],
                    weigh: _Weighing) -> Finding | None:
    """One of squawk's findings, on the table of the statement at its line."""
    at = _statement_at(found, item["line"])
    table = _squawk_table(at, weigh)
    if table is not None and _ignored(table):
        return None
    size = weigh.size(table)
    rule = item.get("rule_name") or ""
    # squawk 2 reports its rules as warnings: the ones that fail the migration itself are
    # errors here, whatever the size
    error = rule in SQUAWK_ERRORS or (item.get("level") == "Error" and weigh.limits.big(size))
    return Finding(
        revision, rule or "squawk", "squawk",
        " ".join(filter(None, [item.get("message"), item.get("help")])),
        at.text if at else "", item["line"], at.lock if at else None, table,
        size.rows if size else None, size.bytes if size else None,
        "error" if error else "warning", kind=rule_kind(rule))


def _squawk_table(at: Statement | None, weigh: _Weighing) -> str | None:
    """The table a statement touches, named or through the first index it names."""
    if at is None:
        return None
    on = at.table or next(filter(None, map(weigh.resolver.table, at.indexes)), None)
    return _qualified(on, weigh.schema) if on else None


_INDEX_WHAT = {
    "index-drop-locks-table": "drops index {index} without CONCURRENTLY: ACCESS EXCLUSIVE on "
                              "its table, its readers and writers wait",
    "reindex-without-concurrently": "rebuilds index {index} without CONCURRENTLY: writes to "
                                    "its table wait until it is rebuilt",
}


def _index_finding(revision: str, stmt: Statement, index: str, table: str | None,
                   weigh: _Weighing) -> list[Finding]:
    """A statement that names an index locks the index's table: weighed like any other."""
    if stmt.lock not in BLOCKING:
        return []
    flag = next((f for f in _INDEX_WHAT if f in stmt.flags), None)
    what = _INDEX_WHAT[flag].format(index=index) if flag else \
        f"takes {stmt.lock} on index {index}: its table's users wait"
    if table is None:
        return [Finding(revision, flag or "index-table-unknown", "cockpit",
                        f"{what}; its table is neither in the catalog nor created earlier on "
                        "the path, so its size is not weighed", stmt.text, stmt.line,
                        stmt.lock)]
    finding = _lock_finding(revision, stmt, table, stmt.lock, weigh)
    if finding is None:
        return []
    finding.message = what
    finding.rule = flag or finding.rule
    return [finding]


# what an autocommit block may hold and still be only a concurrent build (or a validation)
_CONCURRENT_KINDS = ("IndexStmt", "DropStmt", "ReindexStmt", "AlterTableStmt")


def _commit_finding(revision: str, commit: Statement, after: Sequence[Statement]) -> Finding:
    """A COMMIT inside a revision: an autocommit block that only builds, drops or
    validates concurrently is the safe way to do so (a warning: an interrupted build
    leaves an INVALID index); anything else commits part of the revision."""
    block = list(itertools.takewhile(lambda s: "transaction-begin" not in s.flags
                                     and "transaction-start" not in s.flags, after))
    if block and all(s.kind in _CONCURRENT_KINDS and s.lock in (None, "SHARE UPDATE EXCLUSIVE")
                     for s in block):
        return Finding(revision, "concurrent-block", "cockpit",
                       "runs outside the transaction (an autocommit block) to build or "
                       "validate concurrently: interrupted, it leaves an INVALID index to drop",
                       block[0].text, block[0].line)
    return Finding(revision, "non-atomic-revision", "cockpit",
                   "it commits part way (an autocommit block): a failure after this leaves "
                   "the part before committed, and a retry fails on it (DuplicateTable)",
                   commit.text, commit.line, severity="error")


def _ignored(table: str) -> bool:
    return table.rsplit(".", 1)[-1] == "alembic_version"  # Alembic's own bookkeeping


def _statement_at(found: Sequence[Statement], line: int) -> Statement | None:
    return next((s for s in found if s.line <= line <= s.end_line), None)


_SPECIFIC = ("column-type-change", "index-without-concurrently", "constraint-validation")


def _lock_finding(revision: str, stmt: Statement, name: str | None, lock: str | None,
                  weigh: _Weighing) -> Finding | None:
    """The finding for one table a statement locks: an error when the lock blocks writers
    (or readers) and the table is big; else a warning, for a blocking lock or a rewrite."""
    if name is None:
        return None
    table = _qualified(name, weigh.schema)
    if table in weigh.created or _ignored(table):
        return None  # a table this upgrade creates holds nothing anyone waits for
    flag = next((f for f in _SPECIFIC if f in stmt.flags), None) if name == stmt.table \
        else None
    if flag is None and lock not in BLOCKING:
        return None
    size = weigh.sizes.get(table)
    severity = "error" if lock in BLOCKING and weigh.limits.big(size) else "warning"
    rule = flag or f"{(lock or '').lower().replace(' ', '-')}-lock"
    what = {"column-type-change": "changes a column's type (the table may be rewritten)",
            "index-without-concurrently": "builds an index without CONCURRENTLY: writes wait "
                                          "until it is built",
            "constraint-validation": "checks every row for a constraint"}.get(
        flag or "", f"takes {lock} on the table: everyone after it waits")
    return Finding(revision, rule, "cockpit", what, stmt.text, stmt.line, lock, table,
                   size.rows if size else None, size.bytes if size else None, severity)


def apply_waivers(findings: list[Finding], waivers: Sequence[Waiver]) -> None:
    for finding in findings:
        for waiver in waivers:
            if waiver.rule == finding.rule and (
                    finding.revision == waiver.revision
                    or finding.revision.startswith(f"{waiver.revision}_")):
                finding.waived = {"reason": waiver.reason, "approved_by": waiver.approved_by}
                break


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that keep the gate closed: errors, and what the cockpit cannot vouch
    for, not waived."""
    return [f for f in findings if f.waived is None
            and (f.severity == "error" or f.rule in MUST_WAIVE)]


def _summary(findings: Sequence[Finding]) -> str:
    shut = blocking(findings)
    if not shut:
        errors = sum(f.severity == "error" for f in findings)
        waived = sum(f.waived is not None for f in findings)
        return (f"no blocking finding ({errors} error(s) waived, "
                f"{len(findings) - errors} warning(s), {waived} waived in all)"
                if errors else f"no error; {len(findings)} warning(s), {waived} waived")
    named = "; ".join(f"{f.revision} {f.rule}" + (
        f" on {f.table} ({size_text(f.rows, f.bytes, f.table)})" if f.table else "")
        for f in shut[:4])
    more = f"; and {len(shut) - 4} more" if len(shut) > 4 else ""
    return (f"{len(shut)} finding(s) not waived: {named}{more} — make the change safe, or "
            "waive it in the runbook ([[waivers]]: revision, rule, reason, approved_by)")


@register("migration.risk")
def probe_migration_risk(ctx: ProbeContext, expected: Any, args: Mapping[str, Any]
                         ) -> ProbeResult:
    try:
        return _probe(ctx, args)
    except ProbeUnreachable as exc:
        return ProbeResult(False, None, str(exc), reached=False)


def _probe(ctx: ProbeContext, args: Mapping[str, Any]) -> ProbeResult:
    schema = str(args.get("schema", "public"))
    limits = Limits(int(args.get("max_rows", 100_000)), int(args.get("max_mb", 100)))
    target, step, config = upgrade_goal(args, ctx.commands, ctx.env)
    script = script_directory(ctx.workdir, config)  # a missing alembic.ini is named now
    start = args.get("from")
    if start is None:
        start = _current(ctx.env)
    if (why := unknown_target(script, target)) is not None:
        named = f"step '{step}': `alembic upgrade {target}`" if step else f"`to = {target}`"
        return ProbeResult(False, None, f"{named}: {why}")
    try:
        path = alembic_walk(script, "upgrade", target, [] if start == "base" else [str(start)])
    except CommandError as exc:
        return ProbeResult(False, None, f"Alembic cannot walk from {start} to {target}: {exc}")
    # a relative target counts from `start`; rendering resumes past a failing revision
    rendered_to = path[-1] if path and RELATIVE.match(target) else target
    parts, failed, one = render_offline(ctx.workdir / config.folder, str(start), rendered_to,
                                        ctx.env, path, config.options())
    parsed = _parsed(parts)
    resolver = IndexResolver(index_tables(ctx.env, named_indexes(parsed), schema), schema)
    sizes = table_sizes(ctx.env, _touched(parsed, resolver), schema)
    version = server_version(ctx.env)
    own = [str(rule) for rule in args.get("exclude_rules", [])]
    excluded = [*EXCLUDED_RULES, *[rule for rule in own if rule not in EXCLUDED_RULES]]
    linted = squawk_findings([p for p in parts if not isinstance(parsed[p.revision], str)],
                             wrapped=True, pg_version=version, excluded=excluded)
    findings = assess(parts, failed, parsed, linted, sizes, limits, schema, path, resolver)
    apply_waivers(findings, ctx.waivers)
    totals = _totals(findings)
    held = held_to_end(parts, parsed, _locked_tables(resolver, schema), _ignored, schema) \
        if one else []
    report: dict[str, Any] = {
        "from": str(start), "to": target, "path": path, "schema": schema,
        "limits": asdict(limits), "excluded_rules": excluded,
        "excluded_by_runbook": own,
        "tools": {"squawk": squawk_version(), "pglast": pglast.__version__,
                  "postgresql": version},
        "totals": totals,
        "transaction": {"one_transaction": one, "held_to_end": [
            {**asdict(h), **_size_of(sizes.get(h.table))} for h in held]},
        "findings": [asdict(f) for f in findings],
        # per revision: may a lock timeout in it be retried (a step's [retry])
        "retryable": [asdict(r) for r in retryability(parts, failed, path)],
        # per revision: what undoing it takes (the DBA's rollback decision after a halt)
        "reversal": _reversal(ctx, config, str(start), path, parts, parsed),
    }
    files = (("migration-risk.json", (json.dumps(report, indent=2) + "\n").encode()),
             ("migration-risk.md", report_markdown(report).encode()))
    observed = {"revisions": len(path), **totals}
    return ProbeResult(not totals["blocking"], observed, _summary(findings), files=files)


def _reversal(ctx: ProbeContext, config: AlembicConfig, start: str, path: list[str],
              parts: Sequence[RevisionSQL], parsed: Mapping[str, list[Statement] | str]
              ) -> list[dict[str, object]]:
    if not path:
        return []
    below = {part.revision: part.down for part in parts}
    downs, failed = render_downgrades(ctx.workdir / config.folder, start, path, ctx.env,
                                      below, config.options())
    return reversal(path, downs, failed, parsed)


def _current(env: Mapping[str, str]) -> str:
    """Where the upgrade starts when the probe gives no `from`: the database's revision."""
    current = current_revisions(env)
    if len(current) > 1:
        raise ProbeUnreachable(f"the database has {len(current)} current revisions "
                               f"({', '.join(current)}): give the probe's `from`")
    return current[0] if current else "base"


def _parsed(parts: Sequence[RevisionSQL]) -> dict[str, list[Statement] | str]:
    """Each revision's statements, or why the parser refused its SQL."""
    parsed: dict[str, list[Statement] | str] = {}
    for part in parts:
        try:
            parsed[part.revision] = statements(part.sql)
        except ParseError as exc:
            parsed[part.revision] = str(exc)
    return parsed


def _touched(parsed: Mapping[str, list[Statement] | str], resolver: IndexResolver) -> set[str]:
    """Every table whose size the findings weigh: named, locked through an index, or given
    a new index."""
    read = [s for found in parsed.values() if not isinstance(found, str) for s in found]
    touched = {table for s in read for table, _ in ((s.table, None), *s.also) if table}
    touched |= set(resolver.catalog.values())
    touched |= {s.table for s in read if s.builds and s.table}
    return touched


def _totals(findings: Sequence[Finding]) -> dict[str, int]:
    return {"blocking": len(blocking(findings)),
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
            "waived": sum(f.waived is not None for f in findings),
            "style": sum(f.kind == "style" for f in findings)}


def _locked_tables(resolver: IndexResolver, schema: str
                   ) -> Callable[[Statement], list[tuple[str, str | None]]]:
    """Each table a statement locks, qualified, with the lock: named or through an index."""
    def tables(stmt: Statement) -> list[tuple[str, str | None]]:
        resolver.saw(stmt)
        named = [(t, lock) for t, lock in ((stmt.table, stmt.lock), *stmt.also) if t]
        named += [(t, stmt.lock) for t in map(resolver.table, stmt.indexes) if t]
        return [(_qualified(t, schema), lock) for t, lock in named]
    return tables


def _size_of(size: Size | None) -> dict[str, int | None]:
    return {"rows": size.rows if size else None, "bytes": size.bytes if size else None}


def upgrade_goal(args: Mapping[str, Any], commands: Sequence[tuple[str, str]],
                 env: Mapping[str, str]) -> tuple[str, str | None, AlembicConfig]:
    """(target, step id, the configuration it reads): the probe's `to`, else the target of
    the runbook's last online `alembic upgrade` (the path the cutover really runs), else
    `heads` — read with that upgrade's `-c`, `-n` and `-x`."""
    config = runbook_config(commands, env)
    if "to" in args:
        return str(args["to"]), None, config
    for step, command in reversed(commands):
        found = command_targets(command)
        if found is not None and found[0] == "upgrade" and not found[2] and found[1]:
            return found[1][-1], step, command_config(command, env)
    return "heads", None, config

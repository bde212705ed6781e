"""PostgreSQL probes: objects present, structural parity against a reference snapshot, and
the diagnostics captured when a session halts (who holds and who waits for which lock)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError
from cockpit.probes.alembic_probes import guarded
from cockpit.probes.db import ProbeUnreachable, connect, cut_query, rows
from cockpit.probes.registry import ProbeContext, ProbeResult, register
from cockpit.probes.snapshot import compare, parity_report, take_snapshot
from cockpit.runbook.paths import resolve
from cockpit.session.reader import open_session
from cockpit.session.safefs import MissingPath, UnsafePath, read_named

QUERY_CHARS = 1000  # what the halt diagnostics keep of each session's query text
NOT_CHECKED_UNLINKED = "not checked (no rehearsal linked)"


@register("db.objects_present")
@guarded
def probe_objects_present(ctx: ProbeContext, expected: Any,
                          args: Mapping[str, Any]) -> ProbeResult:
    schema = str(args.get("schema", "public"))
    with connect(ctx.env) as conn:
        found = {r["name"]: r["kind"] for r in rows(conn, """
            SELECT c.relname AS name, CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN
                   'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' END AS kind
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm')
              AND c.relname = ANY(:names)""", schema=schema, names=list(expected))}
    observed = {name: found.get(name, "missing") for name in expected}
    missing = [name for name, kind in observed.items() if kind == "missing"]
    detail = (f"missing: {', '.join(missing)}" if missing
              else f"all {len(expected)} present")
    return ProbeResult(not missing, observed, detail)


@register("db.structural_parity")
@guarded
def probe_structural_parity(ctx: ProbeContext, expected: Any,
                            args: Mapping[str, Any]) -> ProbeResult:
    if "rehearsal_step" in args:
        found = rehearsed_snapshot(ctx.rehearsal, str(args["rehearsal_step"]))
        if isinstance(found, ProbeResult):
            return found
        reference, source = found
    else:
        reference_path = resolve(ctx.workdir, str(args["reference"]))
        try:  # a file the runbook names: not through a link, a regular file only
            reference = json.loads(read_named(ctx.workdir, reference_path).decode("utf-8"))
        except MissingPath:
            return ProbeResult(False, None, f"{reference_path}: no reference snapshot")
        except UnsafePath as exc:
            return ProbeResult(False, None, exc.message)
        source = {"file": str(reference_path)}
    with connect(ctx.env) as conn:
        actual = take_snapshot(conn, str(args.get("schema", reference.get("schema", "public"))))
    differences = compare(reference, actual)
    ok, report = parity_report(differences)
    drift = [f"{d.place}: {d.detail}" for d in differences if d.verdict == "drift"]
    naming = [d.place for d in differences if d.verdict == "naming-only"]
    observed = {"drift": drift, "naming_only": naming, "reference": source}
    return ProbeResult(ok, observed, report)


def rehearsed_snapshot(rehearsal: Path | None,
                       step: str) -> tuple[dict[str, Any], dict[str, Any]] | ProbeResult:
    """The snapshot the linked rehearsal's step printed (its log, as its record hashed it),
    and where it came from; or the answer when there is none. No rehearsal linked (this is
    the rehearsal, or a cutover that gives its commit by hand): `not checked`, said in the
    observed value the decision record's drift field shows — never "none"."""
    if rehearsal is None:
        said = NOT_CHECKED_UNLINKED
        return ProbeResult(True, said, f"{said}: this run's `{step}` snapshot is what a cutover "
                           "linked to it (`--rehearsal`) compares with")
    try:
        state = open_session(rehearsal).state
    except (CockpitError, OSError) as exc:
        return ProbeResult(False, None, f"the rehearsal {rehearsal} cannot be read: {exc}")
    ran = state.steps.get(step)
    if ran is None or ran.status != "passed" or not ran.log or not ran.sha256:
        return ProbeResult(False, None, f"the rehearsal {state.session_id} has no snapshot "
                           f"from step `{step}` (it did not pass there)")
    try:
        data = read_named(rehearsal, rehearsal / ran.log)
    except (MissingPath, UnsafePath, OSError) as exc:
        return ProbeResult(False, None, f"the rehearsal's `{step}` log cannot be read: {exc}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != ran.sha256:
        return ProbeResult(False, None, f"the rehearsal's `{step}` log changed since it was "
                           f"recorded (sha256 {digest[:16]}…, recorded {ran.sha256[:16]}…)")
    try:
        reference = json.loads(data.decode("utf-8"))
    except ValueError:
        reference = None
    if not isinstance(reference, dict) or not {"tables", "enums"} <= reference.keys():
        return ProbeResult(False, None, f"the rehearsal's `{step}` log is not a schema "
                           "snapshot (`cockpit snapshot` prints one)")
    return reference, {"rehearsal": state.session_id, "step": step, "run": ran.run,
                       "sha256": digest}


def pg_halt_diagnostics(ctl: Any) -> dict[str, Any] | None:
    """pg_stat_activity and pg_locks at the moment of a halt, with who blocks whom (`ctl`:
    its `env` and its `redactor`, which masks each query's text before it is cut)."""
    if "DATABASE_URL" not in ctl.env:
        return None
    try:
        with connect(ctl.env) as conn:
            activity = rows(conn, """
                SELECT pid, usename, application_name, client_addr::text, state,
                       wait_event_type, wait_event, backend_type,
                       pg_blocking_pids(pid) AS blocked_by,
                       xact_start::text, query_start::text, query
                FROM pg_stat_activity WHERE datname = current_database()
                ORDER BY pid""")
            locks = rows(conn, """
                SELECT l.pid, l.locktype, l.mode, l.granted, l.relation::regclass::text AS rel,
                       l.transactionid::text AS xid
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE a.datname = current_database() ORDER BY l.granted, l.pid""")
    except ProbeUnreachable as exc:
        return {"error": str(exc)}
    # fetched whole and cut here, once masked: a password the cut splits escapes the mask
    activity = [{**a, "query": cut_query(a["query"], ctl.redactor.redact_text, QUERY_CHARS)}
                for a in activity]
    waiting = [a for a in activity if a["blocked_by"]]
    return {"pg_stat_activity": activity, "pg_locks": locks,
            "blocked": [{"pid": a["pid"], "blocked_by": a["blocked_by"],
                         "query": a["query"]} for a in waiting]}

"""A starting runbook for a team's own Alembic project, in the reference checklist's shape.

`cockpit init` gathers the facts (the project's heads, the database's current revision, the
upgrade path, the tables it creates) and this module turns them into a production runbook:
gates, session setup, a read-only P0 preflight with a schema snapshot, the upgrade with a
typed confirmation and PostgreSQL timeouts, post-checks, the halt-and-contain protocol,
the evidence pack and the decision record. Every value it could not know is a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cockpit.runbook.abort_library import LIBRARY
from cockpit.runbook.model import AbortRule, Runbook
from cockpit.runbook.paths import path_name
from cockpit.runbook.toml_writer import runbook_to_toml

LOGS = "cutover"  # the folder, inside the working directory, for logs and attestations
PLACEHOLDER = "<PASSWORD>"


# The radar's rule, as the demo's runbook has it: sessions queued behind the upgrade's locks.
LOCK_QUEUE = AbortRule(id="lock-queue", label="Application sessions queue behind the "
                       "migration's locks (lock radar)", kind="lock_queue", max_waiting=3,
                       max_wait="2s", samples=2)

# The DBA's pre-flight questions; each line reads back (`cockpit import`) as the same probe.
PREFLIGHT_GATES: list[dict[str, Any]] = [
    {"kind": "probe", "id": "no-long-transactions", "text": "No transaction older than 5 "
     "minutes", "probe": "db.long_transactions", "args": {"max_age": "5m"}},
    {"kind": "probe", "id": "no-idle-in-transaction", "text": "No session idle in a "
     "transaction for more than 5 s", "probe": "db.idle_in_transaction",
     "args": {"max_age": "5s"}},
    {"kind": "probe", "id": "replicas-caught-up", "text": "Replicas within 1 s of the primary",
     "probe": "db.replica_lag", "args": {"max_lag": "1s"}},
    {"kind": "probe", "id": "connection-headroom", "text": "Connection headroom: at least "
     "10% of the slots free", "probe": "db.connection_headroom",
     "args": {"min_free_percent": 10}},
    {"kind": "probe", "id": "no-lock-waiters", "text": "No session waiting on locks",
     "probe": "db.lock_waiters"},
]

# Why each guard is there: a comment above it in the TOML `init` writes.
WHY: dict[str, str] = {
    "setup": "per_environment: the working directory and the DSN's host and database differ "
             "between the clone (the rehearsal) and production; a rehearsal proves this "
             "runbook with those values set aside.",
    "environments.production": "The values the setup items carry (what the checklist shows "
                               "and the approver signs): `cockpit run --environment "
                               "production`.",
    "environments.clone": "The rehearsal's database (and `host`, `workdir` where they differ): "
                          "`cockpit run --environment clone`. The runbook's sha256 pins both.",
    "rehearsed-commit": "Production runs only the commit a rehearsal on the clone passed "
                        "(link it: cockpit run --rehearsal SESSION).",
    "alembic-targets": "A mistyped revision in an `alembic upgrade` would pass every other "
                       "gate and fail mid-cutover: each target is read from the lineage "
                       "before anything runs.",
    "migration-risk": "Each revision the upgrade runs, linted (squawk) and its locks read "
                      "(PostgreSQL's parser) against the live size of its tables: a blocking "
                      "lock on a big table keeps GO closed until it is fixed or waived "
                      "([[waivers]]).",
    "no-long-transactions": "A long transaction holds locks the upgrade's DDL must wait for, "
                            "and the application queues behind that wait.",
    "no-idle-in-transaction": "A session idle in its transaction keeps its locks until "
                              "someone ends it: the usual cause of a lock queue at cutover "
                              "(5 s spares an application's pause between two statements).",
    "replicas-caught-up": "A lagging replica falls further behind while the upgrade writes; "
                          "no replicas is a pass with a note.",
    "connection-headroom": "The upgrade, the cockpit's probes and the application's retries "
                           "need free connection slots.",
    "no-lock-waiters": "Sessions already waiting on a lock now would queue the upgrade "
                       "behind them.",
    "schema-as-rehearsed-before": "Drift check: this database against the snapshot the "
                                  "rehearsal's schema-before step took (its log, "
                                  "hash-checked), before anything changes; in the rehearsal "
                                  "itself (nothing linked) it says `not checked`.",
    "schema-as-rehearsed-after": "Drift check: the upgraded schema against the one the "
                                 "rehearsal's upgrade left; the decision's drift field "
                                 "reports it.",
    "upgrade": "lock_timeout: give up a lock after 5s rather than queue the application "
               "behind it; statement_timeout: no statement runs past 10min; timeout: the "
               "upgrade stops after 30m. Set them to your tables and window.",
    "abort-watch": "What PostgreSQL prints when a migration fails, and the lock radar's "
                   "queue: any of them stops the upgrade and halts the session.",
    "lock-queue": "The lock radar samples who waits behind the upgrade's locks every second: "
                  "more than 3 sessions, or one waiting over 2s, twice in a row, stops it.",
}


@dataclass
class ProjectFacts:
    """What `init` learned about the project; None where it could not learn it."""

    name: str
    workdir: str  # as the runbook names it: relative to the runbook file, or absolute
    heads: list[str]
    alembic: str = "python -m alembic"  # how the project's Alembic is run
    dsn_env: str = "DATABASE_URL"
    dsn: str | None = None  # the live DSN (its password is never written)
    current: list[str] | None = None  # the database's revisions, when it was reached
    path: list[str] | None = None  # revisions the upgrade applies, base first
    tables: list[str] = field(default_factory=list)  # tables the upgrade leaves created
    git: bool = False  # the project is in a git repository


@dataclass
class Starter:
    runbook: Runbook
    toml: str
    notes: list[str]


def dsn_template(dsn: str | None) -> tuple[str, str, list[str]]:
    """(template, database, notes): the DSN with its password replaced by the placeholder
    and `sslmode=require` added (`verify-full` where a root certificate is given); a
    fill-in template when no DSN is known."""
    if dsn:
        parts = urlsplit(dsn)
        if parts.scheme.startswith("postgres") and parts.hostname and parts.path.strip("/"):
            user = parts.username or "USER"
            host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
            netloc = f"{user}:{PLACEHOLDER}@{host}" + (f":{parts.port}" if parts.port else "")
            query = dict(parse_qsl(parts.query))
            if query.get("sslrootcert") and query.get("sslmode") != "verify-full":
                # a root certificate to check the server against: check it, then
                notes = [f"a root certificate is given (sslrootcert={query['sslrootcert']}): the "
                         "runbook asks for sslmode=verify-full, which checks the server's "
                         "certificate chain, host name and expiry, not only encryption"]
                query["sslmode"] = "verify-full"
            elif query.get("sslmode") in ("require", "verify-ca", "verify-full"):
                notes = []
            else:
                notes = ["the DSN did not require TLS; the runbook asks for sslmode=require"]
                query["sslmode"] = "require"
            template = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
            return template, parts.path.strip("/"), notes
    return (f"postgresql+psycopg://USER:{PLACEHOLDER}@HOST:5432/DATABASE?sslmode=require",
            "DATABASE", ["no DSN was given: replace USER, HOST and DATABASE in the setup's "
                         "template (and in its text)"])


def build_starter(facts: ProjectFacts) -> Starter:
    notes: list[str] = []
    head = facts.heads[0]
    if len(facts.heads) > 1:
        notes.append(f"the project has {len(facts.heads)} heads ({', '.join(facts.heads)}): "
                     "merge them (`alembic merge`) before a cutover; the single-head gate "
                     "stays closed until then")
    template, database, dsn_notes = dsn_template(facts.dsn)
    notes += dsn_notes
    sslmode = dict(parse_qsl(urlsplit(template).query)).get("sslmode", "require")
    a = facts.alembic

    def command(step_id: str, cmd: str, log: str, **extra: Any) -> dict[str, Any]:
        return {"kind": "command", "id": step_id, "command": cmd, "log": f"{LOGS}/{log}",
                **extra}

    gates: list[dict[str, Any]] = [
        {"kind": "attestation", "id": "governance-signoff",
         "text": "Governance sign-off received (documented)"},
        {"kind": "attestation", "id": "maintenance-window", "text": "Maintenance window active",
         "prompt": "Change id and the window's end (e.g. CHG-123, until 2026-12-01T02:00Z)"},
        {"kind": "attestation_file", "id": "write-freeze",
         "text": "Write-freeze attested (`write_freeze_attestation.log`)",
         "path": f"{LOGS}/write_freeze_attestation.log"},
        {"kind": "attestation_file", "id": "pitr-window",
         "text": "PITR/backup rollback window attested (`pitr_window_attestation.log`)",
         "path": f"{LOGS}/pitr_window_attestation.log"},
        {"kind": "probe", "id": "single-head", "text": f"Repo head single at `{head}`",
         "probe": "alembic.single_head", "expected": head},
    ]
    if facts.git:
        gates.append({"kind": "probe", "id": "rehearsed-commit",
                      "text": "Same migration commit/tag as the rehearsal's PASS",
                      "probe": "rehearsal.pass",
                      "prompt": "Commit or tag that passed the rehearsal (when no --rehearsal "
                                "session proves it)"})
    else:
        notes.append("the project is not in a git repository: no gate pins the migration "
                     "commit that passed the rehearsal")
    gates.append({"kind": "probe", "id": "migration-risk",
                  "text": "Migration risk reviewed: no blocking lock on a big table left "
                          "unwaived", "probe": "migration.risk"})
    gates.append({"kind": "probe", "id": "alembic-targets",
                  "text": "Every Alembic target is a revision of the lineage",
                  "probe": "alembic.targets_known"})
    gates += PREFLIGHT_GATES
    gates.append({"kind": "statement", "id": "abort-if-unchecked",
                  "text": "Abort if any unchecked."})

    preflight: list[dict[str, Any]] = [
        command("heads-preflight", f"{a} heads", "heads_preflight.log", read_only=True),
        command("history-preflight", f"{a} history --verbose", "history_preflight.log",
                read_only=True),
        command("current-preflight", f"{a} current", "current_preflight.log", read_only=True),
        command("schema-before", f"cockpit snapshot {facts.dsn_env}", "schema_before.json",
                read_only=True),
        _parity("schema-as-rehearsed-before", "schema-before",
                "Schema as the rehearsal found it before its upgrade"),
    ]
    if facts.current is not None:
        start = facts.current[0] if facts.current else "base"
        if facts.current:
            preflight.append({"kind": "check", "id": "current-before",
                              "text": f"`current == {start}`", "probe": "alembic.current_equals",
                              "expected": start})
    else:
        notes.append("the database was not reached: add a `current == REV` check to P0 once "
                     "you know the production revision")
    preflight.append({"kind": "manual", "id": "preflight-reviewed",
                      "text": "Preflight output reviewed; no unapproved deviation"})

    watched = [rule.id for rule in (*LIBRARY, LOCK_QUEUE)]
    # The path is checked before the upgrade: the operator confirms a path already seen.
    upgrade: list[dict[str, Any]] = [] if not facts.path else [{
        "kind": "check", "id": "upgrade-path",
        "text": "Upgrade path includes: " + ", ".join(f"`{rev}`" for rev in facts.path),
        "probe": "alembic.upgrade_path_includes", "expected": facts.path,
        "args": {"from": facts.current[0] if facts.current else "base"}}]
    upgrade.append(command(
        "upgrade", f"{a} upgrade {head}", "upgrade_to_head.log", confirm=head,
        abort_rules=watched, timeout="30m", lock_timeout="5s", statement_timeout="10min"))
    notes.append("the upgrade stops after 30m (timeout), waits at most 5s for a lock "
                 "(lock_timeout) and 10min for a statement (statement_timeout): set them to "
                 "your tables and your window")
    upgrade.append({"kind": "abort_watch", "id": "abort-watch",
                    "text": "Abort immediately on any of:", "rules": watched})

    post: list[dict[str, Any]] = [
        command("current-post", f"{a} current", "current_post_upgrade.log", read_only=True),
        command("heads-post", f"{a} heads", "heads_post_upgrade.log", read_only=True),
        command("schema-after", f"cockpit snapshot {facts.dsn_env}", "schema_after.json",
                read_only=True),
        _parity("schema-as-rehearsed-after", "schema-after",
                "Schema as the rehearsal left it after its upgrade"),
        {"kind": "check", "id": "current-is-head", "text": f"`current == {head}`",
         "probe": "alembic.current_equals", "expected": head},
        {"kind": "check", "id": "single-head-post", "text": f"Single-head remains at `{head}`",
         "probe": "alembic.single_head", "expected": head},
    ]
    if facts.tables:
        post.append({"kind": "check", "id": "tables-present",
                     "text": "Tables the upgrade creates all present:",
                     "probe": "db.objects_present", "expected": facts.tables,
                     "list_items": True})

    logs = [step["log"].split("/")[-1] for phase in (preflight, upgrade, post)
            for step in phase if step["kind"] == "command"]
    evidence = ["write_freeze_attestation.log", "pitr_window_attestation.log", *logs]
    data: dict[str, Any] = {
        "format": 1,
        "id": _slug(f"{facts.name}-cutover"),
        "title": f"{facts.name} — Production Cutover Checklist",
        "production": True,
        "boundary": {"heading": "Control Boundary", "items": [
            {"kind": "statement", "id": "approval-only",
             "text": "Approval-gate document only."},
            {"kind": "statement", "id": "no-execution-before-signoff",
             "text": "Do not execute before governance sign-off + maintenance window "
                     "attestation."},
        ]},
        "gates": {"heading": "A) Go / No-Go Hard Gates", "items": gates},
        # what differs between the clone and production (`[environments.*]` names it)
        "setup": {"heading": "B) Session Setup", "shell": "sh",
                  "per_environment": ["workdir", "dsn"], "items": [
            {"kind": "working_directory", "id": "workdir",
             "text": f"Working directory set to `{path_name(facts.workdir)}`",
             "path": facts.workdir},
            {"kind": "env", "id": "dsn", "name": facts.dsn_env,
             "text": f"`{facts.dsn_env}` set to `{database}` with `sslmode={sslmode}`",
             "template": template, "database": database, "require": {"sslmode": sslmode}},
            {"kind": "script", "id": "setup-script"},
        ]},
        "phases": [
            {"id": "P0", "heading": "C) Phase P0 — Preflight Read-only", "steps": preflight},
            {"id": "P1", "heading": f"D) Phase P1 — Upgrade to `{head}`", "steps": upgrade},
            {"id": "P2", "heading": "E) Phase P2 — Post-upgrade Verification", "steps": post},
        ],
        "halt": {"heading": "F) Halt-and-Contain Protocol", "items": [
            {"kind": "halt", "id": "halt-stop", "action": "stop",
             "text": "Stop execution immediately"},
            {"kind": "halt", "id": "halt-preserve", "action": "preserve",
             "text": "Preserve all logs/artifacts generated so far"},
            {"kind": "halt", "id": "halt-blocker", "action": "record_blocker",
             "text": "Record blocker + root-cause classification"},
            {"kind": "halt", "id": "halt-escalate", "action": "escalate",
             "text": "Escalate to governance + DBA rollback/PITR decision"},
            {"kind": "halt", "id": "halt-no-more", "action": "no_further_commands",
             "text": "Do not continue with additional migration commands"},
        ]},
        "evidence": {"heading": "G) Mandatory Evidence Pack", "items": [
            {"kind": "file", "id": f"ev-{_slug(name.rsplit('.', 1)[0])}", "name": name}
            for name in evidence]},
        "decision": {"heading": "H) Final Decision Record", "items": [
            {"kind": "field", "id": "status", "label": "Status", "allowed": ["PASS", "BLOCKER"],
             "role": "status"},
            {"kind": "field", "id": "final_revision", "label": "Final Revision",
             "role": "final_revision"},
            {"kind": "field", "id": "heads_state", "label": "Heads State", "role": "heads_state"},
            {"kind": "field", "id": "errors", "label": "Errors", "role": "errors"},
            {"kind": "field", "id": "drift", "label": "Drift detected", "role": "drift"},
            {"kind": "field", "id": "root_cause", "label": "Root-cause classification",
             "role": "root_cause"},
            {"kind": "field", "id": "risk_tier", "label": "Updated risk tier",
             "role": "risk_tier", "required": True},
            {"kind": "field", "id": "authorization", "label": "Production cutover "
             "authorization outcome", "role": "authorization", "required": True},
        ]},
        # one runbook for both: the rehearsal runs it `--environment clone`
        "environments": {"production": {}, "clone": {"database": f"{database}_clone"}},
        "abort_rules": [rule.model_dump() for rule in (*LIBRARY, LOCK_QUEUE)],
    }
    runbook = Runbook.model_validate(data)
    notes.append(f"write the two attestation files into {LOGS}/ before the cutover "
                 "(write_freeze_attestation.log, pitr_window_attestation.log)")
    notes.append("the preflight and post-checks run `cockpit snapshot`: run the cockpit where "
                 "the project's Python (with its Alembic and models) is on PATH")
    notes.append("the pre-flight gates read other roles' sessions: the DSN's role needs "
                 "pg_read_all_stats (or pg_monitor), else they answer `not checked` and GO "
                 "stays closed")
    notes.append(f"the clone is assumed to be the database `{database}_clone` on the same "
                 "host: correct [environments.clone] (database, host, workdir) if not")
    notes.append("rehearse on the clone first (`cockpit run cutover.toml --environment clone`); "
                 "the production run links that session (`cockpit run cutover.toml "
                 "--environment production --rehearsal SESSION`): its schema snapshots are "
                 "what the drift checks compare with (unlinked, they say `not checked`)")
    header = (f"A starting runbook for {facts.name}, written by `cockpit init`.\n"
              "Read every item, fill what the notes name, then `cockpit validate` and "
              "`cockpit render` it for approval.")
    return Starter(runbook, runbook_to_toml(runbook, comment=header, why=WHY), notes)


def _parity(step_id: str, snapshot: str, text: str) -> dict[str, Any]:
    return {"kind": "check", "id": step_id,
            "text": f"{text} (naming-only differences accepted)",
            "probe": "db.structural_parity", "args": {"rehearsal_step": snapshot}}


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)[:70] or "runbook"

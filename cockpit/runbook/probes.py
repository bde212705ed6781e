"""The probe catalogue: part of the runbook language. Each probe a runbook may name, the
shape of the value it is checked against and the arguments it takes.

`validate` checks runbooks against it with no probe loaded; `cockpit.probes` implements it
(a test proves every entry has an implementation), and the runbook reference is made from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ExpectedShape = Literal["text", "integer", "list", "boolean", "none"]
ArgShape = Literal["text", "list", "integer", "duration"]


@dataclass(frozen=True)
class ProbeArg:
    name: str
    shape: ArgShape
    summary: str
    default: str | None = None  # as the reference shows it; None: the argument is required


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    expected: ExpectedShape
    summary: str
    # When True the runbook may leave `expected` out and the operator supplies it at the gate.
    expected_optional: bool = False
    args: tuple[ProbeArg, ...] = ()
    # Answered by the engine from sessions (a rehearsal's record), not by a registered probe:
    # a gate only.
    gate_only: bool = False


_SCHEMA = ProbeArg("schema", "text", "the schema looked in", "public")
# The pre-flight probes (probes/preflight.py) read other roles' sessions: what they share.
_BLIND = ("; without pg_read_all_stats (or superuser) it answers `not checked (needs "
          "pg_read_all_stats)`, which keeps its gate closed")
_SEES = ("; it answers with the sessions it found (pid, application, state, age; queries "
         "redacted), leaving out the cockpit's own (`cockpit:…`) and its own connection"
         + _BLIND)
_PREFLIGHT = (
    ProbeSpec(
        "db.long_transactions", "none",
        "no transaction in this database is older than `max_age`" + _SEES,
        args=(ProbeArg("max_age", "duration", "a transaction open longer than this fails",
                       "5m"),),
    ),
    ProbeSpec(
        "db.idle_in_transaction", "none",
        "no session of this database sits idle in a transaction (for longer than `max_age`, "
        "when given)" + _SEES,
        args=(ProbeArg("max_age", "duration", "a session idle in its transaction longer "
                       "than this fails", "none allowed"),),
    ),
    ProbeSpec(
        "db.replica_lag", "none",
        "every replica (`pg_stat_replication`) streams and replays within `max_lag`; no "
        "replicas is a pass with a note; it answers with each replica's state and lag"
        + _BLIND,
        args=(ProbeArg("max_lag", "duration", "a replica further behind than this fails",
                       "1s"),),
    ),
    ProbeSpec(
        "db.connection_headroom", "none",
        "the server has free connection slots: `max_connections` less the reserved ones, "
        "against the client sessions connected to any database (the cockpit's too: they hold "
        "slots; not its own connection); it answers with the counts by application" + _BLIND,
        args=(ProbeArg("min_free", "integer", "free slots needed", "5"),
              ProbeArg("min_free_percent", "integer", "free slots needed, as a percentage "
                       "of the usable ones", "10")),
    ),
    ProbeSpec(
        "db.lock_waiters", "none",
        "no more than `max_waiting` sessions of this database already wait on a lock" + _SEES,
        args=(ProbeArg("max_waiting", "integer", "sessions allowed to wait", "0"),),
    ),
)

PROBES: dict[str, ProbeSpec] = {
    spec.name: spec
    for spec in (
        ProbeSpec("alembic.single_head", "text", "the script directory has exactly one head, R"),
        ProbeSpec("alembic.current_equals", "text", "the database's current revision is R"),
        ProbeSpec(
            "alembic.upgrade_path_includes",
            "list",
            "the upgrade path from a revision to head contains these revisions",
            args=(ProbeArg("from", "text", "the revision the path starts from", "base"),),
        ),
        ProbeSpec("alembic.version_width", "integer", "alembic_version.version_num has width N"),
        ProbeSpec(
            "alembic.width_fits",
            "boolean",
            "the longest revision id fits alembic_version.version_num",
        ),
        ProbeSpec(
            "alembic.targets_known",
            "none",
            "every `alembic upgrade|downgrade|stamp TARGET` of the runbook names a revision "
            "of the lineage its own `-c`/`-n`/`ALEMBIC_CONFIG` reads (a relative one walked "
            "from the database's revision)",
        ),
        ProbeSpec("db.objects_present", "list", "these tables/views exist", args=(_SCHEMA,)),
        ProbeSpec(
            "db.structural_parity",
            "none",
            "the schema matches a reference snapshot (naming-only differences accepted)",
            args=(
                ProbeArg("reference", "text", "the snapshot file (JSON) to compare with, "
                         "relative to the working directory", "— (or `rehearsal_step`)"),
                ProbeArg("rehearsal_step", "text", "instead of a file: the command step whose "
                         "log is the snapshot (`cockpit snapshot`) in the rehearsal linked with "
                         "`--rehearsal`, checked against the rehearsal's recorded sha256. With "
                         "no rehearsal linked (the rehearsal itself) the check passes as `not "
                         "checked (no rehearsal linked)`, which the decision's drift field "
                         "shows", "— (or `reference`)"),
                ProbeArg("schema", "text", "the schema compared", "the snapshot's"),
            ),
        ),
        *_PREFLIGHT,
        ProbeSpec(
            "env.dsn", "none", "the session's DSNs are set, consistent and use TLS",
            args=(
                ProbeArg("var", "text", "the variable holding the DSN", "DATABASE_URL"),
                ProbeArg("same_as", "list", "variables that must name the same server and "
                         "database", "[]"),
                ProbeArg("database", "text", "the database the DSN must name", "any"),
            ),
        ),
        ProbeSpec(
            "migration.risk", "none",
            "each revision the upgrade will run, linted (squawk) and its locks read "
            "(PostgreSQL's parser) against the live size of the tables it touches: no error "
            "left unwaived",
            args=(
                ProbeArg("from", "text", "the revision the upgrade starts from (the anchor "
                         "stamped before it)", "the database's current revision"),
                ProbeArg("to", "text", "the revision it ends at", "the target of the "
                         "runbook's `alembic upgrade` step, else heads"),
                ProbeArg("schema", "text", "the schema unqualified tables are in", "public"),
                ProbeArg("max_rows", "integer", "a table this big (estimated rows) makes a "
                         "blocking lock on it an error", "100000"),
                ProbeArg("max_mb", "integer", "a table this big (MB, indexes included) makes "
                         "a blocking lock on it an error", "100"),
                ProbeArg("exclude_rules", "list", "squawk rules left out for this runbook, by "
                         "name (pinned with it; `validate` refuses a name squawk does not "
                         "have)", "[]"),
            ),
        ),
        ProbeSpec(
            "rehearsal.pass",
            "text",
            "the rehearsal linked with `--rehearsal` proves this cutover: its chain verifies, "
            "its decision is PASS, its transcript is this runbook's (per-environment values "
            "aside), its commit and its upgrade path are this run's. With no rehearsal linked, "
            "the operator gives the commit/tag that passed (as `git.commit_matches`)",
            expected_optional=True,
            args=(ProbeArg("repo", "text", "the repository, relative to the working directory",
                           "."),),
            gate_only=True,
        ),
        ProbeSpec(
            "review.countersigned",
            "none",
            "reviewers countersigned this session's runbook transcript before GO (`cockpit "
            "countersign`, attached): the governance gate answered by SSH signatures, none by "
            "the operator's own key or identity",
            args=(ProbeArg("count", "integer", "how many reviewers", "1"),),
            gate_only=True,
        ),
        ProbeSpec(
            "git.commit_matches",
            "text",
            "the backend repository's HEAD is the commit/tag that passed on the clone",
            expected_optional=True,
            args=(ProbeArg("repo", "text", "the repository, relative to the working directory",
                           "."),),
        ),
    )
}

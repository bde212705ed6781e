"""Abort rules for the conditions cutover checklists name, written against what PostgreSQL
and psycopg really print: the psycopg exception class (the SQLSTATE condition name), the
SQLSTATE code where a tool prints it, and the server's message text. SQLAlchemy shows them as
`(psycopg.errors.DuplicateTable) relation "x" already exists`.

Numeric SQLSTATEs only count next to `SQLSTATE`/`ERROR:` so that a row count can't halt a run.
"""

from __future__ import annotations

import re

from cockpit.runbook.model import AbortRule

LIBRARY: list[AbortRule] = [
    AbortRule(
        id="duplicate-table",
        label="`DuplicateTable`",
        patterns=[r"\bDuplicateTable\b", r"\b42P07\b", r'relation "[^"]+" already exists'],
    ),
    AbortRule(
        id="missing-column",
        label="`MissingColumn`",
        patterns=[
            r"\bUndefinedColumn\b",
            r"\bMissingColumn\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}42703\b",
            r'column \S+ (?:of relation "[^"]+" )?does not exist',
        ],
    ),
    AbortRule(
        id="enum-type-redefinition",
        label="Enum/type redefinition conflict",
        patterns=[
            r"\bDuplicateObject\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}42710\b",
            r'type "[^"]+" already exists',
            r"invalid input value for enum",
        ],
    ),
    AbortRule(
        id="lock-timeout-deadlock",
        label="Lock timeout/deadlock",
        patterns=[
            r"\bLockNotAvailable\b",
            r"\b55P03\b",
            r"canceling statement due to lock timeout",
            r"could not obtain lock on",
            r"\bDeadlockDetected\b",
            r"\b40P01\b",
            r"deadlock detected",
        ],
    ),
    AbortRule(
        id="unexpected-backfill-conflict",
        label="Unexpected backfill conflict",
        patterns=[
            r"\bUniqueViolation\b",
            r"\bNotNullViolation\b",
            r"\bForeignKeyViolation\b",
            r"\bCheckViolation\b",
            r"\bCardinalityViolation\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}235\d\d\b",
            r"duplicate key value violates unique constraint",
            r"violates (?:not-null|foreign key|check) constraint",
            r"command cannot affect row a second time",
        ],
    ),
]

# Conditions teams name beside the reference's five: `cockpit import` maps a checklist's words
# to them too; `init` and the bundled runbooks carry the reference's five (`LIBRARY`) only.
MORE: list[AbortRule] = [
    AbortRule(
        id="statement-timeout",
        label="Statement timeout",
        patterns=[
            r"\bQueryCanceled\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}57014\b",
            r"canceling statement due to statement timeout",
        ],
    ),
    AbortRule(
        id="missing-table",
        label="Missing table",
        patterns=[
            r"\bUndefinedTable\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}42P01\b",
            r'relation "[^"]+" does not exist',
        ],
    ),
    AbortRule(
        id="insufficient-privilege",
        label="Permission denied",
        patterns=[
            r"\bInsufficientPrivilege\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}42501\b",
            r"permission denied for",
            r"must be owner of",
        ],
    ),
    AbortRule(
        id="serialization-failure",
        label="Serialization failure",
        patterns=[
            r"\bSerializationFailure\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}40001\b",
            r"could not serialize access",
        ],
    ),
    AbortRule(
        id="disk-full",
        label="Disk full",
        patterns=[
            r"\bDiskFull\b",
            r"(?:SQLSTATE|ERROR:)\W{0,3}53100\b",
            r"could not extend file",
            r"No space left on device",
        ],
    ),
    AbortRule(
        id="connection-lost",
        label="Connection lost",
        patterns=[
            r"server closed the connection unexpectedly",
            r"terminating connection due to administrator command",
            r"\bAdminShutdown\b",
            r"SSL SYSCALL error",
        ],
    ),
    AbortRule(
        id="alembic-revision-error",
        label="Alembic revision error",
        patterns=[
            r"Can't locate revision identified by",
            r"Multiple head revisions are present",
            r"is not a valid revision",
        ],
    ),
]

# Whole words in a checklist's label that name each library rule.
_LABEL_WORDS: dict[str, str] = {
    "duplicate-table": r"\bduplicate\s*table\b",
    "missing-column": r"\b(?:missing|undefined)\s*column\b",
    "enum-type-redefinition": r"\benum\b|\btype\s+redefinition\b|\bduplicate\s*object\b",
    "lock-timeout-deadlock": r"\block\s*(?:timeout|wait|not\s*available)\b|\bdeadlock",
    "unexpected-backfill-conflict": r"\bbackfill\b|\bunique\s*violation\b",
    "statement-timeout": r"\bstatement\s*timeout|\bquery\s*cancel",
    "missing-table": r"\b(?:missing|undefined|unknown)\s*(?:table|relation)\b",
    "insufficient-privilege": r"\bpermission\s*denied\b|\binsufficient\s*privilege|"
                              r"\bmust\s*be\s*owner\b",
    "serialization-failure": r"\bserializ(?:ation|e)\b",
    "disk-full": r"\bdisk\s*full\b|\bno\s*space\s*left\b|\bout\s*of\s*disk\b",
    "connection-lost": r"\bconnection\s*(?:lost|dropped|reset|terminated)\b|\bserver\s*closed\b"
                       r"|\badmin\s*shutdown\b",
    "alembic-revision-error": r"\bcan'?t\s*locate\s*revision|\bmultiple\s*heads?\b|"
                              r"\bunknown\s*revision\b|\brevision\s*not\s*found\b",
}


def library_rule_for(label: str) -> AbortRule | None:
    """The library rule a checklist label names, if any (the reference's five first)."""
    words = label.replace("`", "").lower()
    for rule in (*LIBRARY, *MORE):
        if re.search(_LABEL_WORDS[rule.id], words):
            return rule
    return None


def literal_rule(rule_id: str, label: str, literals: list[str]) -> AbortRule:
    """A rule matching the text a checklist quotes (what the tool prints), for a condition the
    library doesn't know; never the label's own words."""
    return AbortRule(id=rule_id, label=label, patterns=[re.escape(text) for text in literals])

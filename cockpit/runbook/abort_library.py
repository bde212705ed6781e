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

# Whole words in a checklist's label that name each library rule.
_LABEL_WORDS: dict[str, str] = {
    "duplicate-table": r"\bduplicate\s*table\b",
    "missing-column": r"\b(?:missing|undefined)\s*column\b",
    "enum-type-redefinition": r"\benum\b|\btype\s+redefinition\b|\bduplicate\s*object\b",
    "lock-timeout-deadlock": r"\block\s*(?:timeout|wait|not\s*available)\b|\bdeadlock",
    "unexpected-backfill-conflict": r"\bbackfill\b|\bunique\s*violation\b",
}


def library_rule_for(label: str) -> AbortRule | None:
    """The library rule a checklist label names, if any."""
    words = label.replace("`", "").lower()
    for rule in LIBRARY:
        if re.search(_LABEL_WORDS[rule.id], words):
            return rule
    return None


def literal_rule(rule_id: str, label: str) -> AbortRule:
    """A rule that matches the label's own words, for a condition the library doesn't know."""
    return AbortRule(id=rule_id, label=label, patterns=[re.escape(label.replace("`", ""))])

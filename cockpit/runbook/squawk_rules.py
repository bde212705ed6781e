"""squawk's rules as the risk gate sorts them: `lock` — what a statement does to the live
tables and the application using them (a lock, a rewrite, a change that breaks running code);
`style` — the shape of the schema (types, naming, idempotence), which blocks nobody during
the cutover. A runbook may exclude rules by name (`migration.risk`'s `exclude_rules`); a name
is checked against this list, else against the installed squawk itself.

The list is squawk 2.70's (74 rules, each accepted by `squawk --exclude`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

RuleKind = Literal["lock", "style"]

# Schema taste: a finding here never makes anyone wait during the upgrade.
STYLE_RULES = frozenset({
    "ban-char-field", "identifier-too-long", "prefer-bigint-over-int",
    "prefer-bigint-over-smallint", "prefer-identity", "prefer-robust-stmts",
    "prefer-text-field", "prefer-timestamp-tz", "require-enum-value-ordering",
    "require-table-schema",
})

LOCK_RULES = frozenset({
    "adding-field-with-default", "adding-foreign-key-constraint", "adding-not-nullable-field",
    "adding-required-field", "adding-serial-primary-key-field", "ban-add-column",
    "ban-add-composite-attribute", "ban-add-enum-value", "ban-alter-database-options",
    "ban-alter-domain-with-add-constraint", "ban-alter-extension", "ban-alter-function-options",
    "ban-alter-generated-expression", "ban-alter-identity", "ban-alter-policy-condition",
    "ban-alter-policy-roles", "ban-alter-role-options", "ban-alter-row-level-security",
    "ban-alter-sequence-values", "ban-alter-system-options", "ban-alter-view-options",
    "ban-concurrent-index-creation-in-transaction", "ban-create-domain-with-constraint",
    "ban-create-policy", "ban-detach-inheritance", "ban-disable-trigger", "ban-drop-column",
    "ban-drop-constraint", "ban-drop-database", "ban-drop-domain", "ban-drop-extension",
    "ban-drop-function", "ban-drop-generated-expression", "ban-drop-index", "ban-drop-not-null",
    "ban-drop-policy", "ban-drop-schema", "ban-drop-sequence", "ban-drop-table", "ban-drop-type",
    "ban-drop-view", "ban-new-write-restriction", "ban-replace-view-function",
    "ban-replica-identity", "ban-revoke", "ban-set-default", "ban-set-schema",
    "ban-truncate-cascade", "ban-uncommitted-transaction", "changing-column-type",
    "constraint-missing-not-valid", "disallowed-unique-constraint", "prefer-repack",
    "renaming-column", "renaming-object", "renaming-table", "require-concurrent-index-creation",
    "require-concurrent-index-deletion", "require-concurrent-partition-detach",
    "require-concurrent-reindex", "require-lock-timeout", "require-statement-timeout",
    "require-timeout-settings", "transaction-nesting",
})

KNOWN_RULES = STYLE_RULES | LOCK_RULES


def rule_kind(rule: str) -> RuleKind:
    """A squawk rule's kind; one this list does not know (a newer squawk's) counts as `lock`:
    never hidden among the style findings."""
    return "style" if rule in STYLE_RULES else "lock"


def squawk_binary() -> str | None:
    """squawk as the squawk-cli package installs it beside this Python, else on PATH."""
    return shutil.which("squawk", path=str(Path(sys.executable).parent)) or \
        shutil.which("squawk")


def squawk_knows(rule: str) -> bool | None:
    """Whether squawk has a rule by this name: this list first, else the installed squawk
    (it refuses an unknown name in `--exclude`); None when neither can tell."""
    if rule in KNOWN_RULES:
        return True
    binary = squawk_binary()
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, f"--exclude={rule}", "--stdin-filepath=x.sql"],
                              input="SELECT 1;\n", capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if "invalid rule name" in done.stderr:
        return False
    return True if done.returncode in (0, 1) else None

"""The names of the built-in probes and the shape of the value each one is checked against.

Kept free of heavy imports: the runbook validator uses it to reject a check that names a
probe nobody implements, before any database library is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ExpectedShape = Literal["text", "integer", "list", "boolean", "none"]


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    expected: ExpectedShape
    summary: str
    # When True the runbook may leave `expected` out and the operator supplies it at the gate.
    expected_optional: bool = False


PROBES: dict[str, ProbeSpec] = {
    spec.name: spec
    for spec in (
        ProbeSpec("alembic.single_head", "text", "the script directory has exactly one head, R"),
        ProbeSpec("alembic.current_equals", "text", "the database's current revision is R"),
        ProbeSpec(
            "alembic.upgrade_path_includes",
            "list",
            "the upgrade path from the current revision to head contains these revisions",
        ),
        ProbeSpec("alembic.version_width", "integer", "alembic_version.version_num has width N"),
        ProbeSpec(
            "alembic.width_fits",
            "boolean",
            "the longest revision id fits alembic_version.version_num",
        ),
        ProbeSpec("db.objects_present", "list", "these tables/views exist"),
        ProbeSpec(
            "db.structural_parity",
            "none",
            "the schema matches a reference snapshot (naming-only differences accepted)",
        ),
        ProbeSpec("env.dsn", "none", "the session's DSNs are set, consistent and use TLS"),
        ProbeSpec(
            "git.commit_matches",
            "text",
            "the backend repository's HEAD is the commit/tag that passed on the clone",
            expected_optional=True,
        ),
    )
}

"""Fixtures the probe tests share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql

from cockpit.demo.pgcluster import PgCluster

ROLE_SECRET = "s3cr3t-Pw"


@pytest.fixture
def role(pg_cluster: PgCluster) -> Iterator[str]:
    """A plain login role (not a superuser, no pg_read_all_stats) with ROLE_SECRET."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(ROLE_SECRET)))
    yield name
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))

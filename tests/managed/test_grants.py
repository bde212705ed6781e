"""What the migration role can and cannot do, said before GO: each gap a warning naming the
GRANT, and nothing said where there is no gap."""

from __future__ import annotations

from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.grants import capabilities
from tests.managed.conftest import Backend


def test_a_role_in_its_own_database_lacks_only_the_stats(backend: Backend) -> None:
    found = capabilities(backend.url(), {})
    assert found.warnings == [
        f"WARNING role {backend.role} lacks pg_read_all_stats: the lock radar and the halt "
        "diagnostics will see <insufficient privilege> for other roles' queries — GRANT "
        f'pg_read_all_stats TO "{backend.role}"']
    assert found.server.startswith("server: PostgreSQL ")
    assert "managed:" not in found.server  # neither Azure's nor AWS's settings here


def test_a_schema_it_cannot_create_in_and_a_table_it_does_not_own_are_named(
        backend: Backend, pg_cluster: PgCluster) -> None:
    with pg_cluster.admin(backend.database) as admin:
        admin.execute("CREATE SCHEMA app")  # the superuser's
        admin.execute(f'GRANT USAGE ON SCHEMA app TO "{backend.role}"')
        admin.execute("CREATE TABLE app.alembic_version (version_num varchar(32))")
        admin.execute("CREATE TABLE app.orders (id int)")
        admin.execute(f'ALTER ROLE "{backend.role}" SET search_path = app')
        admin.execute(f'GRANT pg_read_all_stats TO "{backend.role}"')
    found = capabilities(backend.url(), {})
    owner = pg_cluster.superuser
    assert found.warnings == [
        f"WARNING role {backend.role} cannot CREATE in schema app: a revision that adds a "
        f'table fails — GRANT CREATE ON SCHEMA "app" TO "{backend.role}"',
        f"WARNING role {backend.role} does not own alembic_version (owner {owner}), orders "
        f"(owner {owner}) in schema app: a revision that alters them fails — ALTER TABLE "
        f'"app"."alembic_version" OWNER TO "{backend.role}" (as its owner), and each of the '
        "others alike"]

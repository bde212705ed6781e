"""What the migration role can and cannot do for this cutover, and what the server offers,
said before GO rather than found out halfway: without `pg_read_all_stats` the lock radar
and the halt diagnostics see `<insufficient privilege>` for other roles' queries; without
CREATE on its schema a revision that adds a table fails; a table it does not own it cannot
alter. Each gap is a warning naming the GRANT to run — the gate is not closed by one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from psycopg import sql

from cockpit.probes.db import libpq_connect
from cockpit.probes.dsn import conninfo

_ROLE = """
SELECT current_user, current_schema(),
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       coalesce(has_schema_privilege(current_schema(), 'CREATE'), false),
       current_setting('server_version'),
       to_regclass('pg_catalog.pg_stat_progress_create_index') IS NOT NULL
"""
# Tables in the role's schema it cannot alter (not the owner nor a member of the owner):
# alembic_version first, as every upgrade writes it.
_NOT_OWNED = """
SELECT c.relname, pg_get_userbyid(c.relowner)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND NOT pg_has_role(current_user, c.relowner, 'USAGE')
ORDER BY c.relname <> 'alembic_version', c.relname LIMIT 6
"""
# Settings only a managed service has, by the service they name.
_MANAGED = {"azure.extensions": "Azure Database for PostgreSQL",
            "rds.extensions": "AWS RDS / Aurora",
            "cloudsql.iam_authentication": "Google Cloud SQL"}


@dataclass(frozen=True)
class Capabilities:
    warnings: list[str] = field(default_factory=list)
    server: str = ""  # version, managed service, progress views


def ident(name: str) -> str:
    """A name as SQL writes it (psycopg's own quoting), for a statement shown to a DBA."""
    return sql.Identifier(name).as_string(None)


def capabilities(dsn: str, env: Mapping[str, str], timeout_s: int = 10) -> Capabilities:
    """The role's gaps and the server's offer, as the DSN's role sees them
    (psycopg.Error: it cannot connect)."""
    params = conninfo(dsn)
    if params is None:
        raise ValueError("the DSN does not parse")
    with libpq_connect(params, timeout_s, autocommit=True) as conn:
        row = conn.execute(_ROLE).fetchone()
        assert row is not None
        user, schema, superuser, stats, create, version, progress = row
        not_owned = [] if superuser else conn.execute(_NOT_OWNED).fetchall()
        managed = [service for name, service in _MANAGED.items()
                   if conn.execute("SELECT 1 FROM pg_settings WHERE name = %s",
                                   [name]).fetchone()]
    warnings: list[str] = []
    if not (superuser or stats):
        warnings.append(f"WARNING role {user} lacks pg_read_all_stats: the lock radar and the "
                        "halt diagnostics will see <insufficient privilege> for other roles' "
                        f"queries — GRANT pg_read_all_stats TO {ident(user)}")
    if schema is None:
        warnings.append(f"WARNING role {user} has no schema on its search_path to create in")
    elif not (superuser or create):
        warnings.append(f"WARNING role {user} cannot CREATE in schema {schema}: a revision "
                        f"that adds a table fails — GRANT CREATE ON SCHEMA {ident(schema)} "
                        f"TO {ident(user)}")
    if not_owned:
        names = ", ".join(f"{name} (owner {owner})" for name, owner in not_owned[:5])
        more = " and more" if len(not_owned) > 5 else ""
        # the owner's change, never a grant of the owner's role (it may be a superuser)
        first = f"{ident(str(schema))}.{ident(str(not_owned[0][0]))}"
        warnings.append(f"WARNING role {user} does not own {names}{more} in schema {schema}: "
                        f"a revision that alters them fails — ALTER TABLE {first} OWNER TO "
                        f"{ident(user)} (as its owner), and each of the others alike")
    offer = [f"PostgreSQL {version}", *(f"managed: {m}" for m in managed),
             "index builds report progress (pg_stat_progress_create_index)" if progress
             else "no pg_stat_progress_create_index"]
    return Capabilities(warnings, "server: " + ", ".join(offer))

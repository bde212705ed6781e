"""A fleet's world on a real PostgreSQL: N tenant databases owned by a role with a SCRAM
password, a small Alembic project (two revisions), a 3-step runbook that takes each
tenant's shape from its `[environments.tenant]`, a targets file and an answers file."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cockpit.demo.pgcluster import PgCluster

ROLE = "fleet"

REVISIONS = {
    "r1": (None, 'op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True))'),
    "r2": ("r1", 'op.add_column("accounts", sa.Column("name", sa.Text))'),
}

ENV_PY = '''import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ["DATABASE_URL"]
if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
'''

RUNBOOK = '''format = 1
id = "tenant-upgrade"
title = "Tenant upgrade"
production = false

[setup]
heading = "Setup"
items = [
  {{ kind = "working_directory", id = "wd", text = "Working directory `project`", path = "project" }},
  {{ kind = "env", id = "dsn", text = "`DATABASE_URL` names `tenant_base` with `sslmode=require`", name = "DATABASE_URL", template = "postgresql+psycopg://{role}:<PASSWORD>@127.0.0.1:{port}/tenant_base?sslmode=require", database = "tenant_base", require = {{ sslmode = "require" }} }},
]

[[phases]]
id = "P1"
heading = "P1 before"
steps = [
  {{ kind = "command", id = "before", command = "alembic current{before}", log = "logs/before.log", read_only = true }},
]

[[phases]]
id = "P2"
heading = "P2 upgrade"
steps = [
  {{ kind = "command", id = "upgrade", command = "alembic upgrade head", log = "logs/upgrade.log", abort_rules = ["duplicate-table"] }},
]

[[phases]]
id = "P3"
heading = "P3 after"
steps = [
  {{ kind = "command", id = "after", command = "alembic current{after}", log = "logs/after.log", read_only = true }},
]

[halt]
heading = "Halt-and-Contain"
items = [
  {{ kind = "halt", id = "h-stop", action = "stop", text = "Stop execution immediately" }},
  {{ kind = "halt", id = "h-blocker", action = "record_blocker", text = "Record blocker + root cause" }},
]

[decision]
heading = "Decision"
items = [
  {{ kind = "field", id = "status", label = "Status", allowed = ["PASS", "BLOCKER"], role = "status" }},
  {{ kind = "field", id = "errors", label = "Errors", role = "errors" }},
]

[[abort_rules]]
id = "duplicate-table"
label = "`DuplicateTable`"
patterns = ['\\\\bDuplicateTable\\\\b', 'relation "[^"]+" already exists']

[environments.tenant]
'''


@dataclass(frozen=True)
class Server:
    """The embedded PostgreSQL, and the port of the TLS terminator in front of it (the
    embedded build has no OpenSSL; a session's DSN must use TLS)."""

    cluster: PgCluster
    port: int


@dataclass
class FleetWorld:
    root: Path
    server: Server
    password: str
    runbook: Path
    targets: Path
    answers: Path
    names: list[str]

    def env(self) -> dict[str, str]:
        """The operator's environment: the base DSN (each target's database put in by the
        fleet), password included."""
        import os

        return {**os.environ, "DATABASE_URL": self.dsn("tenant_base"),
                "COCKPIT_OPERATOR": "alice"}

    def dsn(self, database: str) -> str:
        return (f"postgresql+psycopg://{ROLE}:{self.password}@127.0.0.1:{self.server.port}/"
                f"{database}?sslmode=require")

    def version(self, database: str) -> str | None:
        with self.server.cluster.admin(database) as conn:
            exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
            if exists is None or exists[0] is None:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            return None if row is None else str(row[0])


def database_of(name: str) -> str:
    return f"tenant_{name}"


def targets_toml(names: list[str], waves: str, fleet: str = "") -> str:
    lines = ["format = 1", 'environment = "tenant"', "", "[fleet]", fleet, "", waves, ""]
    for name in names:
        lines += ["[[targets]]", f'name = "{name}"', f'database = "{database_of(name)}"', ""]
    return "\n".join(lines)


WAVES_1_5_14 = '''[[waves]]
name = "canary"
targets = ["t01"]

[[waves]]
name = "second"
count = 5

[[waves]]
name = "rest"
rest = true
'''

ANSWERS = '''[fleet]
go = "{go}"

[fleet.waves]
second = "second"
rest = "rest"
'''


def build_world(root: Path, server: Server, count: int = 20, after: str = "", before: str = "",
                broken: tuple[str, ...] = (), fleet: str = "parallel = 4",
                waves: str = WAVES_1_5_14) -> FleetWorld:
    """`count` tenants t01..; each in `broken` already has the table r1 makes (its upgrade
    fails on DuplicateTable). `before`, `after`: appended to the first and the last step's
    command (shell)."""
    root.mkdir(parents=True, exist_ok=True)
    cluster = server.cluster
    password = f"Fl33t-{secrets.token_hex(8)}"
    cluster.create_role(ROLE, password)
    names = [f"t{i:02d}" for i in range(1, count + 1)]
    with cluster.admin() as conn:
        for database in ["tenant_base", *(database_of(n) for n in names)]:
            conn.execute(f'CREATE DATABASE "{database}" OWNER {ROLE}')
    for name in broken:
        with cluster.admin(database_of(name)) as conn:
            conn.execute("CREATE TABLE accounts (id int)")
    project = root / "project"
    (project / "migrations" / "versions").mkdir(parents=True)
    (project / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (project / "migrations" / "env.py").write_text(ENV_PY)
    (project / "migrations" / "script.py.mako").write_text("")
    for rev, (down, body) in REVISIONS.items():
        (project / "migrations" / "versions" / f"{rev}.py").write_text(
            "from alembic import op\nimport sqlalchemy as sa\n\n"
            f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
            f"depends_on = None\n\n\ndef upgrade():\n    {body}\n\n\ndef downgrade():\n"
            "    pass\n")
    runbook = root / "runbook.toml"
    runbook.write_text(RUNBOOK.format(role=ROLE, port=server.port, after=_toml(after),
                                      before=_toml(before)))
    targets = root / "targets.toml"
    targets.write_text(targets_toml(names, waves, fleet))
    sha = subprocess.run(["sha256sum", str(targets)], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    answers = root / "answers.toml"
    answers.write_text(ANSWERS.format(go=f"GO {sha[:12]}"))
    return FleetWorld(root, server, password, runbook, targets, answers, names)


def _toml(text: str) -> str:
    """Text inside a TOML basic string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')

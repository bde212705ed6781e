"""The demo backend: an Alembic project whose lineage is shaped like the reference's.

A chain 0001..0018, the anchor `0019_nav_snapshots_and_investor_statements` (43 characters:
too long for Alembic's default VARCHAR(32) version column), then 0020-0023, a branch 0009b
from an early revision, and the merge head 70a79686336c. The migrations after the anchor
create the six AI-4 objects. Faults swap in the migration code that would cause them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ANCHOR = "0019_nav_snapshots_and_investor_statements"
HEAD = "70a79686336c"
AI4_OBJECTS = ["active_investments", "performance_drift_flags", "covenant_status_register",
               "cash_impact_flags", "investment_risk_registry", "board_monitoring_briefs"]


@dataclass(frozen=True)
class Revision:
    revision: str
    down: str | tuple[str, ...] | None
    message: str
    sql: tuple[str, ...]


def _chain() -> list[Revision]:
    r = Revision
    return [
        r("0001", None, "funds", ("""CREATE TABLE funds (id serial PRIMARY KEY,
            code varchar(16) NOT NULL UNIQUE, name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())""",)),
        r("0002", "0001", "investors", ("""CREATE TABLE investors (id serial PRIMARY KEY,
            fund_id int NOT NULL REFERENCES funds(id), name text NOT NULL)""",)),
        r("0003", "0002", "facilities", ("""CREATE TABLE facilities (id serial PRIMARY KEY,
            fund_id int NOT NULL REFERENCES funds(id) ON DELETE RESTRICT,
            borrower text NOT NULL, limit_amount numeric(18,2) NOT NULL)""",)),
        r("0004", "0003", "risk level enum",
          ("CREATE TYPE risk_level AS ENUM ('low', 'medium', 'high')",)),
        r("0005", "0004", "covenants", ("""CREATE TABLE covenants (id serial PRIMARY KEY,
            facility_id int NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
            kind text NOT NULL, threshold numeric)""",)),
        r("0006", "0005", "monthly report packs", ("""CREATE TABLE monthly_report_packs (
            id serial PRIMARY KEY, fund_id int NOT NULL, period date NOT NULL,
            status text NOT NULL DEFAULT 'draft',
            CONSTRAINT monthly_report_packs_fund_id_fkey FOREIGN KEY (fund_id)
                REFERENCES funds(id) ON DELETE CASCADE,
            CONSTRAINT uq_monthly_report_packs_fund_period UNIQUE (fund_id, period))""",)),
        r("0007", "0006", "facility index",
          ("CREATE INDEX ix_facilities_fund_id ON facilities (fund_id)",)),
        r("0008", "0007", "nav points", ("""CREATE TABLE nav_points (id serial PRIMARY KEY,
            fund_id int NOT NULL REFERENCES funds(id), as_of date NOT NULL,
            nav numeric(18,2) NOT NULL)""",)),
        r("0009", "0008", "facility risk",
          ("ALTER TABLE facilities ADD COLUMN risk risk_level NOT NULL DEFAULT 'low'",)),
        r("0010", "0009", "drawdowns", ("""CREATE TABLE drawdowns (id serial PRIMARY KEY,
            facility_id int NOT NULL REFERENCES facilities(id),
            amount numeric(18,2) NOT NULL, drawn_on date NOT NULL)""",)),
        r("0011", "0010", "drawdown index",
          ("CREATE INDEX ix_drawdowns_facility ON drawdowns (facility_id, drawn_on)",)),
        r("0012", "0011", "investor email", ("ALTER TABLE investors ADD COLUMN email text",)),
        r("0013", "0012", "repayments", ("""CREATE TABLE repayments (id serial PRIMARY KEY,
            drawdown_id int NOT NULL REFERENCES drawdowns(id) ON DELETE CASCADE,
            amount numeric(18,2) NOT NULL, repaid_on date NOT NULL)""",)),
        r("0014", "0013", "covenant test date",
          ("ALTER TABLE covenants ADD COLUMN tested_on date",)),
        r("0015", "0014", "nav index",
          ("CREATE INDEX ix_nav_points_fund_as_of ON nav_points (fund_id, as_of)",)),
        r("0016", "0015", "pack approver",
          ("ALTER TABLE monthly_report_packs ADD COLUMN approved_by text",)),
        r("0017", "0016", "report recipients", ("""CREATE TABLE report_recipients (
            id serial PRIMARY KEY,
            pack_id int NOT NULL REFERENCES monthly_report_packs(id) ON DELETE CASCADE,
            investor_id int NOT NULL REFERENCES investors(id))""",)),
        r("0018", "0017", "investor index",
          ("CREATE INDEX ix_investors_fund ON investors (fund_id)",)),
        r(ANCHOR, "0018", "nav snapshots and investor statements", (
            """CREATE TABLE nav_snapshots (id serial PRIMARY KEY,
               fund_id int NOT NULL REFERENCES funds(id), as_of date NOT NULL,
               nav numeric(18,2) NOT NULL, UNIQUE (fund_id, as_of))""",
            """CREATE TABLE investor_statements (id serial PRIMARY KEY,
               investor_id int NOT NULL REFERENCES investors(id),
               nav_snapshot_id int NOT NULL REFERENCES nav_snapshots(id), issued_on date)""",
            """ALTER TABLE monthly_report_packs ADD COLUMN nav_snapshot_id int,
               ADD CONSTRAINT monthly_report_packs_nav_snapshot_id_fkey
               FOREIGN KEY (nav_snapshot_id) REFERENCES nav_snapshots(id) ON DELETE SET NULL""",
        )),
    ]


def _after_anchor(fault: str | None) -> list[Revision]:
    r = Revision
    branch_extra: tuple[str, ...] = ()
    if fault == "duplicate-table":  # the branch creates a table the trunk already created
        branch_extra = ("""CREATE TABLE active_investments (id serial PRIMARY KEY,
            facility_id int NOT NULL REFERENCES facilities(id))""",)
    elif fault == "enum-conflict":  # the branch defines a type the trunk already defined
        branch_extra = ("CREATE TYPE drift_severity AS ENUM ('low', 'high')",)
    covenant_column = "last_tested" if fault == "missing-column" else "tested_on"
    # a long rewrite, as it were: the lock on facilities held while the application reads
    held = ("SELECT pg_sleep(20)",) if fault == "lock-queue" else ()
    # an index built the blocking way on a table prod has filled (faults.py)
    risky = ("CREATE INDEX ix_facilities_borrower ON facilities (borrower)",) \
        if fault == "risky-index" else ()
    revisions = [
        r("0020", ANCHOR, "active investments (AI-4)", (
            "ALTER TABLE facilities ADD COLUMN active boolean NOT NULL DEFAULT true",
            *held,
            """CREATE TABLE active_investments (id serial PRIMARY KEY,
               facility_id int NOT NULL REFERENCES facilities(id),
               fund_id int NOT NULL REFERENCES funds(id),
               outstanding numeric(18,2) NOT NULL DEFAULT 0)""",
            """INSERT INTO active_investments (facility_id, fund_id, outstanding)
               SELECT id, fund_id, limit_amount FROM facilities WHERE active""",
        )),
        r("0021", "0020", "performance drift flags (AI-4)", (
            "CREATE TYPE drift_severity AS ENUM ('info', 'warning', 'critical')",
            """CREATE TABLE performance_drift_flags (id serial PRIMARY KEY,
               investment_id int NOT NULL REFERENCES active_investments(id),
               severity drift_severity NOT NULL, noted_at timestamptz NOT NULL DEFAULT now())""",
        )),
        r("0022", "0021", "covenant status register (AI-4)", (
            """CREATE TABLE covenant_status_register (id serial PRIMARY KEY,
               covenant_id int NOT NULL REFERENCES covenants(id), status text NOT NULL,
               as_of date NOT NULL DEFAULT current_date)""",
            f"""INSERT INTO covenant_status_register (covenant_id, status, as_of)
               SELECT id, 'compliant', coalesce({covenant_column}, current_date)
               FROM covenants""",
        )),
        r("0023", "0022", "cash impact flags (AI-4)", (
            """CREATE TABLE cash_impact_flags (id serial PRIMARY KEY,
               investment_id int NOT NULL REFERENCES active_investments(id),
               amount numeric(18,2), flagged boolean NOT NULL DEFAULT false)""",
            *risky,
        )),
        r("0009b", "0009", "investment risk registry (AI-4), a branch", (
            *branch_extra,
            """CREATE TABLE investment_risk_registry (id serial PRIMARY KEY,
               facility_id int NOT NULL REFERENCES facilities(id), risk risk_level NOT NULL)""",
            """INSERT INTO investment_risk_registry (facility_id, risk)
               SELECT id, risk FROM facilities""",
        )),
        r(HEAD, ("0023", "0009b"), "merge heads; board monitoring briefs (AI-4)", (
            """CREATE VIEW board_monitoring_briefs AS
               SELECT f.code AS fund, count(ai.id) AS investments,
                      coalesce(sum(ai.outstanding), 0) AS outstanding
               FROM funds f LEFT JOIN active_investments ai ON ai.fund_id = f.id
               GROUP BY f.code""",
        )),
    ]
    if fault == "multiple-heads":  # a hotfix nobody merged: two heads
        revisions.append(r("0024_hotfix", "0023", "unmerged hotfix", ("SELECT 1",)))
    return revisions


def lineage(fault: str | None = None) -> list[Revision]:
    return _chain() + _after_anchor(fault)


_MIGRATION = '''"""{message}

Revision ID: {revision}
Revises: {down_text}
"""

from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    raise NotImplementedError("the cutover rolls back by PITR, not by downgrade")
'''

_ENV = '''"""Alembic environment of the demo backend: the database comes from DATABASE_URL."""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine{extra_import}
from sqlalchemy.pool import NullPool


if context.config.config_file_name:
    fileConfig(context.config.config_file_name)


def run_migrations_offline() -> None:
    """`alembic upgrade a:b --sql`: the SQL, written out, nothing connected."""
    context.configure(url=os.environ["DATABASE_URL"], target_metadata=None,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(os.environ["DATABASE_URL"], poolclass=NullPool)
    with engine.connect() as connection:
{before_configure}        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

# Setting a timeout on the connection before configure() autobegins a transaction that
# Alembic then treats as the caller's: it prints every "Running upgrade" and commits nothing.
# (Only for upgrades, as such a guard usually is: stamp and current behave.)
_SILENT_NO_COMMIT = '''        opts = context.config.cmd_opts
        if opts is not None and opts.cmd[0].__name__ == "upgrade":  # guard upgrades
            connection.execute(text("SET lock_timeout = '5s'"))
'''

_INI = """[alembic]
script_location = migrations

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""


def write_env(backend: Path, fault: str | None = None) -> None:
    silent = fault == "silent-no-commit"
    (backend / "migrations" / "env.py").write_text(_ENV.format(
        extra_import=", text" if silent else "",
        before_configure=_SILENT_NO_COMMIT if silent else ""))


def write_backend(backend: Path, fault: str | None = None) -> None:
    """alembic.ini, migrations/env.py and one file per revision. The env.py is the sound
    one: a world is built with it, and `write_env(backend, fault)` swaps in the fault's."""
    versions = backend / "migrations" / "versions"
    versions.mkdir(parents=True)
    (backend / "alembic.ini").write_text(_INI)
    write_env(backend)
    (backend / "migrations" / "script.py.mako").write_text("# not used: revisions are written\n")
    for index, rev in enumerate(lineage(fault)):
        body = "\n".join(f"    op.execute({' '.join(stmt.split())!r})" for stmt in rev.sql)
        down_text = ", ".join(rev.down) if isinstance(rev.down, tuple) else rev.down or ""
        name = f"{index:03d}_{rev.revision}.py"
        (versions / name).write_text(_MIGRATION.format(
            message=rev.message, revision=rev.revision, down=rev.down, down_text=down_text,
            body=body))

"""`cockpit init` on a team's own Alembic project — generated here with `alembic init`, three
revisions, git, and a PostgreSQL reached over TLS — writes a production runbook in the
reference's shape that validates, renders, and runs to PASS with the real `cockpit run`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.tls import write_self_signed
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import CheckStep, CommandStep, ProbeGate
from cockpit.runbook.starter import ProjectFacts, build_starter, dsn_template
from cockpit.runbook.validate import walk_items
from tests.run import cockpit
from tests.tlsproxy import tls_terminator

REVISIONS = [  # (id, down, body of upgrade())
    ("a1_customers", None, 'op.create_table("customers", sa.Column("id", sa.Integer, '
                           'primary_key=True))'),
    ("b2_orders", "a1_customers", 'op.create_table("orders", sa.Column("id", sa.Integer, '
                                  'primary_key=True))\n    op.create_table("scratch", '
                                  'sa.Column("id", sa.Integer))'),
    ("c3_invoices", "b2_orders", 'op.create_table("invoices", sa.Column("id", sa.Integer, '
                                 'primary_key=True))\n    op.drop_table("scratch")'),
]


def undo(body: str) -> str:
    """A downgrade as autogenerate writes it: it drops what the upgrade created (which no
    reading of the created tables may count)."""
    created = re.findall(r'op\.create_table\("(\w+)"', body)
    return "\n    ".join(f'op.drop_table("{name}")' for name in reversed(created)) or "pass"


def make_project(root: Path, revisions: list[tuple[str, str | None, str]] = REVISIONS) -> Path:
    """An Alembic project as `alembic init` makes it, reading its URL from DATABASE_URL."""
    project = root / "billing-service"
    project.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=project,
                   check=True, capture_output=True)
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "config = context.config\n",
        "config = context.config\nimport os\n"
        # As the walkthrough writes it: `%` (a percent-encoded password) doubled for
        # configparser.
        "config.set_main_option('sqlalchemy.url', "
        "os.environ['DATABASE_URL'].replace('%', '%%'))\n", 1))
    for rev, down, body in revisions:
        (project / "migrations" / "versions" / f"{rev}.py").write_text(
            "from alembic import op\nimport sqlalchemy as sa\n\n"
            f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
            "depends_on = None\n\n\n"
            f"def upgrade():\n    {body}\n\n\ndef downgrade():\n    {undo(body)}\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "v1"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    return project


@contextlib.contextmanager
def tls_database(pg_cluster: PgCluster, folder: Path, name: str) -> Iterator[str]:
    """The database `name` (made if missing) behind a TLS terminator: its DSN, in which
    `sslmode=require` holds for real."""
    with contextlib.suppress(Exception):  # the cluster is shared by the module's tests
        pg_cluster.create_database(name)
    cert, key = folder / "server.crt", folder / "server.key"
    write_self_signed(cert, key)
    with tls_terminator(pg_cluster, cert, key) as port:
        # A password with `!`, percent-encoded as the cockpit writes it (trust ignores it).
        yield f"postgresql+psycopg://{pg_cluster.superuser}:p%21ss@127.0.0.1:{port}/{name}" \
              "?sslmode=require"


@pytest.fixture
def tls_dsn(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[str]:
    """A fresh database behind a TLS terminator: `sslmode=require` holds for real."""
    with tls_database(pg_cluster, tmp_path, "billing") as dsn:
        yield dsn


@pytest.mark.system_slow  # a whole run per server: the machine's own in the slow step
def test_init_writes_a_runbook_that_runs_the_project_to_pass(tmp_path: Path,
                                                             tls_dsn: str) -> None:
    project = make_project(tmp_path)
    env = {"DATABASE_URL": tls_dsn}
    # "Production" stands at the first revision.
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "a1_customers"],
                          cwd=project, capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    runbook = project / "cutover.toml"
    made = cockpit("init", str(project), "-o", str(runbook), env=env)
    assert made.returncode == 0, made.stderr
    assert "password" not in runbook.read_text().lower() or "<PASSWORD>" in runbook.read_text()
    loaded = load_runbook(runbook)
    assert loaded.production is True
    items = {item.id: item for _, item in walk_items(loaded)}
    upgrade = items["upgrade"]
    assert isinstance(upgrade, CommandStep)
    assert (upgrade.command, upgrade.confirm) == ("python -m alembic upgrade c3_invoices",
                                                  "c3_invoices")
    assert (upgrade.lock_timeout, upgrade.statement_timeout, upgrade.timeout) == (
        "5s", "10min", "30m")
    assert all(step.read_only for step in items.values()
               if isinstance(step, CommandStep) and step is not upgrade)
    p1 = [step.id for step in loaded.phases[1].steps]
    assert p1.index("upgrade-path") < p1.index("upgrade")  # seen before the confirmation
    path, tables = items["upgrade-path"], items["tables-present"]
    assert isinstance(path, CheckStep) and isinstance(tables, CheckStep)
    assert path.expected == ["b2_orders", "c3_invoices"]
    assert path.args == {"from": "a1_customers"}
    assert tables.expected == ["invoices", "orders"]  # scratch was created, then dropped
    assert isinstance(items["rehearsed-commit"], ProbeGate)
    template = loaded.setup.items[1].template  # type: ignore[union-attr]
    assert template.endswith("/billing?sslmode=require") and ":<PASSWORD>@127.0.0.1:" in template
    assert cockpit("validate", str(runbook)).returncode == 0
    rendered = cockpit("render", str(runbook))
    assert rendered.returncode == 0 and "`python -m alembic upgrade c3_invoices`" in rendered.stdout

    answers = attested_answers(project, tmp_path, "c3_invoices")
    session = tmp_path / "session"
    done = cockpit("run", str(runbook), "--environment", "production", "--headless",
                   "--answers", str(answers), "--session", str(session), env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    decision = json.loads((session / "evidence" / "decision.json").read_text())
    assert decision["fields"]["status"] == "PASS"
    assert decision["fields"]["final_revision"] == "c3_invoices"
    before = json.loads((project / "cutover" / "schema_before.json").read_text())
    after = json.loads((project / "cutover" / "schema_after.json").read_text())
    assert "invoices" not in before["tables"] and "invoices" in after["tables"]
    assert cockpit("verify", str(session)).returncode == 0
    assert "p!ss" not in made.stderr + done.stdout and "p%21ss" not in runbook.read_text()

    # A revision creating a table the database already has: init says the upgrade would stop.
    (project / "migrations" / "versions" / "d4_dup.py").write_text(
        "from alembic import op\nimport sqlalchemy as sa\n\nrevision = 'd4_dup'\n"
        "down_revision = 'c3_invoices'\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n    op.create_table('customers', sa.Column('id', sa.Integer))\n\n\n"
        "def downgrade():\n    op.drop_table('customers')\n")
    again = cockpit("init", str(project), env=env)
    assert again.returncode == 0, again.stderr
    assert ("revision d4_dup creates table customers, which the database already has: the "
            "upgrade would fail on it (DuplicateTable)") in again.stderr
    assert "tables-present" not in again.stdout  # no check of tables that were there before


def test_without_a_database_init_leaves_notes_for_what_it_could_not_learn(
        tmp_path: Path) -> None:
    project = make_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    made = cockpit("init", str(project), env=env, timeout=60, inherit=False)
    assert made.returncode == 0, made.stderr
    data = tomllib.loads(made.stdout)
    assert data["production"] is True
    assert "DATABASE_URL is not set" in made.stderr
    assert "replace USER, HOST and DATABASE" in made.stderr
    steps = [s for phase in data["phases"] for s in phase["steps"]]
    assert not any(s.get("id") == "upgrade-path" for s in steps)  # no current revision known
    tables = next(s for s in steps if s.get("id") == "tables-present")
    assert tables["expected"] == ["customers", "invoices", "orders"]


def test_a_project_configured_in_pyproject_toml_alone_is_read_and_its_targets_checked(
        tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "alembic.ini").unlink()
    (project / "pyproject.toml").write_text('[project]\nname = "billing"\n\n[tool.alembic]\n'
                                            'script_location = "%(here)s/migrations"\n')
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    runbook = project / "cutover.toml"
    made = cockpit("init", str(project), "-o", str(runbook), env=env, timeout=60, inherit=False)
    assert made.returncode == 0, made.stderr
    written = runbook.read_text()
    assert "upgrade c3_invoices" in written
    assert cockpit("validate", str(runbook)).returncode == 0
    runbook.write_text(written.replace("upgrade c3_invoices", "upgrade c3_invoics"))
    done = cockpit("validate", str(runbook))
    assert done.returncode == 1 and "did you mean c3_invoices?" in done.stderr, done.stderr


def test_init_outside_an_alembic_project_says_where_to_point_it(tmp_path: Path) -> None:
    made = cockpit("init", str(tmp_path))
    assert made.returncode == 1 and "Traceback" not in made.stderr
    assert f"{tmp_path}: no alembic.ini here; give the folder of your Alembic project" in \
        made.stderr


def test_a_dsn_without_tls_is_written_with_sslmode_require_and_no_password() -> None:
    template, database, notes = dsn_template("postgresql://ops:s3cret@db.internal:6432/app")
    assert template == "postgresql://ops:<PASSWORD>@db.internal:6432/app?sslmode=require"
    assert database == "app" and "did not require TLS" in notes[0]
    starter = build_starter(ProjectFacts(name="app", workdir=".", heads=["h1", "h2"]))
    assert "s3cret" not in starter.toml
    assert any("2 heads" in note for note in starter.notes)


def test_a_dsn_with_a_root_certificate_is_written_with_verify_full() -> None:
    template, _, notes = dsn_template("postgresql://ops:s3cret@db.example.com/app?"
                                      "sslmode=require&sslrootcert=/etc/ssl/azure-root.pem")
    assert template == ("postgresql://ops:<PASSWORD>@db.example.com/app?sslmode=verify-full&"
                        "sslrootcert=%2Fetc%2Fssl%2Fazure-root.pem")
    assert notes == ["a root certificate is given (sslrootcert=/etc/ssl/azure-root.pem): the "
                     "runbook asks for sslmode=verify-full, which checks the server's "
                     "certificate chain, host name and expiry, not only encryption"]
    kept, _, none = dsn_template("postgresql://ops@db/app?sslmode=verify-full&sslrootcert=system")
    assert "sslmode=verify-full" in kept and none == []


def attested_answers(project: Path, tmp_path: Path, upgrade: str, halt: str = "") -> Path:
    """The two attestation files an `init` runbook looks for, and the answers a headless run
    of it needs (the rehearsed commit is HEAD; `halt`: a `[halt]` table's lines)."""
    (project / "cutover").mkdir()
    for name in ("write_freeze_attestation.log", "pitr_window_attestation.log"):
        (project / "cutover" / name).write_text("attested by the DBA on duty\n")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                            text=True, check=True).stdout.strip()
    answers = tmp_path / "answers.toml"
    answers.write_text(textwrap.dedent(f'''\
        [gates]
        governance-signoff = "GOV-7"
        maintenance-window = "CHG-7, now until +2h"
        rehearsed-commit = "{commit}"
        [confirm]
        upgrade = "{upgrade}"
        [manual]
        preflight-reviewed = "read it"
        ''') + halt + textwrap.dedent('''\
        [decision]
        risk_tier = "low"
        authorization = "authorized"
        '''))
    return answers

"""What undoing each revision takes, from Alembic's own offline downgrade SQL: a downgrade
that exists says what it runs, one that does nothing or cannot be rendered says so (without
hiding the others'), and an upgrade that drops or overwrites data is said to be beyond its
downgrade. Real Alembic as a subprocess; no database (offline SQL)."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.probes.reversal import render_downgrades, reversal
from cockpit.probes.sqlrisk import statements
from tests.probes.test_risk import ENV_PY

SCRIPT = '''"""{rev}"""
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.execute({up!r})
{downgrade}'''
REVISIONS = [
    ("r1", None, "CREATE TABLE t (id int, c text)", "    op.execute('DROP TABLE t')"),
    ("r2", "r1", "ALTER TABLE t DROP COLUMN c",
     "    op.execute('ALTER TABLE t ADD COLUMN c text')"),
    ("r3", "r2", "UPDATE t SET id = id + 1", "    pass"),
    ("r4", "r3", "CREATE INDEX ix_t ON t (id)", None),  # no downgrade at all
    ("r5", "r4", "CREATE TABLE u (id int)", "    op.execute('DROP TABLE u')"),
]


def _project(tmp_path: Path) -> Path:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (tmp_path / "migrations" / "env.py").write_text(ENV_PY)
    for rev, down, up, body in REVISIONS:
        downgrade = f"\n\ndef downgrade():\n{body}\n" if body else ""
        (versions / f"{rev}.py").write_text(SCRIPT.format(rev=rev, down=down, up=up,
                                                          downgrade=downgrade))
    return tmp_path


def test_each_revisions_undoing_is_said_and_one_without_a_downgrade_hides_no_other(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@localhost/nothing"}
    path = ["r2", "r3", "r4", "r5"]
    downs, failed = render_downgrades(project, "r1", path, env,
                                      {"r2": "r1", "r3": "r2", "r4": "r3", "r5": "r4"})
    assert set(failed) == {"r4"} and "downgrade" in failed["r4"]
    upgrades = {rev: statements(f"{up};") for rev, _d, up, _b in REVISIONS}
    said = {r["revision"]: r for r in reversal(path, downs, failed, upgrades)}
    assert said["r5"]["said"] == "its downgrade runs 1 statement(s): DROP TABLE u"
    assert said["r4"]["said"].startswith("no downgrade offline (")
    assert said["r3"]["said"] == ("its downgrade does nothing; the upgrade overwrites values: "
                                  "its downgrade cannot bring that back")
    assert said["r2"]["downgrade"] == ["ALTER TABLE t ADD COLUMN c text"]
    assert said["r2"]["data_loss"] == ["drops a column"]

"""Opening a cockpit imports no database library: SQLAlchemy, Alembic (with Mako) and psycopg
cost half a second of every start on a small machine, before the first screen, and are
imported where a probe first connects or a lineage is first read."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("sqlalchemy", "alembic", "mako", "psycopg", "pglast")


def printed(probe: str) -> str:
    """What a fresh interpreter running `probe` in the repository prints."""
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, check=True).stdout


def test_the_operator_and_mirror_screens_open_without_a_database_library() -> None:
    probe = ("import sys\n"
             "import cockpit.engine.controller, cockpit.tui.app, cockpit.tui.mirror_app\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n")
    shown = printed(probe)
    assert shown.strip() == "[]", shown


def test_a_probe_that_connects_still_finds_them() -> None:
    """The deferred imports are there when used: a DSN is read by libpq through psycopg."""
    probe = ("import sys\n"
             "from cockpit.probes.dsn import conninfo\n"
             "print(conninfo('postgresql://u@h:5/d?sslmode=require')['sslmode'],"
             " 'psycopg' in sys.modules)\n")
    assert printed(probe).split() == ["require", "True"]

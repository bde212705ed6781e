"""A target's pre-flight (issue #33): the programs its runbook's commands name must resolve
on the host that runs it — a worker without `alembic` on its PATH says NO-GO before a step
starts, rather than failing (and halting) the target's first changing step. Only what is
certain is refused: a program name the shell would look up on PATH."""

from __future__ import annotations

import pytest

from cockpit.fleet.preflight import programs


@pytest.mark.parametrize(("command", "found"), [
    ("alembic upgrade head", ["alembic"]),
    ("alembic current && sleep 1", ["alembic", "sleep"]),
    ("PGOPTIONS='-c lock_timeout=5s' alembic upgrade +1", ["alembic"]),
    ("cd migrations && alembic -c alembic.ini history | tail -n 5", ["alembic", "tail"]),
    ("psql -X -f checks.sql; pg_dump --schema-only mydb>schema.sql", ["psql", "pg_dump"]),
    ("(alembic current)", ["alembic"]),
    ("./scripts/forensics.sh --before", []),  # a path: the run's to say
    ("/usr/bin/env python3 check.py", []),
    ("$ALEMBIC upgrade head", []),  # worked out by the shell at run time
    ("if true; then echo ok; fi", []),  # keywords and built-ins
    ("echo 'unbalanced", []),
    ("alembic upgrade head && alembic current", ["alembic"]),
])
def test_the_programs_a_command_names(command: str, found: list[str]) -> None:
    assert programs(command) == found

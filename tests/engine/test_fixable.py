"""Before anything has run, a failure the operator can fix — a setup item, a database the
probes cannot reach — stops a headless run resumable (exit 3, each reason printed, no
BLOCKER); a finding about the change itself (a probe that answered no) is still a halt."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster, free_port
from cockpit.engine.controller import Controller
from cockpit.engine.setup import with_entered_password
from cockpit.errors import CockpitError
from cockpit.runbook.loader import load_runbook
from cockpit.session import records, rules
from tests.engine.helpers import ORDINARY, phase, ran, write_world
from tests.run import cockpit

OBJECTS_GATE = ('  { kind = "probe", id = "tables", text = "Table `t1` present", '
                'probe = "db.objects_present", expected = ["t1"] },\n')

DSN_SETUP = """
[setup]
heading = "Setup"
items = [
  { kind = "env", id = "dsn", text = "`DATABASE_URL` names `shop` with `sslmode=require`", name = "DATABASE_URL", template = "postgresql://app:<PASSWORD>@127.0.0.1:5432/shop?sslmode=require", database = "shop", require = { sslmode = "require" } },
]
"""


def _world(tmp_path: Path, gate: str = "", setup: str = "") -> Path:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY)])
    text = runbook.read_text()
    freeze = 'path = "freeze.log" },\n'
    assert freeze in text and "\n[[phases]]" in text
    runbook.write_text(text.replace(freeze, freeze + gate, 1)
                       .replace("\n[[phases]]", setup + "\n[[phases]]", 1))
    return runbook


def _status(session: Path) -> dict:
    return json.loads(cockpit("status", str(session), "--json").stdout)


def test_a_wrong_dsn_stops_resumable_naming_it(tmp_path: Path) -> None:
    runbook = _world(tmp_path, setup=DSN_SETUP)
    session = tmp_path / "s"
    url = "postgresql://app:pw@127.0.0.1:5439/shop?sslmode=require"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
                   env={"DATABASE_URL": url})
    assert done.returncode == 3, done.stdout + done.stderr
    assert "  setup dsn: port is 5439, expected 5432" in done.stdout
    assert f"fix the above, then: cockpit resume {session} --headless" in done.stdout
    assert "DECISION" not in done.stdout and "halted" not in done.stdout
    state = _status(session)
    assert state["derived"]["decision"] is None and state["state"]["halt"] is None
    assert ran(runbook.parent) == []
    # the port fixed, the server there refuses: named by its cause, still resumable
    port = free_port()
    runbook.write_text(runbook.read_text().replace("5432", str(port)))
    again = cockpit("run", str(runbook), "--headless", "--assume-yes",
                    "--session", str(tmp_path / "s2"),
                    env={"DATABASE_URL": url.replace("5439", str(port))})
    assert again.returncode == 3, again.stdout + again.stderr
    assert f"connection refused at 127.0.0.1:{port}" in again.stdout
    assert "ProbeUnreachable" not in again.stdout and "pw" not in again.stdout.replace(
        "app:***", "")


def test_an_unreachable_database_is_fixed_then_resumed_to_pass(tmp_path: Path,
                                                               pg_cluster: PgCluster,
                                                               pg_db: str) -> None:
    runbook = _world(tmp_path, gate=OBJECTS_GATE)
    session = tmp_path / "s"
    closed = f"postgresql+psycopg://u:pw@127.0.0.1:{free_port()}/db"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
                   env={"DATABASE_URL": closed})
    assert done.returncode == 3, done.stdout + done.stderr
    assert "  gate tables: cannot connect with DATABASE_URL" in done.stdout
    assert "connection refused" in done.stdout and "DECISION" not in done.stdout
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t1 (id int)")
    database = str(psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"])
    url = pg_cluster.socket_url(database).render_as_string(hide_password=False)
    resumed = cockpit("resume", str(session), "--headless", "--assume-yes",
                      env={"DATABASE_URL": url})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "DECISION: PASS" in resumed.stdout
    assert ran(runbook.parent) == ["hello", "count", "last"]


def test_a_probe_that_answers_no_is_still_a_blocker(tmp_path: Path, pg_cluster: PgCluster,
                                                    pg_db: str) -> None:
    runbook = _world(tmp_path, gate=OBJECTS_GATE)
    database = str(psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"])
    url = pg_cluster.socket_url(database).render_as_string(hide_password=False)
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), env={"DATABASE_URL": url})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "halted reason=NO-GO: gate tables failed: missing: t1" in done.stdout
    assert "DECISION: BLOCKER" in done.stdout and ran(runbook.parent) == []


def test_the_password_goes_into_each_dsn_that_takes_one(tmp_path: Path) -> None:
    runbook = load_runbook(_world(tmp_path, setup=DSN_SETUP.replace(
        "},\n]\n", '},\n  { kind = "env", id = "psql", text = "`PG_DSN` names `shop`", name = "PG_DSN", template = '
        '"postgresql://app:<PASSWORD>@127.0.0.1:5432/shop?sslmode=require", database = "shop" },\n'
        '  { kind = "env", id = "other", text = "`OTHER` names `shop`", name = "OTHER", '
        'template = "postgresql://app:<PASSWORD>@x:5432/shop", database = "shop" },\n]\n', 1)))
    given = {"DATABASE_URL": "postgresql://app:old@127.0.0.1:5432/shop?sslmode=require",
             "OTHER": "host=x user=app password=old"}
    env, changed = with_entered_password(runbook, given, "n3w/p@ss%")
    assert changed == ["DATABASE_URL", "PG_DSN"]
    assert env["DATABASE_URL"] == ("postgresql://app:n3w%2Fp%40ss%25@127.0.0.1:5432/shop"
                                   "?sslmode=require")
    assert env["PG_DSN"] == env["DATABASE_URL"]  # built from its template
    assert env["OTHER"] == given["OTHER"]  # given as key=value: its password is its own


def test_the_password_is_refused_without_a_dsn_or_after_a_step(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    plain = Controller.start(write_world(tmp_path / "a", [phase("P0", ORDINARY)]),
                             folder=tmp_path / "a" / "s", env={}, halt_hooks=[])
    try:
        with pytest.raises(CockpitError, match="names no DSN with a password"):
            plain.enter_password("x")
    finally:
        plain.close()
    (tmp_path / "b").mkdir()
    ctl = Controller.start(_world(tmp_path / "b", setup=DSN_SETUP), folder=tmp_path / "b" / "s",
                           env={}, halt_hooks=[])
    try:
        assert ctl.enter_password("first") == rules.open_gates(ctl.runbook, ctl.state)
        assert "DATABASE_URL" in ctl.env and "first" not in ctl.store.path.read_text()
        ctl.attest_gate("signoff", "GOV-1")
        ctl.append(records.ManualConfirmed(step="hello", note=None))  # a step done
        with pytest.raises(CockpitError, match="only before the first step"):
            ctl.enter_password("second")
    finally:
        ctl.close()


def test_no_dsn_and_no_terminal_to_ask_on_is_one_line(tmp_path: Path) -> None:
    """No DSN in the environment and no terminal to read a password on unseen: exit 1
    naming the variable — no EOFError, no traceback, no session left behind."""
    runbook = _world(tmp_path, setup=DSN_SETUP)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PGPASSWORD")}
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(tmp_path / "s"), stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                   timeout=60, inherit=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "DATABASE_URL not set, and no terminal to ask for the database password on; export "
        "them (password included) before running without a screen"]
    assert not (tmp_path / "s").exists()

"""Issue #27, item 4: what a team's checklist asks to stop on really stops the run. For each
wording (an abort list, a stop/halt/cancel sentence, a section of stop conditions) and each way
of writing the setup that runs here (`cd` quoted, relative, under `~`), the checklist is
imported and run headless; its upgrade — a stand-in for `alembic` — hits a real
`LockNotAvailable` on the real PostgreSQL (a test session holds the table's lock), and the
imported rule halts the session. (PowerShell and cmd setups are proven by their typed result,
in test_import_guards.py: they do not run here.)
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.tls import write_self_signed
from cockpit.runbook.importer import import_checklist
from cockpit.runbook.model import CommandStep
from cockpit.session.rules import watched_rules
from tests.run import cockpit
from tests.tlsproxy import tls_terminator

# A shebang cannot name a path with spaces (CI's clone has them): sh starts the venv's Python.
LAUNCHER = f"""#!/bin/sh
exec {shlex.quote(sys.executable)} "$0.py" "$@"
"""
FAKE_ALEMBIC = """import os, sys, psycopg
if sys.argv[1] == "current":
    print("0005_accounts_closed_at")
    sys.exit(0)
print("INFO  [alembic.runtime.migration] Running upgrade 0005 -> 0006, entries index", flush=True)
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
    conn.execute("SET lock_timeout = '200ms'")
    conn.execute("CREATE INDEX entries_account_idx ON entries (account)")
print("done")
"""
TEMPLATE = "postgresql://{user}:<PASSWORD>@127.0.0.1:{port}/{db}?sslmode=require"
UPGRADE = "- [ ] `alembic current` -> `logs/current.log`\n" \
          "- [ ] `alembic upgrade 0006` -> `logs/upgrade.log`\n"

# (wording, the cd line of the setup block, the phase's guard, a section before the setup)
STYLES = {
    "abort-on-list": ('cd "{workdir}"', "- [ ] Abort on:\n  - [ ] `LockNotAvailable`\n", ""),
    "stop-on-list": ("cd ledger", "- [ ] Stop on:\n  - [ ] Lock timeout\n"
                     "  - [ ] More than 3 app sessions queued behind the migration\n", ""),
    "stop-at-once-list": ("cd ~/jobs/ledger", "- [ ] Stop at once on any of:\n"
                          "  - [ ] `LockNotAvailable`\n  - [ ] `DeadlockDetected`\n", ""),
    "halt-list-with-a-confirmation": (
        "cd ledger", "- [ ] Halt on any of:\n  - [ ] Lock timeout/deadlock\n"
        "  - [ ] Replica lag above 60 seconds\n", ""),
    "stop-at-once-sentence": (
        "cd ~/jobs/ledger", "- [ ] Stop at once if the upgrade prints `LockNotAvailable` or a "
        "deadlock is detected.\n", ""),
    "cancel-sentence": (
        "cd ledger", "- [ ] Cancel the run if the upgrade prints `canceling statement due to "
        "lock timeout`.\n", ""),
    "stop-conditions-section": (
        "cd ledger", "", "## Stop Conditions\n\n- [ ] Halt on any of:\n"
        "  - [ ] `LockNotAvailable`\n\n"),
}
FAST = {"stop-at-once-sentence", "stop-conditions-section"}


def checklist(cd: str, guard: str, before: str, template: str, db: str) -> str:
    return (f"# Ledger Cutover\n\n{before}## Session Setup\n\n"
            "- [ ] Working directory set to `ledger`\n"
            f"- [ ] `DATABASE_URL` set to `{db}` with `sslmode=require`\n\n"
            f"```bash\n{cd}\nexport DATABASE_URL='{template}'\n```\n\n"
            f"## Phase 1 — Upgrade\n\n{UPGRADE}{guard}")


@pytest.fixture
def tls_port(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[int]:
    """A TLS terminator in front of the cluster: the setup check's live TLS test holds."""
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    write_self_signed(cert, key)
    with tls_terminator(pg_cluster, cert, key) as port:
        yield port


def world(tmp_path: Path, style: str, user: str, port: int,
          db: str) -> tuple[Path, Path, dict[str, str]]:
    """The checklist in the team's folder, the folder its setup enters, and the environment
    of the run (HOME for `~`, the stand-in `alembic` first on PATH, the DSN over TLS)."""
    home, team = tmp_path / "home", tmp_path / "team"
    cd, guard, before = STYLES[style]
    workdir = home / "jobs" / "ledger" if "~" in cd else team / "ledger"
    workdir.mkdir(parents=True)
    team.mkdir(exist_ok=True)
    template = TEMPLATE.format(user=user, port=port, db=db)
    text = checklist(cd.format(workdir=workdir), guard, before, template, db)
    (team / "cutover.md").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "alembic").write_text(LAUNCHER)
    (bin_dir / "alembic").chmod(0o755)
    (bin_dir / "alembic.py").write_text(FAKE_ALEMBIC)
    env = {**os.environ, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "DATABASE_URL": template.replace("<PASSWORD>", "unused")}  # the proxy's peer
    return team, workdir, env


@pytest.mark.system_slow
@pytest.mark.parametrize("style", [pytest.param(s, marks=() if s in FAST else pytest.mark.slow)
                                   for s in STYLES])
def test_an_imported_guard_halts_the_upgrade_on_a_real_lock_not_available(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str, tls_port: int, style: str) -> None:
    db = str(psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"])
    team, workdir, env = world(tmp_path, style, pg_cluster.superuser, tls_port, db)
    imported = cockpit("import", "--rehearsal", str(team / "cutover.md"), "-o",
                       str(team / "cutover.toml"), env=env, timeout=60, inherit=False)
    assert imported.returncode == 0, imported.stderr
    runbook = import_checklist((team / "cutover.md").read_text(), "cutover.md").runbook
    upgrade = next(s for p in runbook.phases for s in p.steps
                   if isinstance(s, CommandStep) and "upgrade" in s.command)
    guards = watched_rules(runbook, upgrade)
    assert guards, "the upgrade runs unguarded"
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE entries (account int)")
    session = tmp_path / "session"
    with psycopg.connect(pg_db) as holder:  # an application transaction holding the table
        holder.execute("LOCK TABLE entries IN ACCESS EXCLUSIVE MODE")
        run = cockpit("run", str(team / "cutover.toml"), "--headless", "--assume-yes", "--session",
                      str(session), env=env, inherit=False)
        holder.rollback()
    out = run.stdout + run.stderr
    assert run.returncode == 2, out[-3000:]
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    halted = next(e["data"] for e in events if e["type"] == "halted")
    assert halted["rule"] in guards, halted
    assert "LockNotAvailable" in halted["line"] or "lock timeout" in halted["line"]
    assert f"halted reason=abort rule '{halted['rule']}' matched in step {upgrade.id}" in out
    assert (workdir / "logs" / "upgrade.log").exists()  # it ran where the block went

"""What a runbook says about its commands holds when they run: a `timeout` is a hard limit, a
`lock_timeout` reaches PostgreSQL, a script no `[[scripts]]` entry pins keeps a production
run's gates closed, and a `--workdir` that replaces the approved directory is an override
the operator must ask for and the record shows."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

from cockpit.engine.controller import Controller
from tests.engine.helpers import cockpit, phase, ran, write_world

PY = shlex.quote(sys.executable)  # a clone's path may hold spaces


def _events(session: Path) -> list[dict]:
    lines = (session / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_a_step_that_reaches_its_timeout_is_stopped_and_halts_the_session(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("slow", "echo begun; sleep 60")])])
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/slow.log" }', 'log = "logs/slow.log", timeout = "2s" }'))
    started = time.monotonic()
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    assert took < 30  # not the 60 s the command would have taken
    finished = next(e for e in _events(tmp_path / "s") if e["type"] == "step_finished")
    assert finished["data"]["ok"] is False
    assert finished["data"]["abort"]["rule"] == "timeout"
    assert finished["data"]["detail"] == "timeout: no end within 2s (the step's timeout)"
    halted = next(e for e in _events(tmp_path / "s") if e["type"] == "halted")
    assert halted["data"]["reason"] == "step slow reached its timeout (2s)"
    assert "begun" in (tmp_path / "world" / "logs" / "slow.log").read_text()


def test_timeouts_reach_postgresql_through_pgoptions_and_the_run_names_its_connections(
        tmp_path: Path, pg_db: str) -> None:
    show = (f"{PY} -c \"import os, psycopg; c = psycopg.connect(os.environ['PG_TEST']); "
            "print('lock', c.execute('show lock_timeout').fetchone()[0]); "
            "print('stmt', c.execute('show statement_timeout').fetchone()[0]); "
            "print('app', c.execute('show application_name').fetchone()[0])\"")
    runbook = write_world(tmp_path, [phase("P0", [("show", show)])])
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/show.log" }',
        'log = "logs/show.log", lock_timeout = "1500ms", statement_timeout = "2min" }'))
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"),
                   env={"PG_TEST": pg_db, "PGOPTIONS": "-c application_name=cutover"})
    assert done.returncode == 0, done.stdout + done.stderr
    log = (tmp_path / "world" / "logs" / "show.log").read_text().split("\n")
    assert "lock 1500ms" in log and "stmt 2min" in log
    # the run's connections are named for the lock radar (PGAPPNAME)
    assert "app cockpit:show.1" in log


UNLISTED = [("fix", "python3 fix.py")]


def _script_world(tmp_path: Path, production: bool) -> Path:
    runbook = write_world(tmp_path, [phase("P0", UNLISTED, confirm="fix" if production
                                           else None)], production=production)
    (runbook.parent / "fix.py").write_text("open('ran.txt', 'a').write('fix\\n')\n")
    return runbook


def test_an_unlisted_script_keeps_a_production_runs_gates_closed(tmp_path: Path) -> None:
    runbook = _script_world(tmp_path, production=True)
    validated = cockpit("validate", str(runbook))
    assert validated.returncode == 0
    assert ("phases[0].steps[0].command: runs 'fix.py', which [[scripts]] does not list: the "
            "session keeps its gates closed") in validated.stderr
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[confirm]\nfix = "fix"\n')
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 3, done.stdout + done.stderr  # NO-GO: nothing ran
    assert "script fix.py" in done.stdout + done.stderr
    assert ran(runbook.parent) == []
    checked = [e["data"] for e in _events(tmp_path / "s") if e["type"] == "script_checked"]
    assert checked[0]["path"] == "fix.py" and checked[0]["ok"] is False
    assert "does not list it" in checked[0]["detail"]
    # Listed with the sha256 it was approved with, it runs.
    import hashlib
    digest = hashlib.sha256((runbook.parent / "fix.py").read_bytes()).hexdigest()
    runbook.write_text(runbook.read_text() + f'\n[[scripts]]\npath = "fix.py"\nsha256 = "{digest}"\n')
    again = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                    "--session", str(tmp_path / "s2"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert ran(runbook.parent) == ["fix"]


def test_in_a_rehearsal_an_unlisted_script_runs_with_a_note(tmp_path: Path) -> None:
    runbook = _script_world(tmp_path, production=False)
    assert "it runs unpinned" in cockpit("validate", str(runbook)).stderr
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert ran(runbook.parent) == ["fix"]


SETUP = """
[setup]
heading = "Setup"
items = [
  { kind = "working_directory", id = "wd", text = "Working directory set to `app`", path = "app" },
]
"""


def _workdir_world(tmp_path: Path) -> Path:
    runbook = write_world(tmp_path, [phase("P0", [("where", "pwd")], confirm="go")],
                          production=True)
    text = runbook.read_text()
    runbook.write_text(text.replace("[[phases]]", SETUP + "\n[[phases]]", 1))
    (runbook.parent / "app").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "freeze.log").write_text("write freeze in force\n")
    return runbook


def test_a_production_runbook_takes_another_workdir_only_as_a_recorded_override(
        tmp_path: Path) -> None:
    runbook = _workdir_world(tmp_path)
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[confirm]\nwhere = "go"\n')
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                      "--workdir", str(tmp_path / "elsewhere"), "--session", str(tmp_path / "s"))
    assert refused.returncode == 1
    assert "approves the working directory `app`" in refused.stderr
    assert "--override-workdir" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing made

    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--workdir", str(tmp_path / "elsewhere"), "--override-workdir",
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 0, done.stdout + done.stderr
    events = _events(tmp_path / "s")
    override = next(e["data"] for e in events if e["type"] == "workdir_overridden")
    assert override == {"item": "wd", "approved": "app",
                        "used": str((tmp_path / "elsewhere").resolve())}
    log = (tmp_path / "elsewhere" / "logs" / "where.log").read_text()
    assert log.strip() == str((tmp_path / "elsewhere").resolve())
    report = cockpit("report", str(tmp_path / "s")).stdout
    line = next(x for x in report.split("\n") if "Working directory set to `app`" in x)
    assert "OVERRIDDEN: approved `app`, used " in line and " — passed" not in line
    assert line.count("OVERRIDDEN") == 1
    decision = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert decision["workdir_override"]["approved"] == "app"
    assert "Working directory OVERRIDDEN" in (
        tmp_path / "s" / "evidence" / "decision.md").read_text()


def test_the_approved_workdir_given_again_is_no_override(tmp_path: Path) -> None:
    runbook = _workdir_world(tmp_path)
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ),
                           workdir=runbook.parent / "app", halt_hooks=[])
    try:
        assert ctl.state.workdir_override is None
        assert all(e.type != "workdir_overridden" for e in ctl.store.events)
    finally:
        ctl.close()


ROLLBACK = """
[rollback]
heading = "Rollback (only if asked)"
items = [
  { kind = "halt", id = "rb-downgrade", text = "`alembic downgrade -1` -> `logs/rollback.log`" },
]
"""


def test_a_rollback_plan_is_confirmed_by_hand_after_a_halt_and_never_run(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("boom", "echo DuplicateTable; exit 1")])])
    runbook.write_text(runbook.read_text().replace("[decision]", ROLLBACK + "\n[decision]", 1))
    ctl = Controller.start(runbook, folder=tmp_path / "s0", env=dict(os.environ), halt_hooks=[])
    try:
        refused = None
        try:
            ctl.complete_halt_item("rb-downgrade", "done")
        except Exception as exc:  # the protocol applies only after a halt
            refused = str(exc)
        assert refused and "only after a halt" in refused
    finally:
        ctl.close()
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[halt]\nh-escalate = "told GOV"\n'
                       'rb-downgrade = "not asked: the DBA chose PITR (INC-9)"\n')
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout + done.stderr
    items = {e["data"]["item"]: e["data"]["note"] for e in _events(tmp_path / "s")
             if e["type"] == "halt_item_done"}
    assert items["rb-downgrade"] == "not asked: the DBA chose PITR (INC-9)"
    assert not (runbook.parent / "logs" / "rollback.log").exists()  # nothing ran it
    report = cockpit("report", str(tmp_path / "s")).stdout
    assert "- [x] `alembic downgrade -1` -> `logs/rollback.log` — " in report


def test_a_per_environment_workdir_is_replaced_without_an_override(tmp_path: Path) -> None:
    runbook = _workdir_world(tmp_path)
    runbook.write_text(runbook.read_text().replace(
        'heading = "Setup"\n', 'heading = "Setup"\nper_environment = ["wd"]\n'))
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[confirm]\nwhere = "go"\n')
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--workdir", str(tmp_path / "elsewhere"), "--session", str(tmp_path / "s"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(e["type"] == "workdir_overridden" for e in _events(tmp_path / "s"))
    log = (tmp_path / "elsewhere" / "logs" / "where.log").read_text()
    assert log.strip() == str((tmp_path / "elsewhere").resolve())

"""A revision at a time, for real: the approved `alembic upgrade` once per revision of the
path (only its target changed), one log with a section per revision. A failure at revision 3
of 5 leaves revisions 1–2 committed and the banner, the record and `status` say so; the
same path in one upgrade leaves none. A hold point stops the run (headless: exit 3,
resumable) until a person's go-ahead; a pause stops it after the revision now running, and a
halt is possible while paused. Real Alembic as a subprocess, on real PostgreSQL."""

from __future__ import annotations

import json
import os
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from tests.engine.helpers import phase, write_world
from tests.probes.test_risk import alembic_project
from tests.run import cockpit, db_url
from tests.waiting import wait_until

PY = shlex.quote(sys.executable)
LEAVES = 'halt_leaves = "the revisions before the failing one stay committed; the DBA decides"'


def revisions(fail_at: str | None = None, slow: str | None = None) -> list[tuple[str, Any, str]]:
    found = []
    for number in range(1, 6):
        rev, down = f"r{number}", (f"r{number - 1}" if number > 1 else None)
        body = f'    op.execute("CREATE TABLE t{number} (id int)")'
        if rev == fail_at:
            body = '    op.execute("SELECT 1/0")'
        if rev == slow:
            body += '\n    op.execute("SELECT pg_sleep(2)")'
        found.append((rev, down, body))
    return found


def project(tmp_path: Path, cluster: PgCluster, extra: str,
            revs: list[tuple[str, Any, str]]) -> tuple[Path, dict[str, str]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.create_database(name)
    runbook = write_world(tmp_path, [phase("P0", [("up", f"{PY} -m alembic upgrade head")])])
    alembic_project(runbook.parent, revs)
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/up.log" }', f'log = "logs/up.log"{extra} }}'))
    return runbook, {"DATABASE_URL": db_url(cluster, cluster.socket_conninfo(name)),
                     "PG_TEST": cluster.socket_conninfo(name)}


def of(session: Path, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in map(json.loads, (session / "events.jsonl").read_text()
                                   .splitlines()) if e["type"] == kind]


def version(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        found = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if found is None or found[0] is None:
            return []
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]


def test_a_failure_at_revision_3_of_5_leaves_1_and_2_committed_and_says_so(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, f", per_revision = true, {LEAVES}",
                           revisions(fail_at="r3"))
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert version(env["PG_TEST"]) == ["r2"]
    started = of(session, "step_started")[0]
    assert started["plan"] == ["r1", "r2", "r3", "r4", "r5"] and started["stop_before"] is None
    finished = of(session, "step_finished")[0]
    assert finished["done"] == ["r1", "r2"] and not finished["ok"]
    said = "step up: committed through revision 2 of 5 (r2)"
    assert f"revisions {said}" in cockpit("status", str(session)).stdout
    decision = json.loads((session / "evidence" / "decision.json").read_text())
    assert decision["revisions_committed"] == {"up": {"committed": ["r1", "r2"], "of": 5}}
    assert f"Revisions, {said}" in (session / "evidence" / "decision.md").read_text()
    log = (session / started["log"]).read_text()
    # one log, a section per revision, each the approved command with its target changed
    assert "── revision r1 (1 of 5): " in log and "-m alembic upgrade r1" in log
    assert "── revision r3 (3 of 5): " in log and "── revision r4" not in log
    assert "division by zero" in log
    verified = cockpit("verify", str(session))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_same_path_in_one_upgrade_leaves_none(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, "", revisions(fail_at="r3"))
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert version(env["PG_TEST"]) == []  # one transaction: rolled back whole
    assert "revisions " not in cockpit("status", str(session)).stdout


def test_a_hold_stops_headless_with_3_and_goes_on_with_the_go_ahead(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster,
                           f', per_revision = true, hold_before = "r3", {LEAVES}', revisions())
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "HELD: step up stops before revision r3 (3 of 5)" in done.stdout
    assert 'add [holds] up = "r3" to an answers file' in done.stdout
    assert version(env["PG_TEST"]) == ["r2"]
    assert "HELD      up before revision r3 (3 of 5)" in cockpit("status", str(session)).stdout
    # --assume-yes does not go past a hold; a wrong revision does not either
    again = cockpit("resume", str(session), "--headless", "--assume-yes", env=env)
    assert again.returncode == 3 and version(env["PG_TEST"]) == ["r2"]
    answers = tmp_path / "answers.toml"
    answers.write_text('[holds]\nup = "r3"\n')
    went = cockpit("resume", str(session), "--headless", "--assume-yes", "--answers",
                   str(answers), env=env)
    assert went.returncode == 0, went.stdout + went.stderr
    assert version(env["PG_TEST"]) == ["r5"]
    assert [h["revision"] for h in of(session, "hold_released")] == ["r3"]
    assert [s["plan"] for s in of(session, "step_started")] == [["r1", "r2"], ["r3", "r4", "r5"]]
    log = (session / of(session, "step_started")[1]["log"]).read_text()
    assert "── revision r3 (3 of 5)" in log and "── revision r5 (5 of 5)" in log


def test_a_pause_stops_after_the_revision_running_and_a_halt_while_paused(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster, f", per_revision = true, {LEAVES}",
                           revisions(slow="r1"))
    session = tmp_path / "s"
    ctl = Controller.start(runbook, folder=session, env={**os.environ, **env}, halt_hooks=[])
    try:
        ctl.attest_gate("signoff", "GOV-1")
        assert ctl.evaluate_gates() == []
        run = ctl.run_step("up")
        wait_until(lambda: "── revision r1" in (session / "steps" / f"{run}.log").read_text()
                   if (session / "steps" / f"{run}.log").exists() else False,
                   "revision r1 to start", 30)
        ctl.pause_step("up")
        wait_until(lambda: ctl.state.steps["up"].status == "paused", "the pause", 30)
        assert ctl.state.steps["up"].stopped_before == "r2"
        assert version(env["PG_TEST"]) == ["r1"]
        ctl.halt("the DBA stops here")
        assert ctl.state.halt is not None
    finally:
        ctl.close()
    status = cockpit("status", str(session)).stdout
    assert "revisions step up: committed through revision 1 of 5 (r1)" in status
    assert "PAUSED    up before revision r2 (2 of 5)" in status


def test_validate_asks_the_runbook_to_say_what_a_halt_leaves(tmp_path: Path,
                                                            pg_cluster: PgCluster) -> None:
    runbook, _env = project(tmp_path, pg_cluster, ", per_revision = true", revisions())
    done = cockpit("validate", str(runbook))
    assert done.returncode == 1
    assert ("halt_leaves: a halt part way through a `per_revision` step leaves the revisions "
            "before it committed") in done.stdout + done.stderr
    # a hold that names no revision would never hold: refused, naming the nearest
    runbook.write_text(runbook.read_text().replace(
        "per_revision = true", f'per_revision = true, hold_before = "r33", {LEAVES}'))
    done = cockpit("validate", str(runbook))
    assert done.returncode == 1
    assert ("phases[0].steps[0].hold_before[0]: step 'up': hold_before r33: 'r33' is no "
            "revision or branch of the lineage; did you mean r3?") in done.stdout + done.stderr


def test_a_halt_while_held_leaves_what_was_committed_and_says_so(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = project(tmp_path, pg_cluster,
                           f', per_revision = true, hold_before = "r3", {LEAVES}', revisions())
    session = tmp_path / "s"
    ctl = Controller.start(runbook, folder=session, env={**os.environ, **env}, halt_hooks=[])
    try:
        ctl.attest_gate("signoff", "GOV-1")
        assert ctl.evaluate_gates() == []
        ctl.run_step("up")
        wait_until(lambda: ctl.state.steps["up"].status == "held", "the hold", 60)
        with pytest.raises(ActionRefused, match="HELD before revision r3"):
            ctl.run_step("up")  # not without its go-ahead
        ctl.halt("the DBA stops at the hold")
        assert ctl.state.halt is not None
    finally:
        ctl.close()
    assert version(env["PG_TEST"]) == ["r2"]
    from cockpit.tui.panes import halt_lines

    lines = halt_lines(ctl.runbook, ctl.state, clock=False, keys=False, markup=False)
    assert "  step up: committed through revision 2 of 5 (r2)" in lines
    assert "HELD      up before revision r3 (3 of 5)" in cockpit("status", str(session)).stdout


def test_a_hold_the_runbook_asks_countersigned_goes_on_only_with_a_reviewers_file(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    from tests.four_eyes import make_keys

    keys = make_keys(tmp_path / "keys")
    runbook, env = project(tmp_path, pg_cluster,
                           f', per_revision = true, hold_before = "r3", '
                           f'hold_countersign = true, {LEAVES}', revisions())
    session, signed = tmp_path / "s", tmp_path / "hold-bob.json"
    answers = tmp_path / "answers.toml"
    answers.write_text('[holds]\nup = "r3"\n')
    sign = ["--sign-key", str(keys.operator)]
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--answers",
                   str(answers), "--session", str(session), *sign, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "HELD: step up before revision r3: the runbook asks a reviewer's countersignature" \
        in done.stdout
    assert version(env["PG_TEST"]) == ["r2"]
    # the operator's own key is no second pair of eyes
    own = cockpit("countersign", str(session), "--hold", "--key", str(keys.operator),
                  "--confirm", "countersign", "--output", str(tmp_path / "own.json"))
    assert own.returncode == 3 and "self-approval" in own.stderr
    made = cockpit("countersign", str(session), "--hold", "--key", str(keys.reviewer),
                   "--confirm", "countersign", "--output", str(signed))
    assert made.returncode == 0, made.stderr
    assert "hold:        step up before revision r3 (run up.1" in made.stderr
    assert "committed:   r1, r2" in made.stderr
    waiting = cockpit("resume", str(session), "--headless", "--assume-yes", "--answers",
                      str(answers), *sign, env=env)  # signed, not yet attached: still held
    assert waiting.returncode == 3 and version(env["PG_TEST"]) == ["r2"]
    attached = cockpit("attach-signature", str(session), str(signed))
    assert attached.returncode == 0, attached.stdout + attached.stderr
    went = cockpit("resume", str(session), "--headless", "--assume-yes", "--answers",
                   str(answers), *sign, env=env)
    assert went.returncode == 0, went.stdout + went.stderr
    assert version(env["PG_TEST"]) == ["r5"]
    attached_sig = of(session, "signature_attached")
    assert any(s["kind"] == "hold" and s["subject"] == "up:r3:up.1" for s in attached_sig)
    verified = cockpit("verify", str(session), "--allowed-signers", str(keys.allowed))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # a hold countersigned once is not countersigned again (nothing is held now)
    again = cockpit("countersign", str(session), "--hold", "--key", str(keys.reviewer),
                    "--confirm", "countersign")
    assert again.returncode == 1 and "no step is held now" in again.stderr

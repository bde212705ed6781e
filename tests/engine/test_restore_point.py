"""The rollback facts a DBA decides on after a halt: the server's WAL position and time,
read just before each changing step starts; the first of them is the restore target the
halt banner, `status` and the decision record give."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg

from cockpit.demo.pgcluster import PgCluster
from tests.engine.helpers import phase, write_world
from tests.run import cockpit


def test_a_halted_run_gives_the_restore_target_before_its_first_change(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    database = str(psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"])
    url = pg_cluster.socket_url(database).render_as_string(hide_password=False)
    runbook = write_world(tmp_path, [
        phase("P0", [("look", "echo looking")], read_only=True),
        phase("P1", [("change", "echo changed"), ("boom", "echo DuplicateTable; exit 1")])])
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), env={"DATABASE_URL": url})
    assert done.returncode == 2, done.stdout + done.stderr
    events = [json.loads(x) for x in (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    points = [e["data"] for e in events if e["type"] == "restore_point"]
    assert [p["step"] for p in points] == ["change", "boom"]  # not the read-only step
    lsn = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")
    assert all(lsn.match(p["lsn"]) and p["server_time"].endswith("Z") for p in points)
    first = points[0]
    said = (f"restore target: before {first['server_time']} (LSN {first['lsn']}), read "
            "before step change")
    decision = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    target = decision["restore_target"]
    assert {key: target[key] for key in first} == first and target["at"]  # and when recorded
    assert f"R{said[1:]}" in (tmp_path / "s" / "evidence" / "decision.md").read_text()
    assert f"restore   {said}" in cockpit("status", str(tmp_path / "s")).stdout
    verified = cockpit("verify", str(tmp_path / "s"))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_without_a_database_no_restore_point_is_taken(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("change", "echo changed")])])
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), env={"DATABASE_URL": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restore_point" not in (tmp_path / "s" / "events.jsonl").read_text()


BACKUP = ('  { kind = "attestation", id = "pitr-backup", '
          'text = "PITR/backup rollback window attested" },\n')


def test_the_record_weighs_the_restore_target_against_the_backup_window(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    database = str(psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"])
    url = pg_cluster.socket_url(database).render_as_string(hide_password=False)
    said = {}
    for name, window in (("inside", "BKP-7 2020-01-01T00:00Z to 2099-01-01T00:00Z"),
                         ("outside", "BKP-7 2020-01-01T00:00Z to 2020-01-02T00:00Z"),
                         ("unstated", "BKP-7 verified by the DBA")):
        (tmp_path / name).mkdir()
        runbook = write_world(tmp_path / name, [
            phase("P1", [("change", "echo changed"), ("boom", "echo boom; exit 1")])])
        text = runbook.read_text()
        assert text.count("items = [\n") >= 1
        runbook.write_text(text.replace('heading = "Gates"\nitems = [\n',
                                        'heading = "Gates"\nitems = [\n' + BACKUP, 1))
        answers = tmp_path / f"{name}.toml"
        answers.write_text(f'[gates]\nsignoff = "GOV-1"\npitr-backup = "{window}"\n')
        done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                       "--session", str(tmp_path / name / "s"), env={"DATABASE_URL": url})
        assert done.returncode == 2, done.stdout + done.stderr
        evidence = tmp_path / name / "s" / "evidence"
        window_said = json.loads((evidence / "decision.json").read_text())["backup_window"]
        assert window_said["gate"] == "pitr-backup"
        assert f"Backup window (pitr-backup): {window_said['said']}" in (
            evidence / "decision.md").read_text()
        said[name] = window_said
    assert said["inside"]["inside"] is True and "lies inside it" in said["inside"]["said"]
    assert said["outside"]["inside"] is False and "lies OUTSIDE it" in said["outside"]["said"]
    assert said["unstated"] == {"gate": "pitr-backup", "stated": False,
                                "said": "backup window not stated (the attestation gives no "
                                        "ISO time range)"}


def test_the_record_says_whether_the_rehearsal_ran_a_downgrade_path(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    from tests.engine.test_per_revision import PY, project, revisions

    (tmp_path / "r").mkdir()
    # each revision with its downgrade (it drops the table it made): the way back passes
    runbook, env = project(tmp_path / "r", pg_cluster, "", [
        (rev, down, body + f'\n\n\ndef downgrade():\n    op.execute("DROP TABLE t{rev[1:]}")')
        for rev, down, body in revisions()])
    down = f"{PY} -m alembic downgrade base"
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/up.log" },', 'log = "logs/up.log" },\n  { kind = "command", id = '
        f'"down", command = "{down}", log = "logs/down.log" }},', 1))
    rehearsal = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                        str(tmp_path / "rs"), env=env)
    assert rehearsal.returncode == 0, rehearsal.stdout + rehearsal.stderr
    cutover = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                      str(tmp_path / "cs"), "--rehearsal", str(tmp_path / "rs"), env=env)
    assert cutover.returncode == 0, cutover.stdout + cutover.stderr
    evidence = tmp_path / "cs" / "evidence"
    said = json.loads((evidence / "decision.json").read_text())["rehearsal_downgrades"]
    assert said == [f"step down ran `{down}` to a pass"]
    assert f"The rehearsal ran a downgrade path: step down ran `{down}`" in (
        evidence / "decision.md").read_text()

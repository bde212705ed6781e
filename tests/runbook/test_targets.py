"""Alembic targets checked before anything runs: `validate` offline from the script directory,
and the `alembic.targets_known` gate online — a typo refused naming the step and the nearest
revision, every form Alembic accepts let through."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.upgrade_path import expected_upgrade
from cockpit.probes.registry import ProbeContext, run_probe
from cockpit.runbook.alembic_config import LineageUnreadable, command_config, read_lineage
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.targets import command_targets, target_problems
from tests.engine.helpers import cockpit, phase, write_world
from tests.probes.test_risk import ENV_PY, REVISION
from tests.run import db_url

LINEAGE = [
    ("0005_accounts", None, '    op.execute("CREATE TABLE accounts (id bigint PRIMARY KEY)")',
     "ledger"),
    ("0006_entries_account_posted_idx", "0005_accounts",
     '    op.execute("CREATE TABLE entries (id bigint PRIMARY KEY, account bigint)")', None),
    ("0007_entries_note", "0006_entries_account_posted_idx",
     '    op.execute("ALTER TABLE entries ADD COLUMN note text")', None),
]


def write_lineage(root: Path) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "env.py").write_text(ENV_PY)
    for rev, down, body, label in LINEAGE:
        text = REVISION.format(rev=rev, down=down, body=body) + "\n\ndef downgrade():\n    pass\n"
        if label:
            text = text.replace("branch_labels = None", f"branch_labels = ({label!r},)")
        (versions / f"{rev}.py").write_text(text)
    return root


def _runbook(tmp_path: Path, *commands: str, gate: bool = False) -> Path:
    steps = [(f"s{index}", command) for index, command in enumerate(commands)]
    runbook = write_world(tmp_path, [phase("P3", steps)])
    write_lineage(runbook.parent)
    if gate:
        freeze = 'path = "freeze.log" },\n'
        runbook.write_text(runbook.read_text().replace(freeze, freeze + (
            '  { kind = "probe", id = "targets", text = "Alembic targets known", '
            'probe = "alembic.targets_known" },\n'), 1))
    return runbook


def test_a_typo_in_the_upgrade_target_is_refused_by_validate_naming_step_and_nearest(
        tmp_path: Path) -> None:
    runbook = _runbook(tmp_path, "alembic current", "alembic upgrade 0006_entries_acount_posted_idx")
    done = cockpit("validate", str(runbook))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "phases[0].steps[1].command: step 's1': `alembic upgrade " \
        "0006_entries_acount_posted_idx`" in done.stderr
    assert "did you mean 0006_entries_account_posted_idx?" in done.stderr
    assert "Traceback" not in done.stderr and not done.stdout


@pytest.mark.parametrize("command", [
    "alembic upgrade head", "alembic upgrade heads", "alembic upgrade", "alembic upgrade +1",
    "alembic downgrade -1", "alembic downgrade base", "alembic upgrade 0006",
    "alembic upgrade ledger@head", "alembic upgrade 0005_accounts@head",
    "alembic upgrade 0005_accounts+1", "alembic upgrade 0005_accounts:0007_entries_note --sql",
    "uv run alembic -c alembic.ini upgrade 0007_entries_note --tag x",
    "alembic stamp 0005_accounts --purge",
])
def test_every_form_alembic_accepts_passes_validate(tmp_path: Path, command: str) -> None:
    path = _runbook(tmp_path, command)
    assert target_problems(load_runbook(path), path)[0] == []


@pytest.mark.parametrize(("command", "nearest"), [
    ("alembic stamp 0005_acounts", "0005_accounts"),
    ("alembic upgrade ledgr@head", "ledger"),
    ("alembic upgrade 0005_accounts:0007_entries_nte --sql", "0007_entries_note"),
    ("alembic downgrade 0006_entries_account_posted_idy-1", "0006_entries_account_posted_idx"),
])
def test_a_wrong_stamp_branch_range_or_relative_base_is_refused(
        tmp_path: Path, command: str, nearest: str) -> None:
    path = _runbook(tmp_path, command)
    ((place, why),) = target_problems(load_runbook(path), path)[0]
    assert place == "phases[0].steps[0].command" and why.endswith(f"did you mean {nearest}?")


def test_a_partial_id_that_names_several_revisions_is_refused(tmp_path: Path) -> None:
    path = _runbook(tmp_path, "alembic upgrade 000")
    ((_, why),) = target_problems(load_runbook(path), path)[0]
    assert "names several revisions" in why


def test_a_lineage_that_cannot_be_read_here_gives_a_note_not_an_error(tmp_path: Path) -> None:
    runbook = _runbook(tmp_path, "alembic upgrade 0006_entries_acount_posted_idx")
    text = runbook.read_text()
    (runbook.parent / "alembic.ini").unlink()
    done = cockpit("validate", str(runbook))
    assert done.returncode == 0 and "the Alembic targets are not checked here" in done.stderr
    windows = text.replace('[halt]', '[setup]\nheading = "Setup"\nitems = [\n  { kind = '
                           '"working_directory", id = "wd", text = "cd `d:\\\\ledger`", path = '
                           '"d:\\\\ledger" },\n]\n\n[halt]', 1)
    runbook.write_text(windows)
    done = cockpit("validate", str(runbook))
    assert done.returncode == 0, done.stderr
    assert "not checked here (the working directory `d:\\ledger` is for Windows)" in done.stderr


def test_the_command_words_alembic_reads_as_targets() -> None:
    assert command_targets("alembic downgrade -1") == ("downgrade", ["-1"], False)
    assert command_targets("python -m alembic upgrade a:b --sql") == ("upgrade", ["a", "b"], True)
    assert command_targets("alembic -x tenant=a upgrade") == ("upgrade", ["heads"], False)
    assert command_targets("alembic current") is None
    assert command_targets("alembic upgrade head && echo done | tee x.log") == (
        "upgrade", ["head"], False)
    assert command_targets("alembic stamp a b > stamp.log") == ("stamp", ["a", "b"], False)
    assert command_targets("alembic downgrade -1; echo x") == ("downgrade", ["-1"], False)


def _gate(project: Path, env: dict[str, str], *commands: str) -> tuple[bool, str]:
    """(ok, detail) of the `alembic.targets_known` gate over these commands (s0, s1, …)."""
    ctx = ProbeContext(workdir=project, env=env, commands=tuple(
        (f"s{index}", command) for index, command in enumerate(commands)))
    result = run_probe("alembic.targets_known", ctx, None, {})
    return result.ok, result.detail


def test_the_gate_refuses_a_typo_and_walks_a_relative_target_from_the_database(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    project = write_lineage(tmp_path / "ledger")
    env = {**os.environ, "DATABASE_URL": db_url(pg_cluster, pg_db)}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "0006"], cwd=project,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    def gate(*commands: str) -> tuple[bool, str]:
        return _gate(project, env, *commands)

    assert gate("alembic upgrade 0007_entries_note", "alembic upgrade +1",
                "alembic downgrade -1") == (True, "3 Alembic target(s), each a revision of "
                                                  "the lineage")
    ok, detail = gate("alembic upgrade 0006_entries_acount_posted_idx")
    assert not ok and "step 's0'" in detail and \
        "did you mean 0006_entries_account_posted_idx?" in detail
    ok, detail = gate("alembic upgrade +2")  # one revision is left after 0006
    assert not ok and "from the database's revision" in detail, detail


@pytest.mark.system_slow
def test_a_typo_keeps_the_gate_closed_in_a_run_and_nothing_runs(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    runbook = _runbook(tmp_path, "alembic upgrade 0006_entries_acount_posted_idx", gate=True)
    env = {"DATABASE_URL": db_url(pg_cluster, pg_db)}
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "NO-GO: 1 open: gate targets" in done.stdout
    events = [json.loads(line) for line in (tmp_path / "s" / "events.jsonl").open()]
    (gate,) = [e["data"] for e in events if e["type"] == "gate_evaluated"
               and e["data"]["gate"] == "targets"]
    assert gate["detail"] == ("step 's0' (upgrade): '0006_entries_acount_posted_idx' is no "
                              "revision or branch of the lineage; did you mean "
                              "0006_entries_account_posted_idx?")
    assert not (runbook.parent / "logs" / "s0.log").exists()


@pytest.mark.parametrize("gate", [False, True])
def test_validate_notes_a_runbook_whose_targets_no_gate_checks(tmp_path: Path,
                                                                gate: bool) -> None:
    done = cockpit("validate", str(_runbook(tmp_path, "alembic upgrade head", gate=gate)))
    assert done.returncode == 0, done.stderr
    noted = "phases[0].steps[0].command: runs `alembic upgrade` but no gate checks its " \
        'target where the steps run: add a gate with probe = "alembic.targets_known"'
    assert (noted in done.stderr) is not gate


# A second lineage beside the first, as a project with two databases (or a blue/green pair)
# keeps it: its own ini file, or its own section of alembic.ini.
BLUE = [("0100_blue", None, '    op.execute("CREATE TABLE blue (id bigint PRIMARY KEY)")'),
        ("0101_blue_note", "0100_blue", '    op.execute("ALTER TABLE blue ADD COLUMN note text")')]


def write_blue(root: Path) -> Path:
    versions = root / "blue" / "versions"
    versions.mkdir(parents=True)
    (root / "blue" / "env.py").write_text(ENV_PY)
    for rev, down, body in BLUE:
        (versions / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down, body=body)
                                            + "\n\ndef downgrade():\n    pass\n")
    (root / "other.ini").write_text("[alembic]\nscript_location = blue\n")
    with (root / "alembic.ini").open("a") as ini:
        ini.write("\n[bluedb]\nscript_location = blue\n")
    return root


@pytest.mark.parametrize(("command", "wrong"), [
    ("alembic -c other.ini upgrade 0101_blue_note", None),
    ("alembic --config=other.ini stamp 0100_blue", None),
    ("alembic -n bluedb upgrade 0101_blue_note", None),
    ("uv run alembic --name bluedb -x tenant=a upgrade 0100_blue+1", None),
    ("alembic upgrade 0101_blue_note", "0101_blue_note"),  # not the default lineage's
    ("alembic -c other.ini upgrade 0007_entries_note", "0007_entries_note"),
    ("alembic -n bluedb downgrade 0006_entries_account_posted_idx", "0006_entries_account"),
])
def test_validate_reads_the_lineage_the_command_names_with_c_or_n(
        tmp_path: Path, command: str, wrong: str | None) -> None:
    path = _runbook(tmp_path, command)
    write_blue(path.parent)
    problems = target_problems(load_runbook(path), path)[0]
    if wrong is None:
        assert problems == []
    else:
        ((place, why),) = problems
        assert place == "phases[0].steps[0].command" and f"'{wrong}" in why, why


def test_a_project_configured_in_pyproject_toml_alone_has_its_targets_checked(
        tmp_path: Path) -> None:
    path = _runbook(tmp_path, "alembic upgrade 0007_entries_note", "alembic upgrade 0007_x")
    (path.parent / "alembic.ini").unlink()
    (path.parent / "pyproject.toml").write_text(
        '[project]\nname = "ledger"\n\n[tool.alembic]\nscript_location = "migrations"\n')
    problems, notes = target_problems(load_runbook(path), path)
    assert [place for place, _ in problems] == ["phases[0].steps[1].command"], (problems, notes)
    assert not any("not checked here" in note for _, note in notes)


def test_a_missing_config_file_is_named_in_the_note(tmp_path: Path) -> None:
    path = _runbook(tmp_path, "alembic -c prod.ini upgrade head")
    notes = target_problems(load_runbook(path), path)[1]
    named = f"{path.parent.resolve()}: no prod.ini (nor a pyproject.toml with [tool.alembic]) "
    assert any(named + "in the working directory" in note for _, note in notes), notes


def test_the_gate_reads_the_lineage_of_c_n_and_alembic_config(tmp_path: Path) -> None:
    project = write_blue(write_lineage(tmp_path / "ledger"))

    def gate(command: str, **env: str) -> tuple[bool, str]:
        return _gate(project, env, command)

    assert gate("alembic -c other.ini upgrade 0101_blue_note")[0]
    assert gate("alembic -n bluedb upgrade 0101_blue_note")[0]
    assert gate("alembic upgrade 0101_blue_note", ALEMBIC_CONFIG="other.ini")[0]
    ok, detail = gate("alembic -c other.ini upgrade 0007_entries_note")
    assert not ok and "'0007_entries_note' is no revision" in detail, detail
    ok, detail = gate("alembic upgrade 0007_entries_note", ALEMBIC_CONFIG="other.ini")
    assert not ok and "'0007_entries_note' is no revision" in detail, detail
    ok, detail = gate("alembic -c missing.ini upgrade head")
    assert not ok and "no missing.ini" in detail, detail


def test_the_risk_gate_and_the_revision_count_follow_the_steps_config(
        tmp_path: Path, pg_cluster: PgCluster, pg_db: str) -> None:
    project = write_blue(write_lineage(tmp_path / "ledger"))
    env = {**os.environ, "DATABASE_URL": db_url(pg_cluster, pg_db)}
    command = "alembic -c other.ini upgrade head"
    assert expected_upgrade(command, project, env) == (["0100_blue", "0101_blue_note"], [])
    ctx = ProbeContext(workdir=project, env=env, commands=(("s0", command),))
    result = run_probe("migration.risk", ctx, None, {})
    assert result.reached, result.detail
    report = json.loads(dict(result.files)["migration-risk.json"])
    assert report["path"] == ["0100_blue", "0101_blue_note"], report
    assert {f["revision"] for f in report["findings"]} <= {"0100_blue", "0101_blue_note"}


def test_the_lineage_probes_read_the_config_of_the_runbooks_upgrade(tmp_path: Path) -> None:
    project = write_blue(write_lineage(tmp_path / "ledger"))
    ctx = ProbeContext(workdir=project, env={}, commands=(
        ("s0", "alembic current"), ("s1", "alembic -c other.ini upgrade head")))
    assert run_probe("alembic.single_head", ctx, "0101_blue_note", {}).ok
    path = run_probe("alembic.upgrade_path_includes", ctx, ["0100_blue"], {})
    assert path.ok and path.observed == ["0100_blue", "0101_blue_note"], path.detail
    plain = ProbeContext(workdir=project, env={}, commands=(("s0", "alembic upgrade head"),))
    assert run_probe("alembic.single_head", plain, "0007_entries_note", {}).ok


def test_a_reading_step_whose_config_is_not_there_is_noted_and_keeps_the_gate_closed(
        tmp_path: Path) -> None:
    path = _runbook(tmp_path, "alembic heads", "alembic -c other.ini upgrade 0101_blue_note")
    project = write_blue(path.parent)
    (project / "alembic.ini").unlink()
    problems, notes = target_problems(load_runbook(path), path)
    assert problems == []
    ((place, note),) = [(p, n) for p, n in notes if "cannot read its configuration" in n]
    assert place == "phases[0].steps[0].command" and note.startswith(
        "step 's0': `alembic heads` cannot read its configuration here (") and \
        "unless ALEMBIC_CONFIG names another" in note, note

    def gate(**env: str) -> tuple[bool, str]:
        return _gate(project, env, "alembic heads",
                     "alembic -c other.ini upgrade 0101_blue_note")

    ok, detail = gate()
    assert not ok and detail.startswith("step 's0' (heads): ") and "no alembic.ini" in detail
    assert gate(ALEMBIC_CONFIG="other.ini") == (True, "1 Alembic target(s), each a revision "
                                                      "of the lineage")


def test_a_help_flag_of_another_command_does_not_skip_the_check(tmp_path: Path) -> None:
    path = _runbook(tmp_path, "alembic upgrade 0007_entries_nte && psql -h db -c analyze")
    ((_, why),) = target_problems(load_runbook(path), path)[0]
    assert "did you mean 0007_entries_note?" in why
    assert command_targets("alembic upgrade head && psql -h db") == ("upgrade", ["head"], False)


@pytest.mark.parametrize(("command", "env", "head"), [
    ("ALEMBIC_CONFIG=other.ini alembic heads", {}, "0101_blue_note"),
    ("env ALEMBIC_CONFIG=other.ini uv run alembic heads", {}, "0101_blue_note"),
    ('alembic -c "$CFG" heads', {"CFG": "other.ini"}, "0101_blue_note"),
    ("alembic -c ${CFG} -n alembic heads", {"CFG": "other.ini"}, "0101_blue_note"),
    ("cd sub && alembic heads", {}, "0100_blue"),
    ('cd "sub" ; python -m alembic heads', {}, "0100_blue"),
    ("uv run --directory sub alembic heads", {}, "0100_blue"),
    ("alembic heads", {"ALEMBIC_CONFIG": "other.ini"}, "0101_blue_note"),
    ("alembic heads", {}, "0007_entries_note"),
])
def test_the_config_is_read_as_the_shell_and_alembic_would(
        tmp_path: Path, command: str, env: dict[str, str], head: str) -> None:
    project = write_blue(write_lineage(tmp_path / "ledger"))
    sub = project / "sub"
    (sub / "blue" / "versions").mkdir(parents=True)
    (sub / "alembic.ini").write_text("[alembic]\nscript_location = blue\n")
    rev, down, body = BLUE[0]
    (sub / "blue" / "versions" / f"{rev}.py").write_text(
        REVISION.format(rev=rev, down=down, body=body))
    before = list(sys.path)
    assert read_lineage(project, command_config(command, env)).get_heads() == [head]
    assert sys.path == before  # the project's prepend_sys_path is not left behind


@pytest.mark.parametrize(("command", "env", "why"), [
    ("pushd sub && alembic heads", {}, "changes folder before Alembic runs"),
    ('alembic -c "$CFG" heads', {}, "$CFG is not set here"),
    ("alembic -c a.ini -c b.ini heads", {}, "Alembic takes one ini file"),
    ("alembic -c other.ini upgrade head --tag", {}, "Alembic's command line refuses it"),
])
def test_a_config_that_cannot_be_known_here_is_said_so(
        tmp_path: Path, command: str, env: dict[str, str], why: str) -> None:
    project = write_blue(write_lineage(tmp_path / "ledger"))
    with pytest.raises(LineageUnreadable, match=re.escape(why)):
        read_lineage(project, command_config(command, env))


def test_relative_version_locations_are_the_working_directorys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = write_lineage(tmp_path / "ledger")
    extra = project / "migrations" / "extra"
    extra.mkdir()
    (project / "migrations" / "versions" / "0007_entries_note.py").rename(
        extra / "0007_entries_note.py")
    (project / "alembic.ini").write_text(
        "[alembic]\nscript_location = migrations\npath_separator = space\n"
        "version_locations = migrations/versions migrations/extra\n")
    monkeypatch.chdir(tmp_path)  # the cockpit runs elsewhere than the step
    assert read_lineage(project).get_heads() == ["0007_entries_note"]
    (project / "alembic.ini").write_text(
        "[alembic]\nscript_location = migrations\npath_separator = space\n"
        "version_locations = migrations/versions migrations/gone\n")
    with pytest.raises(LineageUnreadable, match="migrations/gone, which does not exist"):
        read_lineage(project)


@pytest.mark.parametrize(("ini", "why"), [
    ("[alembic]\nscript_location = migrations\ntruncate_slug_length = x\n", "ValueError"),
    ("[alembic]\nscript_location = %(nope)s\n", "Interpolation"),
    ("[alembic\nscript_location = migrations\n", "MissingSectionHeaderError"),
])
def test_a_damaged_ini_is_a_note_naming_it_not_a_crash(tmp_path: Path, ini: str,
                                                        why: str) -> None:
    path = _runbook(tmp_path, "alembic upgrade head")
    (path.parent / "alembic.ini").write_text(ini)
    done = cockpit("validate", str(path))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert f"{path.parent / 'alembic.ini'}: Alembic cannot read" in done.stderr
    assert why in done.stderr, done.stderr


def test_pyproject_in_any_toml_spelling_is_read(tmp_path: Path) -> None:
    project = write_lineage(tmp_path / "ledger")
    (project / "alembic.ini").unlink()
    (project / "pyproject.toml").write_text('[tool]\nalembic.script_location = "migrations"\n')
    assert read_lineage(project).get_heads() == ["0007_entries_note"]

"""The targets file: waves worked out in the file's order (a canary by name, then by count,
percent or the rest), and every mistake named by its place before anything is made."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.fleet.approvals import AnswerApprovals, go_words, split_answers
from cockpit.fleet.plan import TargetsError, parse_plan
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from tests.fleet.world import RUNBOOK, WAVES_1_5_14, targets_toml
from tests.run import cockpit


def _runbook(extra: str = "") -> Runbook:
    return parse_runbook(RUNBOOK.format(role="fleet", port=5432, after="", before="") + extra, "r.toml")


def _plan(text: str, runbook: Runbook | None = None):  # type: ignore[no-untyped-def]
    return parse_plan(tomllib.loads(text), runbook or _runbook(), "targets.toml")


NAMES = [f"t{i:02d}" for i in range(1, 21)]


def test_a_canary_then_waves_of_5_and_14() -> None:
    plan = _plan(targets_toml(NAMES, WAVES_1_5_14, "parallel = 4"))
    assert [(w.name, len(w.targets), w.parallel) for w in plan.waves] == [
        ("canary", 1, 4), ("second", 5, 4), ("rest", 14, 4)]
    assert plan.waves[1].targets == ("t02", "t03", "t04", "t05", "t06")
    assert plan.values_of(plan.target("t07")) == {"database": "tenant_t07"}
    assert plan.environment_of(plan.target("t07")) == "tenant"


def test_a_percentage_rounds_up_and_a_canary_anywhere_in_the_file_is_left_out() -> None:
    waves = ('[[waves]]\nname = "canary"\ntargets = ["t10"]\n\n[[waves]]\nname = "quarter"\n'
             'percent = 25\nparallel = 2\n\n[[waves]]\nname = "rest"\nrest = true\n')
    plan = _plan(targets_toml(NAMES[:10], waves))
    assert plan.waves[1].targets == ("t01", "t02", "t03")  # 25 % of 10, rounded up
    assert plan.waves[1].parallel == 2
    assert "t10" not in plan.waves[2].targets and len(plan.waves[2].targets) == 6


@pytest.mark.parametrize(("change", "said"), [
    (lambda t: t.replace('count = 5', 'count = 25'),
     "targets.toml: waves[1] (second): asks for 25 targets; 19 are left"),
    (lambda t: t.replace('rest = true', 'count = 3'),
     "targets.toml: waves: 11 target(s) are in no wave (t10, t11, t12, t13, t14 …); add a "
     "last wave with rest = true"),
    (lambda t: t.replace('targets = ["t01"]', 'targets = ["t99"]'),
     "targets.toml: waves[0] (canary): targets: 't99' is no target of the file"),
    (lambda t: t.replace('count = 5', 'count = 5\npercent = 10'),
     "targets.toml: waves[1] (second): give exactly one of `targets` (names), `count`, `percent` or "
     "`rest = true`"),
    (lambda t: t.replace('environment = "tenant"', 'environment = "prod"'),
     "targets.toml: environment: 'prod': no such environment in runbook 'tenant-upgrade'; it "
     "declares: tenant"),
    (lambda t: t.replace('name = "t03"', 'name = "t02"'),
     "targets.toml: targets[2].name: 't02' names another target too"),
    (lambda t: t.replace('database = "tenant_t04"', 'database = "tenant_t04"\n'
                         'dsn_env = { PG_URL = "T04" }'),
     "targets.toml: targets[3].dsn_env.PG_URL: the runbook has no `env` item named PG_URL"),
    (lambda t: t.replace('database = "tenant_t04"', 'database = "a/b"'),
     "targets.toml: targets[3].database: String should match pattern"),
    (lambda t: t.replace('database = "tenant_t05"', 'database = "tenant_t05"\n'
                         'window = { opens = 2026-12-06T20:00:00 }'),
     "targets.toml: targets[4].window.opens: give the time zone"),
    (lambda t: t.replace('parallel = 4', 'parallel = 4\nparalel = 3'),
     "targets.toml: fleet.paralel: unknown key 'paralel'"),
    (lambda t: t.replace('database = "tenant_t08"\n', ''),
     "targets.toml: targets[7]: 't08' names no database: give `database`"),
    (lambda t: t.replace('database = "tenant_t09"', 'database = "tenant_t02"'),
     "targets.toml: targets[8]: 't09' names the same database as 't02' (tenant_t02)"),
])
def test_a_mistake_is_named_by_its_place(change, said: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TargetsError) as caught:
        _plan(change(targets_toml(NAMES, WAVES_1_5_14, "parallel = 4")))
    assert said in caught.value.message


def test_the_fleet_table_of_the_answers_is_the_fleets_alone() -> None:
    raw = (b'[confirm]\nupgrade = "upgrade"\n\n[fleet]\ngo = "GO 0123456789ab"\n\n'
           b'[fleet.waves]\nsecond = "second"\n\n[manual]\nnote = "x"\n')
    table, rest = split_answers(raw, Path("a.toml"))
    assert tomllib.loads(rest.decode()) == {"confirm": {"upgrade": "upgrade"},
                                            "manual": {"note": "x"}}
    approvals = AnswerApprovals(table, "alice", "a.toml")
    assert approvals.go(go_words("0123456789ab" + "f" * 52)).approver == "alice"  # type: ignore[union-attr]
    assert approvals.wave("second") is not None and approvals.wave("rest") is None
    with pytest.raises(CockpitError, match="does not approve this targets file"):
        approvals.go(go_words("f" * 64))
    with pytest.raises(CockpitError, match=r"\[fleet\] names gone"):
        split_answers(b'[fleet]\ngone = 1\n', Path("a.toml"))


def test_fleet_run_refuses_before_anything_is_made(tmp_path: Path) -> None:
    """A target's DSN variable that is not set, a targets file that does not fit: refused
    with the place and the fix, exit 1, no fleet folder."""
    runbook = tmp_path / "runbook.toml"
    runbook.write_text(RUNBOOK.format(role="fleet", port=5432, after="", before=""))
    targets = tmp_path / "targets.toml"
    targets.write_text(targets_toml(NAMES, WAVES_1_5_14).replace(
        'database = "tenant_t07"', 'database = "tenant_t07"\ndsn_env = { DATABASE_URL = '
        '"T07_URL" }'))
    folder = tmp_path / "fleet"
    unset = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets),
                    "--folder", str(folder), env={}, inherit=False)
    assert unset.returncode == 1 and unset.stderr.strip() == (
        "target t01: $DATABASE_URL is not set: each target's DSN is built from it (its host and "
        "database replaced by the target's); export it, password included — or name a "
        "variable per target (dsn_env)")
    base = "postgresql+psycopg://fleet:pw@127.0.0.1:5432/tenant_base?sslmode=require"
    done = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets),
                   "--folder", str(folder), env={"T07_URL": "", "DATABASE_URL": base},
                   inherit=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().endswith("target t07: $T07_URL is not set (it holds the "
                                        "target's DATABASE_URL); export it where the target runs")
    assert not folder.exists()
    targets.write_text(targets_toml(NAMES[:3], WAVES_1_5_14))
    done = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets), "--folder",
                   str(folder))
    assert done.returncode == 1 and "waves[1] (second): asks for 5 targets; 2 are left" in done.stderr
    assert "Traceback" not in done.stderr and not folder.exists()


def test_a_celery_fleet_whose_broker_is_unreachable_is_refused_before_a_target_is_sent(
        tmp_path: Path) -> None:
    from cockpit.demo.pgcluster import free_port

    runbook = tmp_path / "runbook.toml"
    runbook.write_text(RUNBOOK.format(role="fleet", port=5432, after="", before=""))
    targets = tmp_path / "targets.toml"
    targets.write_text(targets_toml(NAMES[:3], '[[waves]]\nname = "all"\nrest = true\n',
                                    'dispatch = "celery"'))
    url = f"redis://:s3cret-broker@127.0.0.1:{free_port()}/0"
    unset = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets),
                    "--folder", str(tmp_path / "f0"))
    assert unset.returncode == 1 and "$COCKPIT_BROKER_URL is not set" in unset.stderr
    done = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets),
                   "--folder", str(tmp_path / "f1"), env={"COCKPIT_BROKER_URL": url})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the Celery broker $COCKPIT_BROKER_URL names (redis://:**@127.0.0.1:" in done.stderr
    assert "password hidden) cannot be reached (OperationalError)" in done.stderr
    assert done.stderr.strip().endswith("then run it again")
    assert "s3cret-broker" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "f1").exists()  # nothing made: no folder, no lock left behind
    amqp = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets),
                   "--folder", str(tmp_path / "f2"),
                   env={"COCKPIT_BROKER_URL": "amqp://guest:guest@127.0.0.1//"})
    assert amqp.returncode == 1 and "names a broker of scheme amqp; fleets use Redis" in \
        amqp.stderr and "guest" not in amqp.stderr and not (tmp_path / "f2").exists()


@pytest.mark.parametrize(("args", "url", "said"), [
    ([], "amqp://guest:s3cret@127.0.0.1//", "names a broker of scheme amqp; fleets use Redis"),
    (["--concurrency", "0"], "redis://127.0.0.1:1/0", "--concurrency 0: at least 1"),
    (["--concurrency", "-2"], "redis://127.0.0.1:1/0", "--concurrency -2: at least 1"),
    (["--visibility-timeout", "soon"], "redis://127.0.0.1:1/0", "--visibility-timeout soon"),
    ([], "", "$COCKPIT_BROKER_URL is not set")])
def test_a_worker_is_refused_with_a_word_before_celery_starts(
        args: list[str], url: str, said: str) -> None:
    done = cockpit("fleet", "worker", *args, env={"COCKPIT_BROKER_URL": url})
    assert done.returncode == 1, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert "s3cret" not in done.stdout + done.stderr


def test_celery_is_imported_only_by_a_celery_fleet() -> None:
    """The extra is optional: a fleet on this machine (and every other command) never loads
    Celery; only the dispatch module that uses it does."""
    import subprocess
    import sys

    probe = ("import sys, pkgutil, importlib, cockpit.fleet as f, cockpit.cli.fleet\n"
             "for m in pkgutil.iter_modules(f.__path__):\n"
             "    if m.name != 'celery_dispatch': importlib.import_module(f'cockpit.fleet.{m.name}')\n"
             "import cockpit.tui.fleet_app\n"
             "print(sorted(n for n in sys.modules if n.split('.')[0] in ('celery', 'kombu')))\n"
             "import cockpit.fleet.celery_dispatch\n"
             "print('celery' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines() == ["[]", "True"], done.stdout + done.stderr


def test_a_runbook_that_asks_each_session_for_countersignatures_is_refused_as_a_fleet(
        tmp_path: Path) -> None:
    """Each target is a headless session that cannot wait for reviewers: such a runbook is
    refused once, at the fleet's start, not target after target."""
    runbook = tmp_path / "runbook.toml"
    text = RUNBOOK.format(role="fleet", port=5432, after="", before="")
    runbook.write_text(text.replace('heading = "Decision"\n',
                                    'heading = "Decision"\ncountersignatures = 1\n', 1))
    targets = tmp_path / "targets.toml"
    targets.write_text(targets_toml(NAMES[:3], '[[waves]]\nname = "all"\nrest = true\n'))
    done = cockpit("fleet", "run", "--headless", str(runbook), "--targets", str(targets),
                   "--folder", str(tmp_path / "f"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "this runbook asks for reviewers' countersignatures of each session" in done.stderr
    assert "`countersign = true`" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "f").exists()

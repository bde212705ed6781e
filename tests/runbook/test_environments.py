"""`[environments.NAME]`: one approved runbook for the clone and production. Each
environment's values replace the setup's as written (those the transcript shows, which stays
production's); the runbook's sha256 pins every environment; `run --environment` is required
among several and names the choices; the proof sets the environments' values aside."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cockpit.errors import CockpitError, RunbookError
from cockpit.runbook.environment import (
    PLACEHOLDER,
    choose_environment,
    environment_neutral,
    for_environment,
)
from cockpit.runbook.identity import runbook_identity
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import EnvVar, Runbook, WorkingDirectory
from cockpit.runbook.render import render_markdown
from cockpit.runbook.toml_writer import runbook_to_toml
from tests.engine.helpers import cockpit

RUNBOOK = """format = 1
id = "ledger"
title = "Ledger cutover"
production = true

[setup]
heading = "Setup"
items = [
  { kind = "working_directory", id = "wd", text = "Working directory set to `ledger`", path = "/srv/ledger" },
  { kind = "env", id = "dsn", text = "`DATABASE_URL` set to `ledger_prod` with `sslmode=require`", name = "DATABASE_URL", template = "postgresql://app:<PASSWORD>@db.prod.internal:5432/ledger_prod?sslmode=require", database = "ledger_prod", require = { sslmode = "require" } },
]

[[phases]]
id = "P0"
heading = "P0"
[[phases.steps]]
kind = "command"
id = "heads"
command = "alembic heads"
log = "logs/heads.log"
read_only = true
"""

ENVIRONMENTS = """
[environments.clone]
database = "ledger_clone"
host = "clone.internal:6432"
workdir = "/srv/rehearsal/ledger"

[environments.production]
"""


def _load(text: str) -> Runbook:
    return parse_runbook(text.encode(), "ledger.toml")


def _items(runbook: Runbook) -> tuple[WorkingDirectory, EnvVar]:
    assert runbook.setup is not None
    wd, dsn = runbook.setup.items
    assert isinstance(wd, WorkingDirectory) and isinstance(dsn, EnvVar)
    return wd, dsn


def test_an_environment_replaces_the_setup_values_it_names_and_keeps_the_others() -> None:
    runbook = _load(RUNBOOK + ENVIRONMENTS)
    wd, dsn = _items(for_environment(runbook, "clone"))
    assert wd.path == "/srv/rehearsal/ledger"
    assert dsn.database == "ledger_clone"
    assert dsn.template == ("postgresql://app:<PASSWORD>@clone.internal:6432/ledger_clone"
                            "?sslmode=require")
    assert dsn.text == "`DATABASE_URL` set to `ledger_prod` with `sslmode=require`"  # approved
    # production declares nothing: the values as written
    assert for_environment(runbook, "production") == runbook
    only_db = _load(RUNBOOK + '\n[environments.clone]\ndatabase = "ledger_clone"\n')
    wd, dsn = _items(for_environment(only_db, "clone"))
    assert wd.path == "/srv/ledger" and "@db.prod.internal:5432/ledger_clone?" in dsn.template


def test_the_transcript_renders_the_values_as_written() -> None:
    assert render_markdown(_load(RUNBOOK + ENVIRONMENTS)) == render_markdown(_load(RUNBOOK))


def test_the_runbook_sha256_pins_every_environment(tmp_path: Path) -> None:
    path = tmp_path / "ledger.toml"
    path.write_text(RUNBOOK + ENVIRONMENTS)
    pinned = runbook_identity(path)
    assert pinned.runbook_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(RUNBOOK + ENVIRONMENTS.replace("ledger_clone", "ledger_clone2"))
    changed = runbook_identity(path)
    assert changed.runbook_sha256 != pinned.runbook_sha256  # a new runbook to approve
    assert changed.transcript_sha256 == pinned.transcript_sha256  # the page reads the same


def test_the_environments_round_trip_through_the_toml_writer() -> None:
    runbook = _load(RUNBOOK + ENVIRONMENTS)
    written = runbook_to_toml(runbook)
    assert "[environments.clone]" in written and "[environments.production]" in written
    assert _load(written) == runbook


def test_choosing_an_environment() -> None:
    runbook = _load(RUNBOOK + ENVIRONMENTS)
    assert choose_environment(runbook, "clone", "ledger.toml") == "clone"
    with pytest.raises(CockpitError, match=r"ledger.toml: declares 2 environments \(clone, "
                                           r"production\); name the one this run uses with "
                                           r"--environment NAME"):
        choose_environment(runbook, None, "ledger.toml")
    with pytest.raises(CockpitError, match=r"no environment 'prod'; it declares: clone, "
                                           r"production"):
        choose_environment(runbook, "prod", "ledger.toml")
    single = _load(RUNBOOK + '\n[environments.clone]\ndatabase = "ledger_clone"\n')
    assert choose_environment(single, None, "x") == "clone"  # the only one
    assert choose_environment(_load(RUNBOOK), None, "x") is None
    with pytest.raises(CockpitError, match="declares no environments, so --environment clone"):
        choose_environment(_load(RUNBOOK), "clone", "x")


def test_run_refuses_a_missing_or_unknown_environment_before_anything_is_made(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.toml"
    path.write_text(RUNBOOK + ENVIRONMENTS)
    for extra, said in (([], "declares 2 environments (clone, production); name the one"),
                        (["--environment", "staging"], "no environment 'staging'; it "
                                                       "declares: clone, production")):
        done = cockpit("run", str(path), "--headless", "--session", str(tmp_path / "s"),
                       *extra, env={"DATABASE_URL": ""})
        assert done.returncode == 1, done.stderr
        assert said in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "s").exists()


def test_environment_values_no_setup_item_takes_are_refused() -> None:
    bare = RUNBOOK.split("[setup]")[0] + RUNBOOK[RUNBOOK.index("[[phases]]"):]
    with pytest.raises(RunbookError) as raised:
        _load(bare + ENVIRONMENTS)
    message = str(raised.value)
    assert "environments.clone.database: no `env` item in [setup]" in message
    assert "environments.clone.workdir: no `working_directory` item in [setup]" in message
    with pytest.raises(RunbookError, match=r"environments.clone.host: 'clone:x': the port"):
        _load(RUNBOOK + '\n[environments.clone]\nhost = "clone:x"\n')
    with pytest.raises(RunbookError, match=r"environments.clone"):  # only these keys
        _load(RUNBOOK + '\n[environments.clone]\ndbname = "ledger_clone"\n')


def test_the_proof_sets_the_environments_values_aside_and_nothing_else() -> None:
    ours = environment_neutral(_load(RUNBOOK + ENVIRONMENTS))
    edited = RUNBOOK + ENVIRONMENTS.replace("ledger_clone", "ledger_clone_v2")
    assert environment_neutral(_load(edited)) == ours  # an environment's value: aside
    assert ours.environments == {}
    _wd, dsn = _items(ours)
    assert dsn.database == PLACEHOLDER and "ledger_prod" not in dsn.text
    changed = RUNBOOK.replace("alembic heads", "alembic heads --verbose") + ENVIRONMENTS
    assert render_markdown(environment_neutral(_load(changed))) != render_markdown(ours)
    # without environments or per_environment, the setup's values are what must match
    plain = environment_neutral(_load(RUNBOOK))
    assert _items(plain)[1].database == "ledger_prod"


def test_with_environments_another_workdir_is_an_override_even_when_per_environment(
        tmp_path: Path) -> None:
    """Found in review: `init` writes `per_environment` beside `[environments]`, and that
    exemption let `--workdir` replace production's folder with no override recorded."""
    from cockpit.engine.setup import workdir_override

    text = RUNBOOK.replace('heading = "Setup"\n',
                           'heading = "Setup"\nper_environment = ["wd", "dsn"]\n')
    other = tmp_path / "other-checkout"
    other.mkdir()
    plain = _load(text)  # no environments: per_environment approves any folder, as before
    assert workdir_override(plain, tmp_path / "r.toml", other, allowed=False) is None
    production = for_environment(_load(text + ENVIRONMENTS), "production")
    with pytest.raises(CockpitError, match="--override-workdir"):
        workdir_override(production, tmp_path / "r.toml", other, allowed=False)
    said = workdir_override(production, tmp_path / "r.toml", other, allowed=True)
    assert said is not None and said["used"] == str(other.resolve())

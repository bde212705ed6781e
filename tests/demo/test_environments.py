"""One approved runbook, rehearsed on the clone and run in production (issue #27, item 5):
the demo's production runbook with `[environments.clone]` and `[environments.production]`,
rehearsed with `--environment clone` on a clone database of a real PostgreSQL (behind TLS),
then run with `--environment production` linked to that rehearsal — `rehearsal.pass`
proved, one runbook sha256 in both sessions, the environment named wherever the session is
shown. `setup.per_environment` alone never lets the production runbook take the clone."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.demo.world import World
from cockpit.resources import bundled_runbook
from tests.run import cockpit

pytestmark = pytest.mark.slow  # whole headless cutovers, one after the other

GATE = "clone-commit-match"
ENVIRONMENTS = ('\n[environments.clone]\ndatabase = "netzclone"\n\n[environments.production]\n'
                '\n[environments.clone2]\ndatabase = "netzclone2"\nworkdir = "copy/backend"\n')
DSNS = ("DATABASE_URL", "PG_DSN")


@dataclass
class Place:
    world: World
    runbook: Path  # the demo's production runbook with its two environments

    def env(self, database: str = "netzprod") -> dict[str, str]:
        return {k: v.replace("/netzprod?", f"/{database}?") if k in DSNS else v
                for k, v in self.world.env().items()}


def _cockpit(place: Place, *args: str, database: str = "netzprod",
             ) -> subprocess.CompletedProcess[str]:
    return cockpit(*args, env=place.env(database), timeout=600)


def _run(place: Place, session: Path, *args: str, runbook: Path | None = None,
         database: str = "netzprod") -> subprocess.CompletedProcess[str]:
    return _cockpit(place, "run", str(runbook or place.runbook), "--headless", "--answers",
                    str(bundled_runbook("demo-answers.toml")), "--session", str(session),
                    *args, database=database)


def _events(session: Path) -> list[dict]:
    return [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    """A world whose `netzclone` is a copy of `netzprod` (the clone a team rehearses on),
    and the runbook beside its backend (its working directory `backend`, as written)."""
    world = World.build(tmp_path_factory.mktemp("environments") / "world")
    try:
        with world.cluster.admin() as conn:
            for clone in ("netzclone", "netzclone2"):
                conn.execute(f"CREATE DATABASE {clone} TEMPLATE netzprod OWNER netzadmin")
        for folder in ("backend", "tmp"):  # clone2's own working directory: no world's
            shutil.copytree(world.workspace / folder, world.workspace / "copy" / folder,
                            symlinks=True)
        runbook = world.workspace / "cutover.toml"
        runbook.write_text(bundled_runbook("demo-cutover.toml").read_text() + ENVIRONMENTS)
        yield Place(world, runbook)
    finally:
        world.stop()


@pytest.fixture(scope="module")
def rehearsal(place: Place, tmp_path_factory: pytest.TempPathFactory) -> Path:
    session = tmp_path_factory.mktemp("rehearsal") / "clone"
    done = _run(place, session, "--environment", "clone", database="netzclone")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert done.stdout.rstrip().endswith("DECISION: PASS")
    return session


def test_per_environment_alone_does_not_let_the_production_runbook_take_the_clone(
        place: Place, tmp_path: Path) -> None:
    """The issue's reproduction: `per_environment` sets the values aside for the proof and
    `--workdir`, never for the setup's checks — which stay the runbook's as written."""
    runbook = place.runbook.with_name("per-environment.toml")
    text = bundled_runbook("demo-cutover.toml").read_text()
    anchor = 'password_placeholder = "<PASSWORD>"\n'
    assert anchor in text
    runbook.write_text(text.replace(anchor, anchor + 'per_environment = ["working-directory", '
                                    '"database-url", "pg-dsn"]\n', 1))
    done = _run(place, tmp_path / "s", runbook=runbook, database="netzclone")
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr
    assert "setup database-url: database is 'netzclone', expected 'netzprod'" in done.stdout
    refused = _run(place, tmp_path / "s2", "--environment", "clone", runbook=runbook)
    assert refused.returncode == 1 and "declares no environments" in refused.stderr


def test_one_runbook_rehearsed_on_the_clone_then_run_in_production_linked_to_it(
        place: Place, rehearsal: Path, tmp_path: Path) -> None:
    events = _events(rehearsal)
    started = events[0]["data"]
    assert started["environment"] == "clone"
    checked = {e["data"]["item"]: e["data"] for e in events if e["type"] == "setup_checked"}
    assert checked["database-url"]["ok"], checked["database-url"]
    assert "(environment clone: database netzclone)" in checked["database-url"]["detail"]
    # the rehearsal really ran on the clone: netzclone is at head, netzprod is untouched
    with place.world.cluster.admin("netzclone") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "70a79686336c",)
    with place.world.cluster.admin("netzprod") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0018",)

    session = tmp_path / "production"
    done = _run(place, session, "--environment", "production", "--rehearsal", str(rehearsal))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    events = _events(session)
    assert events[0]["data"]["environment"] == "production"
    gate = next(e["data"] for e in events
                if e["type"] == "gate_evaluated" and e["data"]["gate"] == GATE)
    assert gate["ok"] and gate["observed"]["proved"] is True, gate["detail"]
    assert gate["observed"]["items"]["runbook"]["ok"]
    assert gate["observed"]["items"]["commit"]["ok"]
    # one approved runbook: the same sha256 (and transcript) in both sessions
    pins = [(s["runbook_sha256"], s["transcript_sha256"])
            for s in (json.loads((f / "session.json").read_text())
                      for f in (rehearsal, session))]
    assert pins[0] == pins[1]
    with place.world.cluster.admin("netzprod") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "70a79686336c",)

    # the environment, named wherever the session is shown
    decision = json.loads((session / "evidence" / "decision.json").read_text())
    assert decision["environment"] == "production" and decision["rehearsal"]["proved"]
    assert "Environment: production" in (session / "evidence" / "decision.md").read_text()
    status = _cockpit(place, "status", str(rehearsal))
    assert "  environment clone" in status.stdout.splitlines()[1], status.stdout
    report = _cockpit(place, "report", str(session))
    assert report.stdout.startswith(f"<!-- session {session.name} · runbook demo-cutover · "
                                    "environment production · runbook sha256 ")
    mirror = _cockpit(place, "mirror", str(rehearsal), "--plain")
    assert f"-- following session {rehearsal.name} (environment clone) from event" \
        in mirror.stdout
    replay = _cockpit(place, "mirror", str(rehearsal), "--plain", "--from-start")
    assert "session_started " in replay.stdout and "environment=clone" in replay.stdout


def test_a_rehearsal_of_another_runbook_is_refused_before_a_session_exists(
        place: Place, rehearsal: Path, tmp_path: Path) -> None:
    changed = place.runbook.with_name("changed.toml")
    changed.write_text(place.runbook.read_text().replace("alembic heads",
                                                         "alembic heads --verbose", 1))
    before = (rehearsal / "events.jsonl").read_bytes()
    done = _run(place, tmp_path / "s", "--environment", "production", "--rehearsal",
                str(rehearsal), runbook=changed)
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr
    assert f"rehearsal {rehearsal.name} cannot prove this run — runbook: the transcripts " \
           "differ" in done.stderr
    assert "Link the rehearsal that passed this runbook at this commit" in done.stderr
    assert not (tmp_path / "s").exists() and done.stdout == ""
    assert (rehearsal / "events.jsonl").read_bytes() == before


def test_a_session_started_without_a_link_is_linked_on_resume_and_runs_to_pass(
        place: Place, rehearsal: Path, tmp_path: Path) -> None:
    """No link and no commit typed: the gate waits (exit 3, nothing ran). `resume
    --rehearsal` links it — recorded as `rehearsal_linked` — and the gate is proved. (In a
    working directory of its own: resume would take a demo world's DSNs for its own.)"""
    answers = tmp_path / "answers.toml"
    text = bundled_runbook("demo-answers.toml").read_text()
    assert 'clone-commit-match = "clone-pass"\n' in text
    answers.write_text(text.replace('clone-commit-match = "clone-pass"\n', ""))
    session = tmp_path / "s"
    args = ["--headless", "--answers", str(answers)]
    waiting = _cockpit(place, "run", str(place.runbook), *args, "--session", str(session),
                       "--environment", "clone2", database="netzclone2")
    assert waiting.returncode == 3, waiting.stdout[-3000:] + waiting.stderr
    assert f"gate {GATE}" in waiting.stdout and "step_started" not in waiting.stdout
    done = _cockpit(place, "resume", str(session), *args, "--rehearsal", str(rehearsal),
                    database="netzclone2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    events = _events(session)
    linked = [e["data"] for e in events if e["type"] == "rehearsal_linked"]
    assert [d["rehearsal"]["session_id"] for d in linked] == [rehearsal.name]
    gate = [e["data"] for e in events
            if e["type"] == "gate_evaluated" and e["data"]["gate"] == GATE][-1]
    assert gate["ok"] and gate["observed"]["proved"] is True, gate["detail"]
    assert json.loads((session / "evidence" / "decision.json").read_text())["rehearsal"][
        "proved"]

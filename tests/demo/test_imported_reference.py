"""The reference checklist itself, imported with `cockpit import` as a team would import
theirs, as a rehearsal runbook (`production = false`) on a rehearsal world: halted on a
failed step, it records a BLOCKER — headless, and from the operator's screen.

The reference is written for a Windows jump host; its paths are turned into this machine's
(the working directory, `..\\tmp\\` to `../tmp/`) and its DSN's host into the world's, as a
team would for a rehearsal. The world carries the `width` fault: P1's correction does not
take (a view pins the version column), and P1's post-check fails."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from cockpit.demo.world import World
from cockpit.engine.controller import Controller
from cockpit.engine.headless import Headless, load_answers
from cockpit.runbook.loader import load_runbook
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens import DecisionForm
from tests.conftest import REFERENCE
from tests.engine.helpers import cockpit
from tests.tui.test_operator import settle

ANSWERS = """
[gates]
governance-sign-off-received-documented = "GOV-2026-114"
maintenance-window-active = "CHG-881"
same-migration-commit-tag-as-clone-pass = "clone-pass"
[manual]
structural-parity-accepted-fk-naming = "reviewed both logs"
abort-on-any-unapproved-deviation = "none seen"
abort-if-width-is-not-64 = "width read in P0's log: 64"
abort-on-stamp-error-or-mismatch = "stamp log read"
[decision]
root_cause_classification = "environment: a view pins alembic_version.version_num"
"""


def _rehearsal_runbook(tmp_path: Path, world: World) -> Path:
    text = REFERENCE.read_text(encoding="utf-8")
    text = text.replace("d:\\Projetos\\Netz Private Credit OS\\backend", str(world.backend))
    text = text.replace("..\\tmp\\", "../tmp/")
    text = text.replace("netz-prod-postgres.postgres.database.azure.com:5432",
                        f"127.0.0.1:{world.info.port}")
    checklist = tmp_path / "rehearsal-checklist.md"
    checklist.write_text(text, encoding="utf-8")
    out = tmp_path / "rehearsal.toml"
    done = cockpit("import", str(checklist), "-o", str(out), "--rehearsal")
    assert done.returncode == 0, done.stderr
    toml = out.read_text(encoding="utf-8")
    assert "production = false" in toml and "confirm = " not in toml
    for script in sorted(world.tmp.glob("*.py")):  # pin what the rehearsal approved
        digest = hashlib.sha256(script.read_bytes()).hexdigest()
        toml = toml.replace(f"path = '../tmp/{script.name}'\n",
                            f"path = '../tmp/{script.name}'\nsha256 = '{digest}'\n")
        toml = toml.replace(f'path = "../tmp/{script.name}"\n',
                            f'path = "../tmp/{script.name}"\nsha256 = "{digest}"\n')
    out.write_text(toml, encoding="utf-8")
    assert cockpit("validate", str(out)).returncode == 0
    assert not load_runbook(out).production
    return out


def test_the_imported_reference_records_a_blocker_headless_and_on_screen(
        tmp_path: Path) -> None:
    world = World.build(tmp_path / "world", fault="width")
    try:
        runbook = _rehearsal_runbook(tmp_path, world)
        answers = tmp_path / "answers.toml"
        answers.write_text(ANSWERS, encoding="utf-8")
        # Headless: the halt is recorded as a BLOCKER with the imported field ids.
        env = {k: v for k, v in world.env().items() if k in ("DATABASE_URL", "PG_DSN",
                                                             "PGOPTIONS", "PATH")}
        done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                       "--session", str(tmp_path / "headless"), env=env, timeout=300)
        assert done.returncode == 2, done.stdout[-3000:] + done.stderr
        assert done.stdout.splitlines()[-1] == "DECISION: BLOCKER"
        assert "halted reason=" in done.stdout and "post-check" in done.stdout.lower()
        record = json.loads((tmp_path / "headless" / "evidence" / "decision.json").read_text())
        assert record["fields"]["status"] == "BLOCKER"
        assert record["fields"]["root_cause_classification"].startswith("environment")
        assert record["fields"]["final_revision"] == "0018"  # the halt looked at the database
        assert record["fields"]["heads_state"] == "single head 70a79686336c"
        # On screen: the same runbook, halted the same way, decided from the form.
        ctl = Controller.start(runbook, folder=tmp_path / "screen", env=world.env(),
                               secrets=[world.password])
        plan = load_answers(answers)
        plan.decision = {}  # the screen's operator decides
        Headless(ctl, plan, False, lambda _line: None)._open_gates()
        Headless(ctl, plan, False, lambda _line: None)._run_phases()
        assert ctl.state.halt is not None and ctl.state.decision is None
        _decide_on_screen(ctl)
    finally:
        world.stop()


def _decide_on_screen(ctl: Controller) -> None:
    import asyncio

    async def drive() -> None:
        app = CockpitApp(ctl, clock=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")  # seal the evidence pack, then decide
            await settle(pilot, app)
            await pilot.press("d")
            assert isinstance(app.screen, DecisionForm)
            form = app.screen
            fields = form.fields
            cause = next(i for i, f in enumerate(fields) if f.role == "root_cause")
            form.query_one(f"#f-{cause}").value = "environment: a view on the version table"
            await pilot.press("ctrl+s")
            await settle(pilot, app)
            assert ctl.state.decision is not None, app.screen

    try:
        asyncio.run(drive())
    finally:
        ctl.close()
    assert ctl.state.decision is not None and ctl.state.decision.status == "BLOCKER"
    assert ctl.state.decision.fields["root_cause_classification"].startswith("environment")
    assert os.path.exists(ctl.folder / "evidence" / "decision.md")

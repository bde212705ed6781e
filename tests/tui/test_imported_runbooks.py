"""The screens show any imported runbook: verbatim text, sections in the team's order and a
rollback plan, in the checklist tree and in the halt banner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets.tree import TreeNode

from cockpit.engine.controller import Controller
from cockpit.runbook.importer import import_checklist
from cockpit.runbook.model import HaltItem, Text
from cockpit.runbook.validate import walk_items
from cockpit.tui.app import CockpitApp
from cockpit.tui.checklist import ChecklistTree
from cockpit.tui.preview import RunbookPreviewApp
from tests.engine.helpers import phase, write_world
from tests.tui.test_operator import settle
from tests.waiting import app_idle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checklists"
# A screen per checklist: a few that between them hold text, a preface, a rollback plan and
# a team's own order run in the fast suite; every one under `slow`.
SAMPLE = {"fintech-ledger-four-eyes-alembic", "windows-claims-alembic-cutover",
          "events-id-bigint-widening", "flask-migrate-helpdesk-upgrade"}
CHECKLISTS = [pytest.param(path, id=path.stem, marks=() if path.stem in SAMPLE
                           else pytest.mark.slow)
              for path in sorted(FIXTURES.glob("*.md"))]


def _labels(tree: ChecklistTree) -> list[str]:
    out: list[str] = []

    def walk(node: TreeNode[Any]) -> None:
        out.append(str(node.label))
        for child in node.children:
            walk(child)

    walk(tree.root)
    return out


@pytest.mark.parametrize("path", CHECKLISTS)
async def test_every_imported_checklist_shows_in_the_tree_in_its_own_order(path: Path) -> None:
    runbook = import_checklist(path.read_text(encoding="utf-8"), path.name).runbook
    app = RunbookPreviewApp(runbook, path.name)
    async with app.run_test(size=(120, 40)) as pilot:
        await app_idle(pilot)
        labels = _labels(app.query_one(ChecklistTree))
    headings = [line[3:] for line in path.read_text(encoding="utf-8").split("\n")
                if line.startswith("## ")]
    assert [label for label in labels if label in headings] == headings
    texts = [item for _, item in walk_items(runbook) if isinstance(item, Text)]
    for text in texts:
        assert f"¶ {text.text.split(chr(10))[0]}" in labels


ROLLBACK = """
[rollback]
heading = "Rollback (only if asked)"
items = [
  { kind = "halt", id = "rb-downgrade", text = "`alembic downgrade -1` -> `logs/rollback.log`" },
  { kind = "text", id = "rb-note", text = "Only the DBA on call decides." },
]
"""


async def test_the_halt_banner_lists_the_rollback_plan_after_the_protocol(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("boom", "echo boom")])])
    runbook.write_text(runbook.read_text().replace("[decision]", ROLLBACK + "\n[decision]", 1))
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ), halt_hooks=[])
    ctl.halt("operator stop")
    assert [i.id for i in ctl.runbook.protocol_items()][-1] == "rb-downgrade"
    assert all(isinstance(i, HaltItem) for i in ctl.runbook.protocol_items())
    app = CockpitApp(ctl, clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        banner = str(app.query_one("#halt").render())
    ctl.close()
    assert "alembic downgrade -1" in banner and "Only the DBA" not in banner

"""A checklist line is read whole below the tree when highlighted (the tree cuts it at the
pane's edge), and its detail is text to read: nested values one per line, never a dict."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from cockpit.engine.controller import Controller
from cockpit.tui.app import CockpitApp
from cockpit.tui.checklist import ChecklistTree
from cockpit.tui.screens import TextScreen
from tests.engine.helpers import phase, write_world
from tests.waiting import app_idle

LONG = ("python scripts/forensic_structural_validation_of_the_monthly_report_packs.py "
        "--against reference.json")


async def test_a_highlighted_line_is_shown_whole_and_its_detail_is_text(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("forensic", LONG)], read_only=True)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            tree = app.query_one(ChecklistTree)
            nodes = {id(n.data): n for n in _walk(tree.root) if n.data is not None}
            step = next(n for n in nodes.values() if getattr(n.data, "id", "") == "forensic")
            tree.move_cursor(step)
            await app_idle(pilot)
            whole = str(app.query_one("#item-text", Static).render())
            assert LONG in whole.replace("\n", "")  # the whole command, wrapped not cut
            freeze = next(n for n in nodes.values() if getattr(n.data, "id", "") == "freeze")
            tree.move_cursor(freeze)
            tree.select_node(freeze)
            await app_idle(pilot)
            assert isinstance(app.screen, TextScreen)
            text = app.screen.text
            assert "In the runbook:" in text and "In the session:" in text
            assert "  observed:\n    path: " in text and "{'" not in text
    finally:
        ctl.close()


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def test_a_gates_detail_shows_the_report_its_probe_kept(tmp_path: Path) -> None:
    """The migration risk's table per revision, on screen: the detail of its gate reads the
    Markdown the probe kept in the session."""
    from cockpit.runbook.loader import load_runbook
    from cockpit.session.state import GateState, SessionState

    runbook = load_runbook(write_world(tmp_path, [phase("P0", [("a", "echo a")])]))
    gate = next(g for g in runbook.gates.items if g.id == "freeze")  # any gate will do
    kept = tmp_path / "evidence" / "probes" / "0123456789abcdef-migration-risk.md"
    kept.parent.mkdir(parents=True)
    kept.write_text("# Migration risk: r1 → heads\n\n## r2\n\n| severity | rule |\n")
    state = SessionState(gates={"freeze": GateState(status="failed", observed={
        "blocking": 1, "files": [{"captured": kept.relative_to(tmp_path).as_posix(),
                                  "sha256": "0" * 64, "size": 1}]})})
    text = ChecklistTree("checklist").detail(runbook, state, gate, tmp_path)
    assert "Kept by the probe (evidence/probes/0123456789abcdef-migration-risk.md):" in text
    assert "## r2\n\n| severity | rule |" in text

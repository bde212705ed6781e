"""A `resume` refused because a live cockpit holds the session touches nothing: not the
rehearsal world's password, not its database, not a file — the live cockpit's gates and
next step still connect with the password it holds."""

from __future__ import annotations

from pathlib import Path

import psycopg

from cockpit.demo.session import close_demo, open_demo
from cockpit.engine.headless import load_answers
from cockpit.resources import bundled_runbook
from cockpit.session import rules
from tests.engine.helpers import cockpit
from tests.waiting import finish_running


def _tree(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_a_refused_resume_of_a_live_demo_changes_nothing(tmp_path: Path) -> None:
    world, ctl = open_demo(None, tmp_path / "s", tmp_path / "w")
    try:
        before = _tree(tmp_path / "s", tmp_path / "w" / "tmp") | {
            "world.json": (tmp_path / "w" / "world.json").read_bytes()}
        for extra in ([], ["--take-over"]):
            done = cockpit("resume", str(tmp_path / "s"), "--headless", *extra, timeout=120)
            assert done.returncode == 3, done.stdout + done.stderr
            assert "session is driven by" in done.stderr and "Traceback" not in done.stderr
        after = _tree(tmp_path / "s", tmp_path / "w" / "tmp") | {
            "world.json": (tmp_path / "w" / "world.json").read_bytes()}
        assert after == before
        assert world.cluster.running()
        with psycopg.connect(world.dsn(sqlalchemy=False), connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("netzadmin",)
        # The live cockpit goes on: its gates check the database with its password, and
        # its first step, Alembic over TLS with that password, passes.
        answers = load_answers(bundled_runbook("demo-answers.toml"))
        for gate, reference in answers.gates.items():
            ctl.attest_gate(gate, reference)
        assert ctl.evaluate_gates() == []
        first = rules.next_step(ctl.runbook, ctl.state)
        assert first is not None
        ctl.run_step(first.step.id)
        finish_running(ctl)
        assert ctl.state.steps[first.step.id].status == "passed"
    finally:
        close_demo(world, ctl)

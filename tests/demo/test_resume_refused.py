"""A `resume` refused because a live cockpit holds the session touches nothing: not the
rehearsal world's password, not its database, not a file — the live cockpit's next step
still connects and the run goes on to PASS."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from cockpit.demo.session import close_demo, open_demo
from cockpit.engine.headless import Headless, load_answers
from cockpit.resources import bundled_runbook
from tests.engine.helpers import cockpit


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
        lines: list[str] = []
        answers = load_answers(bundled_runbook("demo-answers.toml"))
        assert Headless(ctl, answers, False, lines.append).drive() == 0, "\n".join(lines[-20:])
    finally:
        close_demo(world, ctl)
    assert json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())[
        "fields"]["status"] == "PASS"

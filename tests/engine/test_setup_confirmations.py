"""A setup line the importer could not type (a `manual` item in `[setup]`) is a required
confirmation before GO (issue #27 item 3): the gates stay closed until the operator confirms
it — headless from the answers file's [manual] table — and the confirmation is an event,
ticked with who and when in the filled checklist."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.session import rules
from tests.engine.helpers import HEAD, ORDINARY, TAIL, cockpit, phase, ran

SETUP = """
[setup]
heading = "Session Setup"
items = [
  { kind = "manual", id = "dsn-line", text = "`DATABASE_URL` set to `ledger_prod` with `sslmode=require`" },
]
"""
# Another database than the one the manual line names: nothing in the cockpit can tell.
CLONE = {"DATABASE_URL": "postgresql://app@localhost:5432/ledger_clone?sslmode=require"}


def _world(tmp_path: Path, production: bool = False) -> Path:
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("write freeze in force\n")
    steps = phase("P0", ORDINARY, confirm="go" if production else None)
    text = HEAD.format(production=str(production).lower()) + SETUP + steps + TAIL
    path = world / "runbook.toml"
    path.write_text(text)
    return path


def _answers(tmp_path: Path, manual: str = "") -> Path:
    path = tmp_path / "answers.toml"
    path.write_text('[gates]\nsignoff = "GOV-1"\n' + (f"[manual]\n{manual}\n" if manual else ""))
    return path


def _events(session: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]


def test_an_unconfirmed_setup_line_keeps_headless_at_no_go(tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--answers", str(_answers(tmp_path)),
                   "--session", str(session), env=CLONE)
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr
    assert "DECISION" not in done.stdout
    assert "NO-GO" in done.stdout and "setup dsn-line" in done.stdout
    assert '[manual] dsn-line = "note"' in done.stdout  # how to answer it
    assert f"cockpit resume {session}" in done.stdout
    assert ran(runbook.parent) == []
    # Answered, the same session goes on to its decision, the confirmation recorded.
    answers = _answers(tmp_path, 'dsn-line = "ledger_prod checked by hand, TLS on"')
    again = cockpit("resume", str(session), "--headless", "--answers", str(answers),
                    "--operator", "dana", env=CLONE)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert again.stdout.splitlines()[-1] == "DECISION: PASS"
    confirmed = [e for e in _events(session) if e["type"] == "setup_confirmed"]
    assert [e["data"] for e in confirmed] == [
        {"item": "dsn-line", "note": "ledger_prod checked by hand, TLS on"}]
    status = cockpit("status", str(session)).stdout
    assert "setup     dsn-line confirmed by dana@" in status
    assert ": ledger_prod checked by hand, TLS on" in status
    report = cockpit("report", str(session)).stdout
    line = next(x for x in report.splitlines() if "ledger_prod" in x and "DATABASE_URL" in x)
    assert line.startswith("- [x] ") and "confirmed" in line and "dana@" in line, line
    assert "ledger_prod checked by hand" in line


def test_an_assumed_confirmation_is_recorded_as_assumed_in_a_rehearsal(tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    confirmed = [e for e in _events(tmp_path / "s") if e["type"] == "setup_confirmed"]
    assert [e["data"] for e in confirmed] == [{"item": "dsn-line", "assumed": True}]


def test_the_rules_name_the_setup_line_until_it_is_confirmed(tmp_path: Path) -> None:
    runbook = _world(tmp_path, production=True)
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={**os.environ, **CLONE})
    try:
        ctl.attest_gate("signoff", "GOV-1")
        assert ctl.evaluate_gates() == ["setup dsn-line (unconfirmed)"]
        now = datetime.now(UTC)
        assert "setup dsn-line" in (rules.refusal_to_run(ctl.runbook, ctl.state, "hello", now)
                                    or "")
        action = rules.next_action(ctl.runbook, ctl.state, now)
        assert action is not None and action.verb == "attest"
        assert "Confirm setup" in action.what and "ledger_prod" in action.what
        assert rules.verb_allowed(ctl.runbook, ctl.state, "attest", now)
        with pytest.raises(ActionRefused, match="production"):
            ctl.confirm_setup("dsn-line", assumed=True)
        with pytest.raises(ActionRefused, match="not a setup line"):
            ctl.confirm_setup("hello", "a phase step is not confirmed here")
        ctl.confirm_setup("dsn-line", "seen: ledger_prod")
        assert ctl.evaluate_gates() == []
        assert rules.item_status(ctl.runbook, ctl.state,
                                 ctl.runbook.setup.items[0]) == "confirmed"  # type: ignore[union-attr]
        with pytest.raises(ActionRefused, match="already confirmed"):
            ctl.confirm_setup("dsn-line", "twice")
    finally:
        ctl.close()

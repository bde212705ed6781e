"""The operator named at start stays the session's operator on `resume`; another, given with
`--operator`, takes over from there, and that change is an event of the session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from tests.engine.helpers import cockpit, phase, write_world

WORLD = [phase("P0", [("hello", "echo hello")], '  { kind = "manual", id = "looked", '
               'text = "Looked" },')]


def _events(session: Path) -> list[dict]:
    return [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]


def test_a_resumed_session_keeps_its_operator_and_records_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_OPERATOR", "login-name")  # who would act by default
    runbook = write_world(tmp_path, WORLD)
    Controller.start(runbook, folder=tmp_path / "s", operator="alice",
                     env=dict(os.environ)).close()
    same = Controller.resume(tmp_path / "s", env=dict(os.environ))
    assert (same.actor.name, same.state.operator) == ("alice", "alice")
    same.attest_gate("signoff", "GOV-1")
    same.close()
    other = Controller.resume(tmp_path / "s", operator="bob", env=dict(os.environ))
    other.attest_gate("signoff", "GOV-2")
    assert other.state.operator == "bob"
    other.close()
    events = _events(tmp_path / "s")
    assert [(e["actor"]["name"], e["data"]) for e in events
            if e["type"] == "operator_changed"] == [("bob", {"previous": "alice",
                                                              "operator": "bob"})]
    assert [e["actor"]["name"] for e in events if e["type"] == "gate_attested"] == [
        "alice", "bob"]
    # bob again, named or not: no change to record
    again = Controller.resume(tmp_path / "s", operator="bob", env=dict(os.environ))
    again.close()
    assert sum(e["type"] == "operator_changed" for e in _events(tmp_path / "s")) == 1


@pytest.mark.slow
def test_the_operator_named_at_start_stays_on_resume_unless_another_is_given(
        tmp_path: Path) -> None:
    """The same through the command line, headless."""
    runbook = write_world(tmp_path, WORLD)
    freeze = runbook.parent / "freeze.log"
    freeze.rename(tmp_path / "freeze.log")  # the freeze gate stays open: the run waits
    session = tmp_path / "s"
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[manual]\nlooked = "seen"\n')
    started = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                      "--session", str(session), "--operator", "alice",
                      env={"COCKPIT_OPERATOR": "login-name"})
    assert started.returncode == 3, started.stdout + started.stderr
    # resumed without --operator: still alice's session, and alice acts
    again = cockpit("resume", str(session), "--headless", "--answers", str(answers),
                    env={"COCKPIT_OPERATOR": "login-name"})
    assert again.returncode == 3, again.stdout + again.stderr
    resumed = [e for e in _events(session) if e["type"] == "session_resumed"]
    assert [e["actor"]["name"] for e in resumed] == ["alice"]
    assert not any(e["type"] == "operator_changed" for e in _events(session))
    # resumed by bob, who says so: recorded, and bob is the operator from then on
    (tmp_path / "freeze.log").rename(freeze)
    done = cockpit("resume", str(session), "--headless", "--answers", str(answers),
                   "--operator", "bob", env={"COCKPIT_OPERATOR": "login-name"})
    assert done.returncode == 0, done.stdout + done.stderr
    events = _events(session)
    changed = [e for e in events if e["type"] == "operator_changed"]
    assert [(e["actor"]["name"], e["data"]) for e in changed] == [
        ("bob", {"previous": "alice", "operator": "bob"})]
    confirmed = next(e for e in events if e["type"] == "manual_confirmed")
    assert confirmed["actor"]["name"] == "bob"
    status = json.loads(cockpit("status", str(session), "--json").stdout)
    assert status["state"]["operator"] == "bob", status

"""The "next" line's source: the rules say what the operator can do now, through a whole
session — gates, steps (with the word to type), a running step, the close, a halt."""

from __future__ import annotations

from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.session import rules
from tests.engine.helpers import phase, write_world
from tests.waiting import finish_running


def _next(ctl: Controller) -> tuple[str | None, str, str | None] | None:
    action = rules.next_action(ctl.runbook, ctl.state, ctl.clock())
    return None if action is None else (action.verb, action.what, action.word)


def test_the_next_action_through_a_session_to_its_decision(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("look", "echo look")], read_only=True),
                                     phase("P1", [("change", "sleep 0.3; echo done")],
                                           confirm="go")])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    try:
        assert _next(ctl) == ("attest", "Attest 'Sign-off received'", None)
        ctl.attest_gate("signoff", "GOV-1")
        assert _next(ctl) == ("gates", "Check the gates and the setup", None)
        (runbook.parent / "freeze.log").unlink()
        ctl.evaluate_gates()
        verb, what, _ = _next(ctl)
        assert verb == "gates" and what.startswith("Fix gate freeze (")
        assert "freeze.log: no such file" in what
        (runbook.parent / "freeze.log").write_text("write freeze in force\n")
        ctl.evaluate_gates()
        assert _next(ctl) == ("run_next", "Run P0 step 1: look", None)
        ctl.run_step("look")
        assert _next(ctl)[0] in ("cancel", "run_next")  # running, or already done
        finish_running(ctl)
        assert _next(ctl) == ("run_next", "Run P1 step 1: change", "go")
        ctl.run_step("change", "go")
        assert _next(ctl) == ("halt", "Wait for change; HALT if an abort condition shows",
                              None)
        finish_running(ctl)
        assert _next(ctl) == ("seal", "Seal the evidence: every phase is complete", None)
        ctl.seal_evidence()
        assert _next(ctl) == ("decision", "Record the decision", None)
        ctl.record_decision({})
        assert _next(ctl) is None
    finally:
        ctl.close()


def test_after_a_halt_the_protocol_then_the_close(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("look", "echo look")], read_only=True)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[])
    try:
        ctl.halt("operator saw drift")
        verb, what, _ = _next(ctl)
        assert verb == "protocol" and what.startswith("Halt protocol: ")
        while (item := rules.open_protocol_item(ctl.runbook, ctl.state)) is not None:
            ctl.complete_halt_item(item.id, "REF-1")
        assert _next(ctl)[0] == "seal"
    finally:
        ctl.close()

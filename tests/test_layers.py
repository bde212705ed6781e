"""The import layers hold: `lint-imports` checks the contracts in pyproject.toml (the
runbook language at the bottom, the command line at the top; the mirror never reaches the
engine; evidence is read from sessions, never from the engine or the probes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "0 broken" in done.stdout and done.stdout.count(" KEPT") >= 3


def _members(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_a_session_view_can_only_read() -> None:
    """The protocol under both screens has no member that appends an event or starts a
    process: every verb of the controller, and anything named like one, is absent."""
    from cockpit.engine.closeout import CloseoutVerbs
    from cockpit.engine.gates import GateVerbs
    from cockpit.engine.steps import StepVerbs
    from cockpit.session.view import SessionView

    members = _members(SessionView) - _members(object) - {"_is_protocol"}
    assert members == {"runbook", "folder", "state", "listeners", "redactor", "running",
                       "log_follower", "catch_up"}
    verbs = set().union(*(set(vars(c)) for c in (GateVerbs, StepVerbs, CloseoutVerbs)))
    verbs |= {"append", "store", "lock", "note_fault", "halt", "close"}
    assert not members & verbs


def test_both_sources_are_session_views() -> None:
    from typing import get_type_hints

    from cockpit.engine.controller import Controller
    from cockpit.mirror.source import MirrorSource
    from cockpit.session.view import SessionView

    members = _members(SessionView) - _members(object)
    for cls in (Controller, MirrorSource):
        hinted = set(get_type_hints(cls)) | set(vars(cls)) | _members(cls)
        assert members <= hinted | {"runbook", "folder", "state", "listeners", "redactor"}, cls
    # the attributes: set in __init__ (the class's or a base's), so looked for in its source
    import inspect

    for cls in (Controller, MirrorSource):
        source = "".join(inspect.getsource(c.__init__) for c in cls.__mro__
                         if c is not object and "__init__" in vars(c))
        for attribute in ("runbook", "folder", "state", "listeners", "redactor"):
            assert f"self.{attribute}" in source or attribute in get_type_hints(cls), \
                (cls, attribute)


def test_no_screen_has_a_verb_it_does_not_offer() -> None:
    """Read-only by construction: the session screen and the mirror's have no verb's action
    at all, and no screen class redefines an action of a class it is built on (so none can
    switch one off)."""
    from cockpit.tui.mirror_app import MirrorApp
    from cockpit.tui.mirror_screen import MirrorScreen
    from cockpit.tui.operator_screen import VERBS, OperatorScreen
    from cockpit.tui.session_app import SessionApp
    from cockpit.tui.session_screen import SessionScreen

    for cls in (SessionScreen, MirrorScreen, MirrorApp, SessionApp):
        assert not {f"action_{verb}" for verb in VERBS} & set(dir(cls)), cls
    for cls in (OperatorScreen, MirrorScreen):
        for name in vars(cls):
            if name.startswith(("action_", "check_action")):
                inherited = [base for base in cls.__mro__[1:] if name in vars(base)
                             and base.__module__.startswith("cockpit.")]
                # check_action may only widen what the base allows (the operator's verbs)
                assert not inherited or (name == "check_action" and cls is OperatorScreen), \
                    (cls, name)

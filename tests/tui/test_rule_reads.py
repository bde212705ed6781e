"""How often the operator's screen asks the rules: once per state change, never per key.
The counts come from a profiler on the screen's own thread (the controller's verbs run in
workers and keep asking the rules per verb, as they must)."""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FunctionType
from typing import Any

from cockpit.engine.controller import Controller
from cockpit.session import rules
from cockpit.tui.app import CockpitApp
from tests.engine.helpers import ordinary_world
from tests.waiting import app_idle, pause_until

# the rules' module before it became a package, or the package's folder after
RULES = Path(rules.__file__).parent if rules.__file__.endswith("__init__.py") \
    else Path(rules.__file__)
MAY_RUN = "refusal_to_run"  # "may run_next run?"


@contextmanager
def rule_calls() -> Iterator[Counter[str]]:
    """Counts each call of a rules function made on this thread (the app's, in run_test):
    every module's name for one, the rules' own included, is wrapped while it lasts."""
    calls: Counter[str] = Counter()
    here = threading.current_thread()
    patched: list[tuple[dict[str, Any], str, Any]] = []

    def counted(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is here:
                calls[fn.__name__] += 1
            return fn(*args, **kwargs)
        return wrapper

    wrapped: dict[Any, Any] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("cockpit") or module is None:
            continue
        space = vars(module)
        for key, value in list(space.items()):
            code = getattr(value, "__code__", None)
            if isinstance(value, FunctionType) and code is not None \
                    and Path(code.co_filename).is_relative_to(RULES):
                if value not in wrapped:
                    wrapped[value] = counted(value)
                patched.append((space, key, value))
                space[key] = wrapped[value]
    try:
        yield calls
    finally:
        for space, key, value in patched:
            space[key] = value


async def test_the_screen_asks_may_run_next_run_at_most_once_per_state_change(
        tmp_path: Path) -> None:
    ctl = Controller.start(ordinary_world(tmp_path), folder=tmp_path / "s",
                           env=dict(os.environ), halt_hooks=[])
    ctl.attest_gate("signoff", "GOV-1")
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await app_idle(pilot)
            with rule_calls() as per_keys:  # no state changes: tabs, and verbs refused
                for key in ("1", "2", "r", "r"):
                    await pilot.press(key)
                await app_idle(pilot)
            keys = 4
            assert ctl.state.steps == {}
            seq = ctl.state.seq
            with rule_calls() as per_events:  # the gates checked, then a step run to its end
                await pilot.press("g")
                await pause_until(pilot, lambda: not app.operator.busy
                                  and "freeze" in ctl.state.gates,
                                  "the gates checked")
                await app.workers.wait_for_complete()
                await app_idle(pilot)
                await pilot.press("r")
                await pause_until(pilot, lambda: ctl.state.steps.get("hello") is not None
                                  and ctl.state.steps["hello"].status == "passed"
                                  and not app.operator.busy, "hello to pass")
                await app.workers.wait_for_complete()
                await app_idle(pilot)
            changes = ctl.state.seq - seq
    finally:
        ctl.close()
    print(f"\nper key ({keys} keys): {sum(per_keys.values())} rule calls, "
          f"{per_keys[MAY_RUN]} of {MAY_RUN}: {dict(per_keys.most_common())}")
    print(f"per events ({changes} events): {sum(per_events.values())} rule calls, "
          f"{per_events[MAY_RUN]} of {MAY_RUN}: {dict(per_events.most_common())}")
    assert changes >= 3
    assert per_keys[MAY_RUN] == 0 and per_keys["overview"] == 0, per_keys
    assert per_events[MAY_RUN] <= changes, per_events
    assert per_events["overview"] <= changes, per_events  # one per state the screen drew
    assert per_events["verb_allowed"] == 0, per_events  # the footer reads the overview
